"""The real balancer behind both front ends: the proxy, ``Balancer`` and real targets together.

The other front-end tests use a deterministic ``FakeBalancer`` so that they
can predict which target answers; here the production ``Balancer`` (seeded
random weights, round robin, health narrowing, fail-open, draining, in-flight
counts) serves HTTP/1.1 clients through ``FrontDoor`` and HTTP/2 clients
through ``Http2Server``, in front of echo target processes. The routing is the
shape users run: a rule with two header matches and a path rule to "green",
an 80/20 blue/green default.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import random
from collections import Counter

import pytest

from h2_env import Client
from http1_env import (
    PAYMENT, VPC_ID, Echo, Lattice, arn, default, forward_to, group, request, rule, service,
)
from latticework.dataplane.balancer import HEALTHY, Balancer
from latticework.dataplane.exchange import Connection
from latticework.dataplane.http2 import Http2Server
from latticework.snapshot.model import (
    HeaderMatch, HealthCheck, Match, PathMatch, Route, ServiceNetwork, Snapshot, VpcView,
)

REQUESTS = 400


class Health:
    """Health states set by the test, with the generation the balancer caches on."""

    def __init__(self):
        self.states: dict[tuple[str, str], str] = {}
        self.generation = 0

    def state(self, group_id: str, target_key: str) -> str:
        return self.states.get((group_id, target_key), "INITIAL")

    def set(self, group_id: str, target_key: str, state: str) -> None:
        self.states[(group_id, target_key)] = state
        self.generation += 1


@pytest.fixture(scope="module")
def targets():
    started = {name: Echo(name) for name in ("blue-1", "blue-2", "green", "spare")}
    yield started
    for echo in started.values():
        echo.stop()


def snapshot(port: int, targets: dict[str, Echo], checked: bool = False, drain_blue_1: bool = False) -> Snapshot:
    blue = group("tg-blue", [targets["blue-1"].address, targets["blue-2"].address])
    if checked:
        blue = dataclasses.replace(blue, health_check=HealthCheck(enabled=True))
    if drain_blue_1:
        blue = dataclasses.replace(blue, targets=(dataclasses.replace(blue.targets[0], draining=True),
                                                  blue.targets[1]))
    groups = {g.id: g for g in (blue, group("tg-green", [targets["green"].address]))}
    payment = service("svc-payment", PAYMENT, port, (
        rule("rule-canary", 10, Match(headers=(HeaderMatch("x-canary", "exact", "true"),
                                               HeaderMatch("x-tier", "prefix", "gold"))),
             forward_to(("tg-green", 100))),
        rule("rule-v2", 20, Match(method="GET", path=PathMatch("prefix", "/v2")), forward_to(("tg-green", 100))),
        default(forward_to(("tg-blue", 80), ("tg-green", 20)))))
    network = ServiceNetwork(id="sn-1", arn=arn("servicenetwork", "sn-1"), name="net", account="111122223333",
                             auth_type="NONE")
    vpc = VpcView(vpc_id=VPC_ID, arn=f"arn:aws:ec2:us-east-1:111122223333:vpc/{VPC_ID}", account="111122223333",
                  region="us-east-1", resolver="127.0.0.2", lattice="127.0.0.1",
                  routes={name: Route(payment, network) for name in payment.names()})
    return Snapshot(revision=1, vpcs={VPC_ID: vpc}, by_address={"127.0.0.1": VPC_ID},
                    services={payment.id: payment}, target_groups=groups)


@pytest.fixture
def lattice(targets):
    health = Health()
    served = Lattice(balancer=Balancer(health, random.Random(20261206)))
    served.health = health
    served.plane.snapshot = snapshot(served.port, targets)
    yield served
    served.close()


def answered_by(lattice: Lattice, count: int, path: str = "/", headers: dict | None = None) -> Counter:
    """Which target answered each of ``count`` requests sent over four keep-alive connections."""
    conns = [http.client.HTTPConnection("127.0.0.1", lattice.port, timeout=20) for _ in range(4)]
    seen: Counter = Counter()
    for i in range(count):
        response, _, echoed = request(lattice.port, "GET", path, headers=headers, conn=conns[i % 4])
        assert response.status == 200
        seen[echoed["target"]] += 1
    for conn in conns:
        conn.close()
    return seen


def assert_nothing_in_flight(lattice: Lattice) -> None:
    for tg in lattice.plane.snapshot.target_groups.values():
        for target in tg.targets:
            assert lattice.plane.balancer.in_flight(tg.id, target.key) == 0


def assert_weighted(seen: Counter, total: int) -> None:
    """80/20 over ``total`` draws: within 5 standard deviations of the binomial (seeded, so stable)."""
    green, spread = seen["green"], 5 * (total * 0.2 * 0.8) ** 0.5
    assert abs(green - total * 0.2) <= spread, seen
    assert abs(seen["blue-1"] - seen["blue-2"]) <= 1, seen  # round robin inside blue


def test_http1_weights_split_and_round_robin(lattice):
    seen = answered_by(lattice, REQUESTS)
    assert sum(seen.values()) == REQUESTS and set(seen) == {"blue-1", "blue-2", "green"}
    assert_weighted(seen, REQUESTS)
    assert_nothing_in_flight(lattice)


def test_http1_rules_with_several_conditions(lattice):
    both = {"x-canary": "true", "x-tier": "golden"}
    assert set(answered_by(lattice, 20, headers=both)) == {"green"}
    one = answered_by(lattice, 100, headers={"x-canary": "true"})  # one header of two: the default split
    assert one["blue-1"] + one["blue-2"] > 0
    assert set(answered_by(lattice, 20, path="/v2/pay")) == {"green"}
    response, _, echoed = request(lattice.port, "POST", "/v2/pay", body=b"{}")  # the method does not match
    assert response.status == 200 and echoed["target"] in {"blue-1", "blue-2", "green"}


def test_http1_health_narrows_and_fails_open(lattice, targets):
    lattice.plane.snapshot = snapshot(lattice.port, targets, checked=True)
    blue = lattice.plane.snapshot.target_groups["tg-blue"]
    lattice.health.set("tg-blue", blue.targets[1].key, HEALTHY)
    seen = answered_by(lattice, 100)
    assert seen["blue-1"] == 0 and seen["blue-2"] > 0, seen  # only the healthy one of blue
    lattice.health.set("tg-blue", blue.targets[1].key, "UNHEALTHY")
    seen = answered_by(lattice, 100)
    assert seen["blue-1"] > 0 and seen["blue-2"] > 0, seen  # none healthy: every target takes turns


def test_http1_a_draining_target_takes_no_new_request(lattice, targets):
    lattice.plane.snapshot = snapshot(lattice.port, targets, drain_blue_1=True)
    seen = answered_by(lattice, 100)
    assert seen["blue-1"] == 0 and seen["blue-2"] > 0, seen


def serve_h2(lattice: Lattice) -> int:
    """An HTTP/2 front end (prior knowledge, plain TCP) on the same plane; returns its port."""
    plane = lattice.plane

    class Accept(asyncio.Protocol):
        def connection_made(self, transport):
            conn = Connection(vpc=plane.snapshot.vpcs[VPC_ID], client=transport.get_extra_info("peername")[:2],
                              local=transport.get_extra_info("sockname")[:2], scheme="http", alpn="h2",
                              opened=asyncio.get_running_loop().time())
            server = Http2Server(plane, conn)
            transport.set_protocol(server)
            server.connection_made(transport)

    async def start():
        return await asyncio.get_running_loop().create_server(Accept, "127.0.0.1", 0)
    server = lattice.call(start())
    return server.sockets[0].getsockname()[1]


def test_http2_weights_rules_and_in_flight_over_multiplexed_streams(lattice, targets):
    port = serve_h2(lattice)
    lattice.plane.snapshot = snapshot(port, targets)  # the service's listener on the HTTP/2 front end's port
    authority = PAYMENT

    async def scenario():
        client = await Client().connect(port)
        replies = []
        for start in range(0, REQUESTS, 50):  # 50 streams at a time on one connection
            replies += await asyncio.gather(*(client.request("GET", f"/?n={n}", authority=authority)
                                              for n in range(start, start + 50)))
        canary = await asyncio.gather(*(client.request(
            "GET", "/", headers=[("x-canary", "true"), ("x-tier", "gold")], authority=authority)
            for _ in range(20)))
        await client.close()
        return replies, canary

    replies, canary = lattice.call(scenario(), timeout=60)
    assert {r.status for r in replies + canary} == {200}
    seen = Counter(json.loads(bytes(r.body))["target"] for r in replies)
    assert_weighted(seen, REQUESTS)
    assert {json.loads(bytes(r.body))["target"] for r in canary} == {"green"}
    assert_nothing_in_flight(lattice)
