"""Snapshot compile cost: one change applied incrementally vs a full compile, same run.

Builds a synthetic store view of ``--services`` services, each with its own
VPC, service network, associations, a listener with a default and a path
rule, a target group and three targets (12 records a service). Then:

- the reference: a full compile of that view (``compile_snapshot``), the cost
  every write would pay without incremental compiling;
- one ``Compiler`` loaded once, then fed single changes the way the data plane
  is after each write: a rule, a target, a VPC association.

Usage: python bench/compile.py [--services 1000 3000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

from latticework.fabric import INDEX_FIELD
from latticework.snapshot.compile import Compiler, compile_snapshot
from latticework.store import Record, StoreView

ACCOUNT, REGION = "111111111111", "us-east-1"


def record(kind: str, id: str, body: dict, parent: str | None = None, rev: int = 1) -> Record:
    return Record(kind, id, ACCOUNT, REGION, body, parent=parent, arn=f"arn:aws:vpc-lattice:{REGION}:{ACCOUNT}:{id}",
                  created_rev=rev, revision=rev)


def forward(tg: str) -> dict:
    return {"forward": {"targetGroups": [{"targetGroupIdentifier": tg, "weight": 100}]}}


def rule(i: int, rev: int = 1, status: int = 404) -> Record:
    return record("rule", f"rule-p{i}", {"name": "v2", "isDefault": False, "priority": 10, "serviceId": f"svc-{i}",
                                        "match": {"httpMatch": {"pathMatch": {"match": {"prefix": "/v2"}}}},
                                        "action": {"fixedResponse": {"statusCode": status}}}, f"listener-{i}", rev)


def target(i: int, n: int, rev: int = 1, port: int = 8080) -> Record:
    return record("target", f"tg-{i}/{n:03d}", {"id": f"10.{i % 200}.0.{n + 1}", "port": port,
                                               "status": "HEALTHY"}, f"tg-{i}", rev)


def service_records(i: int) -> dict[str, list[Record]]:
    name = f"svc{i}"
    return {
        "vpc": [record("vpc", f"vpc-{i}", {"CidrBlock": f"10.{i % 200}.0.0/16", INDEX_FIELD: i})],
        "servicenetwork": [record("servicenetwork", f"sn-{i}", {"name": f"net{i}"})],
        "service": [record("service", f"svc-{i}", {"name": name, "dnsEntry": {
            "domainName": f"{name}-0123456789abcdef0.7d67968.vpc-lattice-svcs.{REGION}.on.aws"}})],
        "listener": [record("listener", f"listener-{i}", {"name": "http", "port": 80, "protocol": "HTTP",
                                                          "serviceId": f"svc-{i}"}, f"svc-{i}")],
        "rule": [record("rule", f"rule-d{i}", {"name": "default", "isDefault": True, "serviceId": f"svc-{i}",
                                               "action": forward(f"tg-{i}")}, f"listener-{i}"), rule(i)],
        "targetgroup": [record("targetgroup", f"tg-{i}", {"name": f"tg{i}", "type": "IP", "config": {
            "port": 8080, "protocol": "HTTP", "protocolVersion": "HTTP1", "vpcIdentifier": f"vpc-{i}",
            "healthCheck": {"enabled": True}}})],
        "target": [target(i, n) for n in range(3)],
        "snsa": [record("snsa", f"snsa-{i}", {"serviceId": f"svc-{i}"}, f"sn-{i}")],
        "snva": [record("snva", f"snva-{i}", {"vpcId": f"vpc-{i}"}, f"sn-{i}")],
    }


def view_of(services: int) -> StoreView:
    records: dict[str, list[Record]] = {}
    for i in range(services):
        for kind, found in service_records(i).items():
            records.setdefault(kind, []).extend(found)
    return StoreView(1, records)


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(services: int, repeat: int) -> None:
    view = view_of(services)
    total = sum(len(v) for v in view.records.values())
    full = statistics.median(timed(lambda: compile_snapshot(view)) for _ in range(3))
    compiler = Compiler()
    compiler.load(view)
    changes = {
        "a rule": lambda n: {("rule", f"rule-p{n % services}"): rule(n % services, 2 + n, 404 + n % 2 * 96)},
        "a target": lambda n: {("target", f"tg-{n % services}/000"): target(n % services, 0, 2 + n, 8000 + n)},
        "a VPC association": lambda n: {("snva", f"snva-{n % services}"): None if n % 2 == 0 else
                                        record("snva", f"snva-{n % services}", {"vpcId": f"vpc-{n % services}"},
                                               f"sn-{n % services}", 2 + n)},
    }
    print(f"{services} services ({total} records): full compile {full * 1000:8.2f} ms (reference)")
    revision = 2
    for label, change in changes.items():
        times = []
        for n in range(repeat):
            revision += 1
            times.append(timed(lambda: compiler.update(revision, change(n))))
        median = statistics.median(times)
        print(f"  one change, {label:18s} {median * 1000:8.3f} ms median, {max(times) * 1000:8.3f} ms max"
              f"   {full / median:7.0f}x faster than a full compile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    for services in args.services:
        measure(services, args.repeat)


if __name__ == "__main__":
    main()
