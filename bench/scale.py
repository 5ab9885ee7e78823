"""Scale: route lookup and one-change compile at 10,000 services, and the server's memory at 1,000 services.

In-process, over a synthetic store view (``view_of``): ``services`` services,
each with an HTTP listener holding ``rules`` rules (odd priorities match a
header ``x-rule``, even ones a path prefix) and a default rule forwarding to
its own target group of three targets, all in one service network that one
client VPC is associated with, so that VPC reaches every service (the
largest route table a VPC can have; the service-network quota is raised,
as a granted increase would).

- **Lookup**: what the data plane does for each request before forwarding
  (``dataplane.router`` over a compiled ``Snapshot``): the VPC by destination
  address, the service by Host, the listener by port, the first matching rule.
  The same number of requests, spread at random over every service and every
  rule (one in eleven falls through to the default rule), at 10,000 services
  and at 10 (the reference); best of five passes, each request's rule checked
  once beforehand. Beside it, for scale, the floor of that walk: the same
  requests only reading the objects a lookup reads (the route, the listener,
  each rule up to the one that serves and its conditions) without comparing
  anything. How much that floor grows from 10 to 10,000 services is the
  cost of memory, not of matching: CPU caches hold every rule of 10 services
  and a sliver of those of 10,000.
- **Compile**: a ``Compiler`` loaded with the whole view, then fed single
  changes as the data plane is after each write (a rule's action, a target's
  port, a service leaving and rejoining the network), median of ``repeat``;
  next to a full compile of the same view, and to the same change at 10
  services.
- **RSS**: the resident memory of the server process (and any children) of the
  propagation fixtures: 1,000 services with 10,000 targets (``--quick``: 100
  and 1,000), against the same server holding 10 services.
"""

from __future__ import annotations

import random
import statistics
import time

from common import Goal, Row, descendants, rss_bytes, say, timed
from latticework.dataplane import router
from latticework.fabric import Fabric
from latticework.records.ec2 import FABRIC_INDEX
from latticework.snapshot.compile import Compiler
from latticework.store import Record, StoreView

ACCOUNT, REGION = "111111111111", "us-east-1"
FABRIC = Fabric.parse("127.200.240.0/20")  # addresses only computed here: nothing listens
VPC, NETWORK, PORT = "vpc-client", "sn-all", 80


def record(kind: str, id: str, body: dict, parent: str | None = None, rev: int = 1, internal: dict | None = None):
    return Record(kind, id, ACCOUNT, REGION, body, parent=parent, arn=f"arn:aws:vpc-lattice:{REGION}:{ACCOUNT}:{id}",
                  created_rev=rev, revision=rev, internal=internal or {})


def forward(tg: str) -> dict:
    return {"forward": {"targetGroups": [{"targetGroupIdentifier": tg, "weight": 100}]}}


def host(i: int) -> str:
    return f"svc{i}-0123456789abcdef0.7d67968.vpc-lattice-svcs.{REGION}.on.aws"


def match(p: int) -> dict:
    if p % 2:
        return {"httpMatch": {"headerMatches": [{"name": "x-rule", "match": {"exact": f"r{p}"}, "caseSensitive": False}]}}
    return {"httpMatch": {"pathMatch": {"match": {"prefix": f"/r{p}"}}}}


def rule(i: int, p: int, rev: int = 1, status: int = 404) -> Record:
    return record("rule", f"rule-{i}-{p}", {"name": f"r{p}", "isDefault": False, "priority": p,
                                           "serviceId": f"svc-{i}", "match": match(p),
                                           "action": {"fixedResponse": {"statusCode": status}}}, f"listener-{i}", rev)


def target(i: int, n: int, rev: int = 1, port: int = 8080) -> Record:
    return record("target", f"tg-{i}/{n}", {"id": "127.0.0.1", "port": port, "status": "HEALTHY"}, f"tg-{i}", rev)


def snsa(i: int, rev: int = 1) -> Record:
    return record("snsa", f"snsa-{i}", {"serviceId": f"svc-{i}"}, NETWORK, rev)


