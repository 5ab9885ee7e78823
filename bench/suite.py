"""The benchmark suite: every section against its reference, measured in one run, one table of ratios.

``make bench`` runs it (``make bench ARGS="--quick"``, ``ARGS="--only l7"``...).
Sections, in the order they run:

=============  ==========================================================================
l7             HTTP/1.1 through Latticework vs HAProxy (same routing) vs direct (l7.py)
l4             the TCP relay vs a direct connection vs HAProxy mode tcp: bulk, new connections (l4.py)
tls            HTTPS termination and h2 over TLS vs HAProxy (l7.py)
control        boto3 create/get/list/mixed vs moto's server (api_throughput.py)
propagation    API write -> first request that follows it, 10 and 1,000 services (propagation.py)
scale          route lookup and one-change compile at 10,000 services; server RSS (scale.py)
=============  ==========================================================================

Everything runs on loopback (127.0.0.0/8); every server gets its own state
directory, a /20 of 127.200.0.0/16 and resolver port 25353. Every process the
suite starts is stopped when it ends, also on Ctrl-C, SIGTERM, a failure or
when ``--budget`` seconds have passed. The table goes to stdout, progress to
stderr, and everything measured to ``--out`` (bench/results/latest.json).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH, Processes, Row, ensure_tools, fabric, say, skipped, write_json  # noqa: E402

SECTIONS = ("l7", "auth", "tls", "l4", "control", "propagation", "scale")
TITLES = {"l7": "L7 HTTP", "auth": "L7 auth", "tls": "HTTPS/h2", "l4": "L4 TCP", "control": "control plane",
          "propagation": "propagation", "scale": "scale"}  # as the sections name themselves in the table
NEEDS = {"l7": ("haproxy", "wrk"), "auth": ("haproxy", "wrk"), "tls": ("haproxy", "h2load"),
         "l4": ("haproxy", "wrk", "iperf3")}
FIXTURES = {"proxies": ("l7", "auth", "tls"), "small": ("propagation", "scale"), "fleet": ("propagation", "scale")}


class OutOfTime(Exception):
    pass


class Context:
    """What a section gets: the processes registry, a work directory, the mode, shared fixtures."""

    def __init__(self, work: Path, quick: bool, tools: dict[str, bool]):
        self.work, self.quick, self.tools = work, quick, tools
        self.processes = Processes()
        self.raw: dict[str, dict] = {}
        self._fixtures: dict[str, object] = {}
        self._owned: dict[str, list] = {}

    def seconds(self, full: float, quick: float) -> float:
        return quick if self.quick else full

    def rounds(self) -> int:
        """Runs of each load measurement (interleaved, the best kept): the machine may be busy meanwhile."""
        return 1 if self.quick else 2

    def fixture(self, name: str):
        """A fixture shared by sections, built on first use (its processes stopped by ``release``)."""
        if name not in self._fixtures:
            before = list(self.processes.running)
            say(f"  building fixture {name}...")
            started = time.monotonic()
            try:
                self._fixtures[name] = BUILDERS[name](self)
            except Exception as exc:
                self._fixtures[name] = exc  # a second section gets the same failure, not a second attempt
                raise
            finally:
                self._owned[name] = [p for p in self.processes.running if p not in before]
                if isinstance(self._fixtures[name], Exception):
                    self.release(name)
            say(f"  fixture {name} ready in {time.monotonic() - started:.0f} s")
        if isinstance(self._fixtures[name], Exception):
            raise RuntimeError(f"fixture {name} could not be built: {self._fixtures[name]}")
        return self._fixtures[name]

    def release(self, name: str) -> None:
        for process in self._owned.pop(name, []):
            self.processes.stop(process)


def _proxies(ctx: Context):
    import l7
    return l7.build(ctx.processes, ctx.work / "l7", fabric(0), fabric(4))


def _small(ctx: Context):
    import propagation
    return propagation.build(ctx, "small", 10, fabric(1))


def _fleet(ctx: Context):
    import propagation
    return propagation.build(ctx, "fleet", 100 if ctx.quick else 1000, fabric(2))


BUILDERS = {"proxies": _proxies, "small": _small, "fleet": _fleet}


def run_section(name: str, ctx: Context) -> list[Row]:
    missing = [t for t in NEEDS.get(name, ()) if not ctx.tools.get(t)]
    if missing:
        return [skipped(TITLES[name], "the whole section", f"{', '.join(missing)} missing")]
    if name == "l7":
        import l7
        return l7.run_http(ctx)
    if name == "auth":
        import auth
        return auth.run(ctx)
    if name == "tls":
        import l7
        return l7.run_tls(ctx)
    if name == "l4":
        import l4
        return l4.run(ctx)
    if name == "control":
        import api_throughput
        return api_throughput.run(ctx)
    if name == "propagation":
        import propagation
        return propagation.run(ctx)
    import scale
    return scale.run(ctx)


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "kernel": platform.release()}


# -- the table -------------------------------------------------------------------------------------

def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("req/s", "calls/s", "conn/s", "MB/s"):
        return f"{value:,.0f} {unit}"
    if unit == "MB":
        return f"{value:,.1f} MB"
    if unit in ("ms", "µs"):
        return f"{value:,.3f} {unit}" if value < 1 else f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{value:,.2f} {unit}"


def table(rows: list[Row]) -> str:
    header = ("section", "compared", "Latticework", "reference", "ratio", "goal", "")
    lines = []
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x" if r.ratio < 100 else f"{r.ratio:.0f}x"
        mark = "" if r.met is None else ("met" if r.met else "MISSED")
        if r.note:
            mark = f"{mark} ({r.note})" if mark else f"({r.note})"
        lines.append((r.section, r.what, fmt(r.ours, r.unit), fmt(r.reference, r.unit), ratio,
                      r.goal.text() if r.goal else "", mark))
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(len(header))]
    out = [" | ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip(),
           "-+-".join("-" * w for w in widths)]
    out += [" | ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    return "\n".join(out)


def markdown(rows: list[Row]) -> str:
    """The same table in Markdown (for the README), written beside the JSON."""
    lines = ["| section | compared | Latticework | reference | ratio | goal | |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x" if r.ratio < 100 else f"{r.ratio:.0f}x"
        mark = "" if r.met is None else ("met" if r.met else "**missed**")
        if r.note:
            mark = f"{mark} ({r.note})" if mark else f"({r.note})"
        goal = (r.goal.text() if r.goal else "")
        lines.append(f"| {r.section} | {r.what} | {fmt(r.ours, r.unit)} | {fmt(r.reference, r.unit)} | {ratio} | "
                     f"{goal} | {mark} |")
    return "\n".join(lines) + "\n"


# -- main --------------------------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: short runs, small fleets")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "latest.json", help="JSON results file")
    parser.add_argument("--budget", type=float, default=840, help="stop everything after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, state) afterwards")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    sections = [s for s in SECTIONS if not args.only or s in args.only]
    started = time.monotonic()

    def stop(signum, _frame):
        if signum == signal.SIGALRM:
            raise OutOfTime(f"the budget of {args.budget:.0f} s is spent")
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
        signal.signal(signum, stop)  # SIGINT too: a shell may have started the suite with it ignored
    signal.alarm(int(args.budget))
    work = Path(tempfile.mkdtemp(prefix="lw-bench-"))
    say(f"Latticework benchmark suite: {', '.join(sections)}{' (quick)' if args.quick else ''}; work directory {work}")
    tools = ensure_tools(work / "apt.log") if set(NEEDS) & set(sections) else {}
    ctx = Context(work, args.quick, tools)
    rows: list[Row] = []
    failed = False
    try:
        for i, name in enumerate(sections):
            say(f"[{time.monotonic() - started:5.0f} s] {name}")
            try:
                rows += run_section(name, ctx)
            except (KeyboardInterrupt, OutOfTime):
                raise
            except Exception as exc:  # one broken section does not hide the others' results
                failed = True
                traceback.print_exc()
                rows.append(skipped(TITLES[name], "the whole section", " ".join(f"failed: {type(exc).__name__}: {exc}".split())[:200]))
            later = set(sections[i + 1:])
            for fixture, users in FIXTURES.items():
                if not later & set(users):
                    ctx.release(fixture)
    except (KeyboardInterrupt, OutOfTime) as exc:
        failed = True
        say(f"interrupted ({str(exc) or 'SIGINT'}): stopping everything the suite started")
    finally:
        signal.alarm(0)
        ctx.processes.stop_all()
    elapsed = time.monotonic() - started
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join(["bench/suite.py", *(argv if argv is not None else sys.argv[1:])]),
              "quick": args.quick, "sections": sections, "complete": not failed, "seconds": round(elapsed),
              "machine": machine(),
              "rows": [r.as_json() for r in rows], "raw": ctx.raw}
    write_json(args.out, result)
    args.out.with_suffix(".md").write_text(markdown(rows))
    m = result["machine"]
    print(f"\nLatticework benchmark suite{' (quick)' if args.quick else ''}: {m['cpus']} CPUs ({m['cpu_model']}), "
          f"loopback, {elapsed:.0f} s. Ratio = Latticework / reference unless the row says otherwise.\n")
    print(table(rows))
    print(f"\nresults: {args.out} (table: {args.out.with_suffix('.md')})")
    if not args.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work directory kept: {work}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
