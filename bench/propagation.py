"""Config propagation: how long from an API write until traffic follows it.

One run starts a Latticework server (a temporary state file, its own fabric
range), one echo target process, and a service reachable from a client VPC
on an HTTP listener. Then, ``--updates`` times, it flips the listener's
default action between "forward to the target" (200) and "fixed response
404" with UpdateListener, and sends requests to the service until the answer
reflects the new action. The time from sending the write to the first
request that follows it is the propagation latency.

The reference, measured in the same run against the same server, is a
read-only API round trip (GetListener): the floor any write -> traffic
sequence pays for one API call and one request. ``--seed N`` first creates
N more services, each with a listener and rules (not associated), so the
compile works on a store of realistic size.

Usage: python bench/propagation.py [--updates 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from latticework.ownpaths_client import vpc_info
from latticework.vpcclient import VpcClient
from topology import one_service, start, start_server

TARGET_READY = re.compile(r"ready \S+ on [\d.]+:(\d+)")
PORT = 8080
FABRIC = "127.121.0.0/16"
DNS_PORT = 5399


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def seed_services(lattice, count: int) -> None:
    fixed = {"fixedResponse": {"statusCode": 404}}
    for n in range(count):
        svc = lattice.create_service(name=f"seed-{n}")["id"]
        listener = lattice.create_listener(serviceIdentifier=svc, name="seed-listener", protocol="HTTP", port=80,
                                           defaultAction=fixed)["id"]
        for p in range(1, 4):
            lattice.create_rule(serviceIdentifier=svc, listenerIdentifier=listener, name=f"seed-rule-{p}", priority=p,
                                match={"httpMatch": {"pathMatch": {"match": {"prefix": f"/{p}"}}}}, action=fixed)


def measure(lattice, client: VpcClient, url: str, svc: str, listener: str, forward: dict, updates: int):
    actions = [({"fixedResponse": {"statusCode": 404}}, 404), (forward, 200)]
    latencies, probes, reads = [], [], []
    for n in range(updates):
        action, wanted = actions[n % 2]
        started = time.perf_counter()
        lattice.update_listener(serviceIdentifier=svc, listenerIdentifier=listener, defaultAction=action)
        tries = 1
        while client.get(url).status != wanted:
            tries += 1
        latencies.append(time.perf_counter() - started)
        probes.append(tries)
        started = time.perf_counter()
        lattice.get_listener(serviceIdentifier=svc, listenerIdentifier=listener)
        client.get(url)
        reads.append(time.perf_counter() - started)
    return latencies, probes, reads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0, help="extra services (listener + 3 rules each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lw-bench-") as state:
        server, endpoint = start_server(Path(state), FABRIC, DNS_PORT)
        target, found = start([sys.executable, "-m", "latticework.targets.echo", "--port", "0", "--name", "t"],
                              TARGET_READY)
        try:
            built = one_service(endpoint, int(found.group(1)), PORT)
            seed_services(built.lattice, args.seed)
            client = VpcClient(vpc_info(endpoint, built.vpc))
            latencies, probes, reads = measure(built.lattice, client, f"http://{built.name}:{PORT}/",
                                               built.service["id"], built.listener, built.forward, args.updates)
            report(latencies, probes, reads, endpoint, args)
        finally:
            for process in (target, server):
                process.terminate()
                process.wait(timeout=10)
    return 0


def report(latencies: list[float], probes: list[int], reads: list[float], endpoint: str, args) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{endpoint}/_latticework/dataplane") as answer:
        plane = json.load(answer)
    ms = lambda v: f"{v * 1000:7.2f} ms"
    print(f"updates: {args.updates}, seeded services: {args.seed}, compile median/max: "
          f"{plane['compileMillisecondsMedian']} / {plane['compileMillisecondsMax']} ms")
    print(f"{'':28s} {'p50':>10s} {'p99':>10s} {'max':>10s}")
    for label, values in (("write -> traffic follows", latencies), ("reference: read + request", reads)):
        print(f"{label:28s} {ms(statistics.median(values))} {ms(percentile(values, 99))} {ms(max(values))}")
    print(f"ratio p99 (write/reference): {percentile(latencies, 99) / percentile(reads, 99):.2f}x; "
          f"requests needed to see the change: max {max(probes)} (1 = the first request after the write)")


if __name__ == "__main__":
    sys.exit(main())
