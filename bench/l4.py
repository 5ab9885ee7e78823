"""The ``l4`` section: the TCP relay (latticework.dataplane.relay) vs a direct connection vs HAProxy ``mode tcp``.

Three paths to the same targets, all on loopback:

- **direct**: the client connects to the target itself;
- **relay**: ``relay_harness.py``, a listening socket whose connections are
  relayed by ``latticework.dataplane.relay`` (splice), in one uvloop process
  per CPU sharing the port (SO_REUSEPORT), as the data plane's workers do; a
  second harness with ``--copy`` measures the buffered path, for scale;
- **HAProxy**: Debian's, as packaged (a thread per CPU), ``mode tcp`` with
  ``option splice-auto`` (HAProxy's zero-copy path, its best for bulk);
- **interface endpoint**: the data plane itself (``latticework up``, a worker
  per CPU): a consumer VPC's interface endpoint to an endpoint service whose
  network load balancer forwards to the target (``privatelink.py``); the
  client connects to the endpoint's interface address, as a client in the
  consumer VPC does.

Rows:

- **bulk throughput**: ``iperf3`` (Debian's package, C: the sender and
  receiver are never what limits the figure), one TCP stream, client ->
  target and target -> client (``-R``), MB/s. The iperf3 server is the target;
  its control connection goes through the path too.
- **new connections per second**: ``wrk -t1 -c32 -H "Connection: close"``
  against an HTTP target (one HAProxy thread answering every request itself,
  ``http-request return``): each request opens a connection through the path,
  sends one small request, reads one small answer, and both sides close.

Runs are interleaved and the best of ``ctx.rounds()`` kept (``l7.best_of``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

from common import (BENCH, Goal, Load, Row, fabric, free_port, plural, say, skipped, wait_for_line, wait_port,
                    wrk)
from l7 import FLOOR, best_of, faster, start_haproxy
from privatelink import interface_endpoint

SECTION = "L4 TCP"
MB = 1_000_000
LOCAL = "127.0.0.1"
ENDPOINT = "interface endpoint"
PYTHON_FLOOR = "python floor"

Path = tuple[str, int]  # where a client connects: (address, port)


def haproxy_config(frontends: dict[int, int]) -> str:
    """``mode tcp`` frontends: listening port -> target port."""
    parts = ["global\n    maxconn 4096\ndefaults\n    mode tcp\n    option splice-auto\n    timeout client 350s\n"
             "    timeout server 350s\n    timeout connect 5s\n"]
    for listen, target in frontends.items():
        parts.append(f"listen relay-{listen}\n    bind 127.0.0.1:{listen}\n    server t 127.0.0.1:{target}\n")
    return "".join(parts)


def target_config(port: int) -> str:
    return f"""global
    maxconn 4096
    nbthread 1
defaults
    mode http
    timeout client 60s
    timeout server 60s
    timeout connect 5s
