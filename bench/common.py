"""What every section of the benchmark suite shares.

- ``Processes``: every process the suite starts, each in its own session, so
  one ``stop_all`` (also on Ctrl-C, SIGTERM, a failure or the time budget
  running out) ends exactly those, by process id: terminate, then kill.
- ``Row``: one line of the suite's table: what is compared, the two measured
  values, their ratio and the goal it is held to.
- Load generators: ``wrk`` (HTTP/1.1) and ``h2load`` (HTTPS, h2) with their
  output parsed; ``/proc`` readers for CPU time and resident memory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "lua"

# Loopback only: every server of the suite carves its VPC addresses from this range (a /20 each), and its
# VPC resolvers answer on this port. Nothing else on the host uses either.
FABRIC = "127.200.0.0/16"
DNS_PORT = 25353


def fabric(n: int) -> str:
    """The n-th /20 of the suite's range: servers that may overlap in time never share addresses."""
    return f"127.200.{16 * n}.0/20"


# -- processes -------------------------------------------------------------------------------------

class Processes:
    """Every process the suite started; ``stop_all`` ends them (and only them)."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        with log.open("ab") as out:
            process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, env=env)
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self.running)):
            self.stop(process)


def wait_for_line(process: subprocess.Popen, log: Path, pattern: re.Pattern, timeout: float = 60) -> re.Match:
    """Wait until the process's log has a line matching ``pattern``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pattern.search(log.read_text(errors="replace"))
        if found:
            return found
        if process.poll() is not None:
            break
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"{Path(process.args[0]).name} did not become ready (log {log}):\n{tail}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# -- /proc ------------------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and its descendants (a server's data-plane workers compile every
    write too), from /proc/<pid>/stat (None where unavailable). Descendants that exited are not counted."""
    total = 0.0
    for p in descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            if p == pid:
                return None
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (data-plane workers, once there are any)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(parents.get(current, ()))
    return found


def rss_bytes(pid: int, children: bool = True) -> int:
    """Resident memory of a process and (unless ``children`` is false) its descendants (VmRSS, /proc/<pid>/status)."""
    total = 0
    for p in descendants(pid) if children else [pid]:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(found.group(1)) * 1024 if found else 0
    return total


# -- numbers ----------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class Goal:
    """A goal on a ratio (``ratio``) or on the measured value itself (``value``): ``op`` is <= >= or <."""

    op: str
    bound: float
    on: str = "ratio"  # ratio | value
    unit: str = "x"

    def text(self) -> str:
        sign = {"<=": "≤", ">=": "≥", "<": "<"}[self.op]
        return f"{sign} {self.bound:g}{'x' if self.on == 'ratio' else ' ' + self.unit}"

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        x = ratio if self.on == "ratio" else value
        if x is None:
            return None
        return {"<=": x <= self.bound, ">=": x >= self.bound, "<": x < self.bound}[self.op]


@dataclass
class Row:
    """One compared figure: Latticework's value, the reference's, the ratio ours/reference and the goal."""

    section: str
    what: str  # what is measured, and against which reference
    ours: float | None
    reference: float | None
    unit: str
    goal: Goal | None = None
    note: str = ""
    ratio: float | None = field(default=None)
    met: bool | None = field(default=None)

    def __post_init__(self) -> None:
        if self.ratio is None and self.ours is not None and self.reference:
            self.ratio = self.ours / self.reference
        if self.goal is not None:
            self.met = self.goal.met(self.ours, self.ratio)

    def as_json(self) -> dict:
        out = asdict(self)
        out["goal"] = self.goal.text() if self.goal else None
        return out


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def skipped(section: str, what: str, why: str) -> Row:
    return Row(section, what, None, None, "", note=f"skipped: {why}")


# -- tools --------------------------------------------------------------------------------------------

DEBIAN_PACKAGES = {"haproxy": "haproxy", "wrk": "wrk", "h2load": "nghttp2-client", "iperf3": "iperf3"}


def ensure_tools(log: Path) -> dict[str, bool]:
    """Find haproxy, wrk, h2load and iperf3; install the missing ones from Debian's packages when root."""
    missing = [tool for tool in DEBIAN_PACKAGES if shutil.which(tool) is None]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        packages = sorted({DEBIAN_PACKAGES[t] for t in missing})
        say(f"installing {' '.join(packages)} (apt-get; log {log})")
        with log.open("ab") as out:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update"], stdout=out, stderr=subprocess.STDOUT, env=env, timeout=300)
            subprocess.run(["apt-get", "install", "-y", *packages], stdout=out, stderr=subprocess.STDOUT,
                           env=env, timeout=600)
    found = {tool: shutil.which(tool) is not None for tool in DEBIAN_PACKAGES}
    still = [t for t, ok in found.items() if not ok]
    if still:
        packages = " ".join(sorted({DEBIAN_PACKAGES[t] for t in still}))
        say(f"missing {', '.join(still)}: the sections that need them are skipped. "
            f"Install with: sudo apt-get install {packages}")
    return found


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- load generators ----------------------------------------------------------------------------------

