"""Data-plane throughput: requests through a Lattice service vs HAProxy vs a direct connection.

One run, one machine, loopback only. The target is an HAProxy frontend that
answers every request itself (200, a short body), so the target is never the
bottleneck. ``wrk`` then drives, for ``--duration`` seconds each with
``--connections`` keep-alive connections:

1. direct: wrk -> target (the floor);
2. HAProxy: wrk -> an HAProxy proxy -> target (the reference proxy);
3. Latticework: wrk -> the VPC's Lattice address (Host: the service's name)
   -> HTTP listener -> rule -> target group -> target.

It prints requests per second and latency percentiles for each, and the
ratios of Latticework to the others. Needs ``haproxy`` and ``wrk`` on PATH
(Debian: ``apt-get install haproxy wrk``).

Usage: python bench/dataplane_throughput.py [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from latticework.ownpaths_client import vpc_info
from topology import one_service, start_server

FABRIC = "127.124.0.0/16"
LISTENER_PORT = 8080
DNS_PORT = 5398


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def haproxy(config: str, directory: Path, name: str) -> subprocess.Popen:
    path = directory / f"{name}.cfg"
    path.write_text(config)
    return subprocess.Popen(["haproxy", "-f", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


HAPROXY_DEFAULTS = """global
    maxconn 4096
defaults
    mode http
    timeout client 30s
    timeout server 30s
    timeout connect 5s
    option http-keep-alive
"""


def target_config(port: int) -> str:
    return HAPROXY_DEFAULTS + f"""frontend target
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain string "ok from the target"
"""


def proxy_config(port: int, target: int) -> str:
    return HAPROXY_DEFAULTS + f"""frontend proxy
    bind 127.0.0.1:{port}
    default_backend targets
backend targets
    http-reuse always
    server t1 127.0.0.1:{target}
"""


def wrk(url: str, duration: int, connections: int, host: str | None = None) -> dict:
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--latency", url]
    if host:
        cmd[1:1] = ["-H", f"Host: {host}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: _ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1)) for p in ("50", "99")}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rate": rate, **latency, "errors": int(errors.group(1)) if errors else 0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    missing = [tool for tool in ("haproxy", "wrk") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"needs {' and '.join(missing)} on PATH (Debian: apt-get install haproxy wrk)")
    with tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp:
        directory = Path(tmp)
        target_port, proxy_port = free_port(), free_port()
        processes = [haproxy(target_config(target_port), directory, "target"),
                     haproxy(proxy_config(proxy_port, target_port), directory, "proxy")]
        try:
            server, endpoint = start_server(directory, FABRIC, DNS_PORT)
            processes.append(server)
            for port in (target_port, proxy_port):
                wait_port("127.0.0.1", port)
            built = one_service(endpoint, target_port, LISTENER_PORT)
            address, name = vpc_info(endpoint, built.vpc).lattice, built.name
            results = {
                "direct": wrk(f"http://127.0.0.1:{target_port}/", args.duration, args.connections),
                "haproxy": wrk(f"http://127.0.0.1:{proxy_port}/", args.duration, args.connections),
                "latticework": wrk(f"http://{address}:{LISTENER_PORT}/", args.duration, args.connections, name),
            }
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=10)
    report(results, args)
    return 0


def report(results: dict, args) -> None:
    print(f"{args.connections} keep-alive connections, {args.duration} s each, 1 wrk thread, loopback, 2 CPUs")
    print(f"{'path':14s} {'requests/s':>12s} {'p50 ms':>8s} {'p99 ms':>8s} {'non-2xx':>8s}")
    for label, r in results.items():
        print(f"{label:14s} {r['rate']:12.0f} {r['50']:8.2f} {r['99']:8.2f} {r['errors']:8d}")
    ours = results["latticework"]["rate"]
    print(f"latticework/haproxy throughput: {ours / results['haproxy']['rate']:.2f}x; "
          f"latticework/direct: {ours / results['direct']['rate']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