def service_records(i: int, rules: int) -> dict[str, list[Record]]:
    return {
        "service": [record("service", f"svc-{i}", {"name": f"svc{i}", "dnsEntry": {"domainName": host(i)}})],
        "listener": [record("listener", f"listener-{i}", {"name": "http", "port": PORT, "protocol": "HTTP",
                                                          "serviceId": f"svc-{i}"}, f"svc-{i}")],
        "rule": [record("rule", f"rule-{i}-default", {"name": "default", "isDefault": True, "serviceId": f"svc-{i}",
                                                      "action": forward(f"tg-{i}")}, f"listener-{i}"),
                 *(rule(i, p) for p in range(1, rules + 1))],
        "targetgroup": [record("targetgroup", f"tg-{i}", {"name": f"tg{i}", "type": "IP", "config": {
            "port": 8080, "protocol": "HTTP", "protocolVersion": "HTTP1", "vpcIdentifier": VPC,
            "healthCheck": {"enabled": False}}})],
        "target": [target(i, n) for n in range(3)],
        "snsa": [snsa(i)],
    }


def view_of(services: int, rules: int) -> StoreView:
    records: dict[str, list[Record]] = {
        "vpc": [record("vpc", VPC, {"VpcId": VPC, "CidrBlock": "10.0.0.0/16"}, internal={FABRIC_INDEX: 0})],
        "servicenetwork": [record("servicenetwork", NETWORK, {"name": "all"})],
        "snva": [record("snva", "snva-client", {"vpcId": VPC}, NETWORK)],
    }
    for i in range(services):
        for kind, found in service_records(i, rules).items():
            records.setdefault(kind, []).extend(found)
    return StoreView(1, records)


# -- lookup -------------------------------------------------------------------------------------------

def requests(services: int, rules: int, count: int, seed: int = 7) -> list[tuple]:
    """(address, host, port, method, target, headers, expected rule id), spread over services and rules."""
    pick = random.Random(seed)
    address = FABRIC.block(0).lattice
    out = []
    for _ in range(count):
        i, p = pick.randrange(services), pick.randrange(1, rules + 2)  # p = rules + 1: the default rule
        headers, path, expected = {}, "/", f"rule-{i}-default"
        if p <= rules:
            expected = f"rule-{i}-{p}"
            if p % 2:
                headers = {"x-rule": [f"r{p}"]}
            else:
                path = f"/r{p}/items?page=2"
        out.append((address, host(i), PORT, "GET", path, headers, expected))
    return out


def lookup(snapshot, address: str, name: str, port: int, method: str, path: str, headers: dict):
    vpc = snapshot.vpc_at(address)
    route = router.route_for(vpc, name)
    listener = router.listener_for(route, port)
    return router.match_rule(listener, method, path, headers)


def walk(snapshot, address: str, name: str, port: int, expected: str) -> None:
    """Read what ``lookup`` reads to reach the rule ``expected``, comparing nothing."""
    listener = snapshot.vpc_at(address).routes[name].service.listeners[port]
    for rule in listener.rules:
        match = rule.match
        if match is not None:
            match.method, match.path, match.headers  # noqa: B018 -- the reads are the point
            for header in match.headers:
                header.name, header.value  # noqa: B018
            if match.path is not None:
                match.path.value  # noqa: B018
        if rule.id == expected:
            return


def time_walks(snapshot, batch: list[tuple], passes: int) -> float:
    """Seconds per ``walk``, best of ``passes`` passes over ``batch`` (the floor of ``time_lookups``)."""
    best = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        for address, name, port, _method, _path, _headers, expected in batch:
            walk(snapshot, address, name, port, expected)
        best = min(best, time.perf_counter() - started)
    return best / len(batch)


def time_lookups(snapshot, batch: list[tuple], passes: int) -> float:
    """Seconds per lookup, best of ``passes`` passes over ``batch``."""
    for address, name, port, method, path, headers, expected in batch:
        found = lookup(snapshot, address, name, port, method, path, headers)
        if found.id != expected:
            raise RuntimeError(f"lookup of {name}{path} found {found.id}, not {expected}")
    best = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        for address, name, port, method, path, headers, _expected in batch:
            lookup(snapshot, address, name, port, method, path, headers)
        best = min(best, time.perf_counter() - started)
    return best / len(batch)


# -- compile --------------------------------------------------------------------------------------------

def one_changes(compiler: Compiler, services: int, rules: int, repeat: int) -> dict[str, float]:
    """Median seconds of single changes fed to a loaded compiler."""
    changes = {
        "a rule": lambda n: {("rule", f"rule-{n % services}-1"): rule(n % services, 1, 2 + n, 404 + n % 2 * 96)},
        "a target": lambda n: {("target", f"tg-{n % services}/0"): target(n % services, 0, 2 + n, 8000 + n % 2)},
        "a service association": lambda n: {("snsa", f"snsa-{n % services}"):
                                             None if n % 2 == 0 else snsa(n % services, 2 + n)},
    }
    out, revision = {}, compiler.revision
    for label, change in changes.items():
        times = []
        for n in range(repeat):
            revision += 1
            times.append(timed(lambda: compiler.update(revision, change(n))))
        out[label] = statistics.median(times)
    return out