@dataclass
class Load:
    """One load run: achieved rate, latency percentiles (ms), errors (non-2xx or failed requests)."""

    rate: float
    p50: float
    p99: float
    errors: int
    requests: int
    detail: str = ""  # the tool's own count of requests and errors, when it has errors to explain

    def as_json(self) -> dict:
        return asdict(self)


def wrk(url: str, seconds: float, connections: int, host: str | None = None, script: str = "mix.lua",
        rate: float | None = None, signed: Path | None = None) -> Load:
    """``wrk -t1`` (keep-alive) with one of bench/lua's request scripts; ``rate`` paces it (paced.lua);
    ``signed`` names the requests signed.lua sends."""
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--latency",
           "-s", str(LUA / script), url]
    if host:
        cmd[1:1] = ["-H", f"Host: {host}"]
    env = {**os.environ, **({"BENCH_RATE": f"{rate:.1f}"} if rate else {}),
           **({"BENCH_SIGNED": str(signed)} if signed else {})}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, env=env)
    out = done.stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({done.returncode}): {out[-2000:]} {done.stderr[-2000:]}")
    latency = {p: _ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1)) for p in ("50", "99")}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    detail = " ".join(line.strip() for line in out.splitlines() if "Socket errors" in line or "Non-2xx" in line)
    return Load(float(found.group(1)), latency["50"], latency["99"], errors, int(total.group(1)) if total else 0,
                detail)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def h2load(urls: list[str], seconds: float, clients: int, streams: int, h1: bool, connect_to: str | None,
           work: Path) -> Load:
    """``h2load -t1`` over TLS for ``seconds`` (after a 1 s warm-up); percentiles from its per-request log."""
    log = work / f"h2load-{time.monotonic_ns()}.tsv"
    cmd = ["h2load", "-t", "1", "-c", str(clients), "-m", str(streams), "-D", str(max(1, round(seconds))),
           "--warm-up-time", "1", "--log-file", str(log), *(["--h1"] if h1 else []),
           *(["--connect-to", connect_to] if connect_to else []), *urls]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout
    found = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    if not found:
        raise RuntimeError(f"h2load failed ({done.returncode}): {out[-2000:]} {done.stderr[-2000:]}")
    times = [int(parts[2]) / 1000 for parts in (line.split("\t") for line in log.read_text().splitlines())
             if len(parts) >= 3]
    # Errors as h2load's summary counts them: failed, errored and timed-out requests, and 4xx/5xx answers. Its
    # per-request log can disagree with the summary by a request at the end of the warm-up.
    counts = re.search(r"requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored, "
                       r"(\d+) timeout", out)
    codes = re.search(r"status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx", out)
    errors = sum(int(n) for m in (counts, codes) if m for n in m.groups())
    log.unlink(missing_ok=True)
    if not times:
        raise RuntimeError(f"h2load completed no request: {out[-2000:]}")
    detail = " ".join(line.strip() for line in out.splitlines()
                      if line.startswith(("requests:", "status codes:"))) if errors else ""
    return Load(float(found.group(1)), percentile(times, 50), percentile(times, 99), errors, len(times), detail)


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=lambda o: o.as_json() if hasattr(o, "as_json") else str(o))
                    + "\n")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started