frontend target
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain string "ok"
"""


def start_harness(ctx, name: str, listen: int, target: int, *extra: str) -> None:
    log = ctx.work / "l4" / f"{name}.log"
    env = {**os.environ, "PYTHONPATH": str(BENCH.parent / "src")}
    process = ctx.processes.start([sys.executable, str(BENCH / "relay_harness.py"), str(listen), str(target), *extra],
                                  log, env)
    wait_for_line(process, log, re.compile(r"^ready$", re.M))


def iperf3(path: Path, seconds: float, reverse: bool) -> Load:
    """One iperf3 stream through ``path`` for ``seconds``; the rate is MB/s received."""
    cmd = ["iperf3", "-c", path[0], "-p", str(path[1]), "-t", str(max(1, round(seconds))), "-J",
           *(["-R"] if reverse else [])]
    for attempt in range(3):  # the iperf3 server takes one test at a time: one just ended may still hold it
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
        report = None
        try:
            report = json.loads(done.stdout)
            received = report["end"]["sum_received"]
            return Load(received["bits_per_second"] / 8 / MB, 0.0, 0.0, 0, 1)
        except (ValueError, KeyError):
            error = report.get("error", "") if isinstance(report, dict) else ""
            say(f"  iperf3 through {path[0]}:{path[1]} failed (attempt {attempt + 1}): {error or done.stderr[-500:]}")
            time.sleep(1)
    raise RuntimeError(f"iperf3 failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")


def build(ctx) -> dict[str, dict[str, Path]]:
    """The targets and the paths to them: kind ("bulk", "rate") -> label -> (address, port)."""
    work = ctx.work / "l4"
    work.mkdir(parents=True, exist_ok=True)
    iperf_port, http_port = free_port(), free_port()
    iperf_log = work / "iperf3.log"
    ctx.processes.start(["iperf3", "-s", "-p", str(iperf_port)], iperf_log)
    start_haproxy(ctx.processes, work, "target", target_config(http_port), [http_port])
    ports: dict[str, dict[str, int]] = {"bulk": {"direct": iperf_port}, "rate": {"direct": http_port}}
    for kind, target in (("bulk", iperf_port), ("rate", http_port)):
        ports[kind]["relay"] = free_port()
        start_harness(ctx, f"relay-{kind}", ports[kind]["relay"], target)
        ports[kind]["relay, copying"] = free_port()
        start_harness(ctx, f"relay-copy-{kind}", ports[kind]["relay, copying"], target, "--copy")
        ports[kind]["haproxy"] = free_port()
    start_haproxy(ctx.processes, work, "haproxy", haproxy_config({ports["bulk"]["haproxy"]: iperf_port,
                                                                  ports["rate"]["haproxy"]: http_port}),
                  [ports["bulk"]["haproxy"], ports["rate"]["haproxy"]])
    if FLOOR.exists():  # what a bare Python proxy (uvloop, no features) manages, a connection per connection
        ports["rate"][PYTHON_FLOOR] = free_port()
        ctx.processes.start([sys.executable, str(FLOOR), str(ports["rate"][PYTHON_FLOOR]), str(http_port)],
                            work / "floor.log")
        wait_port(LOCAL, ports["rate"][PYTHON_FLOOR])
    wait_port(LOCAL, iperf_port)
    paths = {kind: {label: (LOCAL, port) for label, port in by_label.items()} for kind, by_label in ports.items()}
    address, listeners = interface_endpoint(ctx.processes, work / "privatelink", fabric(5),
                                            {"bulk": iperf_port, "rate": http_port})
    for kind, port in listeners.items():
        paths[kind][ENDPOINT] = (address, port)
    return paths


def run(ctx) -> list[Row]:
    paths = build(ctx)
    seconds, rounds = ctx.seconds(8, 3), ctx.rounds()
    ctx.raw[SECTION] = raw = {"seconds": seconds, "rounds": rounds, "runs": {}}
    rows: list[Row] = []
    for reverse in (False, True):
        way = "target -> client" if reverse else "client -> target"
        labels = list(paths["bulk"])
        for warm in ("relay", ENDPOINT):
            iperf3(paths["bulk"][warm], 1, reverse)  # warm-up
        best, every = best_of(rounds, labels, lambda label: iperf3(paths["bulk"][label], seconds, reverse), faster)
        for label, load in best.items():
            raw["runs"][f"bulk {way} {label}"] = every[label]
            say(f"  {SECTION} bulk {way} {label:18s} {load.rate:9.0f} MB/s  (best of {rounds})")
        rows += [Row(SECTION, f"bulk MB/s, one stream {way}: {ENDPOINT} / direct", best[ENDPOINT].rate,
                     best["direct"].rate, "MB/s", Goal(">=", 0.9)),
                 Row(SECTION, f"bulk MB/s, one stream {way}: {ENDPOINT} / HAProxy", best[ENDPOINT].rate,
                     best["haproxy"].rate, "MB/s"),
                 Row(SECTION, f"bulk MB/s, one stream {way}: relay / direct", best["relay"].rate,
                     best["direct"].rate, "MB/s", Goal(">=", 0.9)),
                 Row(SECTION, f"bulk MB/s, one stream {way}: relay / HAProxy", best["relay"].rate,
                     best["haproxy"].rate, "MB/s"),
                 Row(SECTION, f"bulk MB/s, one stream {way}: relay copying / splicing (for scale)",
                     best["relay, copying"].rate, best["relay"].rate, "MB/s"),
                 Row(SECTION, f"bulk MB/s, one stream {way}: HAProxy / direct (for scale)",
                     best["haproxy"].rate, best["direct"].rate, "MB/s")]
    rows += connection_rate(ctx, paths["rate"], seconds, rounds, raw)
    return rows


def connection_rate(ctx, paths: dict[str, Path], seconds: float, rounds: int, raw: dict) -> list[Row]:
    def url(label: str) -> str:
        return f"http://{paths[label][0]}:{paths[label][1]}/"

    def measure(label: str) -> Load:
        return wrk(url(label), seconds, 32, script="close.lua")

    for label in paths:
        wrk(url(label), 1, 32, script="close.lua")  # warm-up
    best, every = best_of(rounds, list(paths), measure, faster)
    for label, load in best.items():
        raw["runs"][f"connections {label}"] = every[label]
        say(f"  {SECTION} new connections {label:18s} {load.rate:9.0f} conn/s  p99 {load.p99:7.2f} ms  "
            f"errors {load.errors}  (best of {rounds})")
    errors = best["relay"].errors + best["haproxy"].errors
    through = best[ENDPOINT].errors
    return [Row(SECTION, f"new connections/s, 32 at a time: {ENDPOINT} / HAProxy", best[ENDPOINT].rate,
                best["haproxy"].rate, "conn/s", Goal(">=", 0.8), plural(through, "error") if through else ""),
            Row(SECTION, f"new connections/s, 32 at a time: {ENDPOINT} / direct", best[ENDPOINT].rate,
                best["direct"].rate, "conn/s"),
            Row(SECTION, f"p99 of a connection's exchange, 32 at a time: {ENDPOINT} / HAProxy", best[ENDPOINT].p99,
                best["haproxy"].p99, "ms"),
            Row(SECTION, "new connections/s, 32 at a time: relay / HAProxy", best["relay"].rate,
                best["haproxy"].rate, "conn/s", Goal(">=", 0.8), plural(errors, "error") if errors else ""),
            Row(SECTION, "new connections/s, 32 at a time: relay / direct", best["relay"].rate,
                best["direct"].rate, "conn/s"),
            Row(SECTION, "p99 of a connection's exchange, 32 at a time: relay / HAProxy", best["relay"].p99,
                best["haproxy"].p99, "ms"),
            *floor_rows(best)]


def floor_rows(best: dict[str, Load]) -> list[Row]:
    """The data plane against a bare Python proxy's new connections (``FLOOR``), and that proxy against HAProxy:
    what Python allows here, for scale."""
    if PYTHON_FLOOR not in best:
        return [skipped(SECTION, "new connections/s: python floor",
                        f"{FLOOR} is absent (it lives outside the repository)")]
    floor = best[PYTHON_FLOOR]
    return [Row(SECTION, f"new connections/s, 32 at a time: {ENDPOINT} / python floor (for scale)",
                best[ENDPOINT].rate, floor.rate, "conn/s"),
            Row(SECTION, "new connections/s, 32 at a time: python floor / HAProxy (for scale)", floor.rate,
                best["haproxy"].rate, "conn/s", note=plural(floor.errors, "error") if floor.errors else "")]