def measure(services: int, rules: int, count: int, passes: int, repeat: int) -> dict:
    view = view_of(services, rules)
    compiler = Compiler(FABRIC)
    load = timed(lambda: compiler.load(view))
    snapshot = compiler.update(compiler.revision + 1, {})
    batch = requests(services, rules, count)
    per_lookup = time_lookups(snapshot, batch, passes)
    per_walk = time_walks(snapshot, batch, passes)
    changes = one_changes(compiler, services, rules, repeat)
    full = statistics.median(timed(lambda: Compiler(FABRIC).load(view)) for _ in range(1 if services > 100 else 5))
    return {"lookup_us": per_lookup * 1e6, "walk_us": per_walk * 1e6, "full_compile_ms": full * 1000,
            "load_ms": load * 1000,
            "one_change_ms": {k: v * 1000 for k, v in changes.items()}}


def run(ctx) -> list[Row]:
    section = "scale"
    big = 2000 if ctx.quick else 10000
    rules, count, repeat = 10, 20000 if ctx.quick else 100000, 6 if ctx.quick else 20
    ctx.raw[section] = raw = {"services": big, "rules_per_listener": rules}
    rows = []
    measured = {}
    for services in (10, big):
        m = measured[services] = measure(services, rules, count, 3 if ctx.quick else 5, repeat)
        say(f"  {section} {services:6d} services x {rules} rules: lookup {m['lookup_us']:.2f} µs (reading alone "
            f"{m['walk_us']:.2f} µs), full compile "
            f"{m['full_compile_ms']:.1f} ms, one change "
            + ", ".join(f"{k} {v:.3f} ms" for k, v in m["one_change_ms"].items()))
    raw["in_process"] = measured
    small, large = measured[10], measured[big]
    rows.append(Row(section, f"route lookup, {big:,} services x {rules} rules / 10 services", large["lookup_us"],
                    small["lookup_us"], "µs", Goal("<=", 1.2)))
    rows.append(Row(section, f"reading the objects a lookup reads, no matching, {big:,} / 10 services (for scale)",
                    large["walk_us"], small["walk_us"], "µs"))
    for label in large["one_change_ms"]:
        rows.append(Row(section, f"one-change compile ({label}), {big:,} services / 10 services",
                        large["one_change_ms"][label], small["one_change_ms"][label], "ms"))
    rows.append(Row(section, f"full compile / one-change compile (a rule), {big:,} services (x faster)",
                    large["one_change_ms"]["a rule"], large["full_compile_ms"], "ms",
                    ratio=large["full_compile_ms"] / large["one_change_ms"]["a rule"]))
    rows += rss_rows(ctx, section, raw)
    return rows


def rss_rows(ctx, section: str, raw: dict) -> list[Row]:
    """The whole server (its process and its data-plane workers) held to the goal; the parts beside it."""
    small, fleet = ctx.fixture("small"), ctx.fixture("fleet")
    ours, reference = rss_bytes(fleet.server.process.pid), rss_bytes(small.server.process.pid)
    alone = rss_bytes(fleet.server.process.pid, children=False)
    workers = len(descendants(fleet.server.process.pid)) - 1
    raw["rss"] = {"fleet": {"services": fleet.services, "targets": fleet.targets, "rss_bytes": ours,
                            "server_process_rss_bytes": alone, "workers": workers},
                  "small": {"services": small.services, "targets": small.targets, "rss_bytes": reference}}
    say(f"  {section} server RSS: {ours / 2**20:.1f} MB at {fleet.services} services / {fleet.targets} targets "
        f"({alone / 2**20:.1f} MB in the server process, the rest in {workers} workers), "
        f"{reference / 2**20:.1f} MB at {small.services} services")
    label = f"{fleet.services:,} services & {fleet.targets:,} targets"
    return [Row(section, f"server RSS with its {workers} workers, {label} / {small.services} services",
                ours / 2**20, reference / 2**20, "MB", Goal("<=", 150, on="value", unit="MB")),
            Row(section, f"RSS of the server process alone, {label} / all of it (for scale)", alone / 2**20,
                ours / 2**20, "MB")]
