"""Config propagation: how long from an API write until traffic follows it, with 10 and 1,000 services.

Each of the two fixtures (built by ``build``, shared with scale.py) is a server
of its own, one echo target (``latticework.targets.echo``) and a service
reachable from a client VPC on an HTTP listener (8080) forwarding to it, plus
more services in the same service network, so that the client VPC reaches
every one of them (``topology.add_services``: a listener, three rules and a
target group each; 10,000 targets in all at 1,000 services). ``--quick``
builds 100 services instead of 1,000.

The measurement flips the listener's default action between "forward to the
target" (200) and "fixed response 404" with UpdateListener, ``updates`` times,
and sends requests (``VpcClient``: through the VPC's resolver and Lattice
address, keep-alive) until the answer follows; the time from sending the write
to that answer is the propagation latency. The reference, measured in the
same run against the same server, is a read (GetListener) plus one request:
the floor of any API call followed by a request.
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.request
from dataclasses import dataclass

from common import Goal, Row, percentile, say, wait_for_line
from latticework.ownpaths_client import vpc_info
from latticework.vpcclient import VpcClient
from topology import Server, Topology, add_services, client, one_service, start_server

TARGET_READY = re.compile(r"ready \S+ on [\d.]+:(\d+)")
PORT = 8080
TARGETS_PER_SERVICE = 10


@dataclass
class Fleet:
    server: Server
    topology: Topology
    client: VpcClient
    services: int
    targets: int
    seconds: float  # to build it through the API


def build(ctx, name: str, services: int, fabric: str) -> Fleet:
    directory = ctx.work / name
    server = start_server(ctx.processes, directory, fabric)
    log = directory / "target.log"
    target = ctx.processes.start([sys.executable, "-m", "latticework.targets.echo", "--port", "0", "--name", "t"], log)
    port = int(wait_for_line(target, log, TARGET_READY).group(1))
    started = time.monotonic()
    topology = one_service(server.url, port, PORT)
    targets = services * TARGETS_PER_SERVICE - 1  # the first service has its one echo target
    add_services(topology, services - 1, targets)
    seconds = time.monotonic() - started
    say(f"  {name}: {services} services, {targets + 1} targets built through the API in {seconds:.0f} s")
    return Fleet(server, topology, VpcClient(vpc_info(server.url, topology.vpc)), services, targets + 1, seconds)


def measure(fleet: Fleet, updates: int) -> dict:
    lattice = client(fleet.server.url, "vpc-lattice")
    t = fleet.topology
    url = f"http://{t.name}:{PORT}/"
    svc, listener = t.service["id"], t.listeners["HTTP"]
    actions = [({"fixedResponse": {"statusCode": 404}}, 404), (t.default_action, 200)]
    latencies, probes, reads = [], [], []
    fleet.client.get(url)  # the connection is open before the first write
    for n in range(updates):
        action, wanted = actions[n % 2]
        started = time.perf_counter()
        lattice.update_listener(serviceIdentifier=svc, listenerIdentifier=listener, defaultAction=action)
        tries = 1
        while fleet.client.get(url).status != wanted:
            tries += 1
        latencies.append(time.perf_counter() - started)
        probes.append(tries)
        started = time.perf_counter()
        lattice.get_listener(serviceIdentifier=svc, listenerIdentifier=listener)
        fleet.client.get(url)
        reads.append(time.perf_counter() - started)
    with urllib.request.urlopen(f"{fleet.server.url}/_latticework/dataplane", timeout=10) as answer:
        plane = json.load(answer)
    ms = lambda values, p: round(percentile(values, p) * 1000, 3)
    return {"services": fleet.services, "targets": fleet.targets, "updates": updates,
            "write_p50_ms": ms(latencies, 50), "write_p99_ms": ms(latencies, 99),
            "write_max_ms": round(max(latencies) * 1000, 3),
            "reference_p50_ms": ms(reads, 50), "reference_p99_ms": ms(reads, 99),
            "requests_to_see_max": max(probes), "build_seconds": round(fleet.seconds, 1),
            "compile_ms_median": plane.get("compileMillisecondsMedian"),
            "compile_ms_max": plane.get("compileMillisecondsMax")}


def run(ctx) -> list[Row]:
    updates = 60 if ctx.quick else 300
    section = "propagation"
    ctx.raw[section] = raw = {}
    rows = []
    for name in ("small", "fleet"):
        fleet: Fleet = ctx.fixture(name)
        m = raw[name] = measure(fleet, updates)
        say(f"  {section} {fleet.services:5d} services: write -> traffic p50 {m['write_p50_ms']} ms, p99 "
            f"{m['write_p99_ms']} ms (reference p99 {m['reference_p99_ms']} ms); compile median "
            f"{m['compile_ms_median']} ms; requests to see a write: max {m['requests_to_see_max']}")
        big = name == "fleet"
        note = f"{updates} writes" + ("" if m["requests_to_see_max"] == 1 else
                                      f"; up to {m['requests_to_see_max']} requests to see one")
        label = f"{fleet.services:,} services"
        rows += [
            Row(section, f"p50, {label}: write -> traffic follows / read + request", m["write_p50_ms"],
                m["reference_p50_ms"], "ms"),
            Row(section, f"p99, {label}: write -> traffic follows / read + request", m["write_p99_ms"],
                m["reference_p99_ms"], "ms", Goal("<", 50, on="value", unit="ms") if big else None, note),
        ]
    return rows
