"""An HTTP/1.1 data plane in the test process, in front of real echo target processes.

``Lattice`` runs an event loop in a thread, serving ``Http1Server`` on
127.0.0.1 at an ephemeral port through the runtime's own ``FrontDoor`` (it
builds the ``Connection``, then hands the transport over). Its ``Plane``
holds a hand-built ``Snapshot`` (``topology``), a ``FakeBalancer`` (or the
real balancer when given one) and a real ``Http1Upstream``. ``Echo`` is one ``python -m latticework.targets.echo``
process. ``raw`` speaks bytes on a socket, for what clients must not send.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import itertools
import json
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

from latticework.dataplane.listeners import FrontDoor
from latticework.dataplane.plane import Limits, Plane
from latticework.dataplane.upstream_http1 import Http1Upstream
from latticework.snapshot.model import (
    HTTP, FixedResponse, Forward, HeaderMatch, HealthCheck, Listener, Match, PathMatch, Route, Rule, Service,
    ServiceNetwork, Snapshot, Target, TargetGroup, VpcView, WeightedTargetGroup,
)

READY = re.compile(r"ready (\S+) on ([\d.]+):(\d+)")
ACCOUNT, REGION = "111122223333", "us-east-1"
VPC_ID = "vpc-0a1b2c3d4e5f60718"
SUFFIX = "7d67968.vpc-lattice-svcs.us-east-1.on.aws"
PAYMENT = f"payment-0123456789abcdef0.{SUFFIX}"
SLOW = f"slow-0fedcba9876543210.{SUFFIX}"
DEAD = f"dead-0aaaabbbbccccdddd0.{SUFFIX}"
CUSTOM = "payment.example.com"


class Echo:
    """One echo target process, started and ready (its ready line read, with a deadline)."""

    def __init__(self, name: str, *extra: str):
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "latticework.targets.echo", "--port", "0", "--name", name, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = self._ready(deadline=time.monotonic() + 20)

    def _ready(self, deadline: float) -> int:
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.process.stdout], [], [], deadline - time.monotonic())
            found = READY.search(self.process.stdout.readline()) if readable else None
            if found:
                return int(found.group(3))
        self.stop()
        raise RuntimeError(f"echo target {self.name} did not start")

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def closed_port() -> int:
    """A port where nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeBalancer:
    """The balancer's interface: weighted group choice (deterministic), round robin, in-flight counts."""

    def __init__(self):
        self._turn = itertools.count()
        self._rr: dict[str, itertools.count] = {}
        self.in_flight: Counter = Counter()
        self.tracked: Counter = Counter()

    def choose_group(self, forward: Forward) -> str | None:
        slots = [g.target_group_id for g in forward.groups for _ in range(g.weight)]
        return slots[next(self._turn) % len(slots)] if slots else None

    def pick(self, group: TargetGroup) -> Target | None:
        serving = group.serving()
        if not serving:
            return None
        return serving[next(self._rr.setdefault(group.id, itertools.count())) % len(serving)]

    @contextlib.contextmanager
    def track(self, group_id: str, target: Target):
        self.in_flight[(group_id, target.key)] += 1
        self.tracked[(group_id, target.key)] += 1
        try:
            yield
        finally:
            self.in_flight[(group_id, target.key)] -= 1


# -- the snapshot ---------------------------------------------------------------------------------

def arn(kind: str, ident: str) -> str:
    return f"arn:aws:vpc-lattice:{REGION}:{ACCOUNT}:{kind}/{ident}"


def group(ident: str, addresses: list[tuple[str, int]], protocol: str = HTTP, version: str = "HTTP1") -> TargetGroup:
    targets = tuple(Target(key=f"{ident}-t{i}", id=host, port=port, address=(host, port))
                    for i, (host, port) in enumerate(addresses))
    return TargetGroup(id=ident, arn=arn("targetgroup", ident), name=ident, account=ACCOUNT, region=REGION,
                       type="IP", protocol=protocol, protocol_version=version, port=80, vpc_id="vpc-provider",
                       health_check=HealthCheck(enabled=False), targets=targets, used=True)


def forward_to(*weighted: tuple[str, int]) -> Forward:
    return Forward(tuple(WeightedTargetGroup(g, w) for g, w in weighted))


def rule(ident: str, priority: int, match: Match, action) -> Rule:
    return Rule(id=ident, arn=arn("rule", ident), name=ident, priority=priority, match=match, action=action)


def default(action) -> Rule:
    return Rule(id="rule-default", arn=arn("rule", "default"), name="default", priority=None, match=None,
                action=action, is_default=True)


def service(ident: str, dns: str, port: int, rules: tuple[Rule, ...], idle: float = 60.0,
            custom: str | None = None) -> Service:
    listener = Listener(id=f"listener-{ident}", arn=arn("listener", ident), name="http", protocol=HTTP, port=port,
                        rules=rules)
    return Service(id=ident, arn=arn("service", ident), name=ident.removeprefix("svc-"), account=ACCOUNT,
                   region=REGION, dns_name=dns, custom_domain=custom, certificate_arn=None, auth_type="NONE",
                   idle_timeout=idle, listeners={port: listener})


def topology(port: int, blue: list[tuple[str, int]], green: list[tuple[str, int]], slow_idle: float = 1.0) -> Snapshot:
    """The payment service (rules by path, header and method), a slow one and one whose target is dead,
    all answering on one address, told apart by Host."""
    groups = {g.id: g for g in (group("tg-blue", blue), group("tg-green", green),
                                group("tg-dead", [("127.0.0.1", closed_port())]),
                                group("tg-h2", blue, version="HTTP2"), group("tg-empty", []))}
    payment = service("svc-payment", PAYMENT, port, (
        rule("rule-admin", 5, Match(method="POST", path=PathMatch("prefix", "/v2/admin")), FixedResponse(500)),
        rule("rule-v2", 10, Match(path=PathMatch("prefix", "/v2")), forward_to(("tg-green", 100))),
        rule("rule-canary", 20, Match(headers=(HeaderMatch("x-canary", "exact", "true"),)),
             forward_to(("tg-green", 100))),
        rule("rule-refunds", 30, Match(method="POST", path=PathMatch("exact", "/refunds")), FixedResponse(404)),
        rule("rule-h2", 40, Match(path=PathMatch("prefix", "/h2")), forward_to(("tg-h2", 100))),
        rule("rule-empty", 50, Match(path=PathMatch("prefix", "/empty")), forward_to(("tg-empty", 100))),
        rule("rule-off", 60, Match(path=PathMatch("prefix", "/off")), forward_to(("tg-blue", 0))),
        default(forward_to(("tg-blue", 100)))), custom=CUSTOM)
    slow = service("svc-slow", SLOW, port, (default(forward_to(("tg-blue", 100))),), idle=slow_idle)
    dead = service("svc-dead", DEAD, port, (default(forward_to(("tg-dead", 100))),))
    network = ServiceNetwork(id="sn-1", arn=arn("servicenetwork", "sn-1"), name="net", account=ACCOUNT,
                             auth_type="NONE")
    routes = {name: Route(s, network) for s in (payment, slow, dead) for name in s.names()}
    vpc = VpcView(vpc_id=VPC_ID, arn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{VPC_ID}", account=ACCOUNT,
                  region=REGION, resolver="127.0.0.2", lattice="127.0.0.1", routes=routes)
    return Snapshot(revision=1, vpcs={VPC_ID: vpc}, by_address={"127.0.0.1": VPC_ID},
                    services={s.id: s for s in (payment, slow, dead)}, target_groups=groups)


# -- the data plane ---------------------------------------------------------------------------------

class Lattice:
    """A Plane served on 127.0.0.1:<ephemeral> by an event loop in a thread."""

    def __init__(self, limits: Limits = Limits(), balancer=None):
        self.plane = Plane(balancer=balancer or FakeBalancer(), limits=limits)
        self.plane.upstreams = {"HTTP1": Http1Upstream(limits), "HTTP2": Http1Upstream(limits)}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self.call(self.loop.create_server(lambda: FrontDoor(self.plane), "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]

    def call(self, coroutine, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        async def stop():
            self.server.close()
            for upstream in self.plane.upstreams.values():
                await upstream.close()
        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


# -- clients ---------------------------------------------------------------------------------------

def request(port: int, method: str, path: str, host: str = PAYMENT, body: bytes | None = None,
            headers: dict | None = None, conn: http.client.HTTPConnection | None = None):
    """One request with http.client; returns (response, body bytes, JSON or None)."""
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    echoed = json.loads(data) if response.getheader("content-type") == "application/json" else None
    return response, data, echoed


def raw(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send bytes, read until the server closes (or ``timeout`` passes): everything it answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_until_closed(sock, timeout)


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    deadline, answer = time.monotonic() + timeout, b""
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return answer
        if not data:
            return answer
        answer += data
    raise AssertionError(f"the connection was not closed within {timeout} s; got {answer[:200]!r}")


class _Replay:
    """Recorded bytes where http.client expects a socket: one buffer for every response."""

    def __init__(self, data: bytes):
        self.file = io.BufferedReader(io.BytesIO(data))

    def makefile(self, *args):
        return self

    def __getattr__(self, name):
        return getattr(self.file, name)

    def close(self) -> None:
        """http.client closes its file after each response; the next one reads on."""


def statuses(answer: bytes, method: str = "GET") -> list[int]:
    """Status codes of the responses in a stream of HTTP/1.1 answers (bodies read by their framing)."""
    replay, found = _Replay(answer), []
    while replay.file.peek(1):
        response = http.client.HTTPResponse(replay, method=method)
        response.begin()
        response.read()
        found.append(response.status)
    return found
