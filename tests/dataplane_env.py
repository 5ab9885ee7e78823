"""Real target processes and a Lattice topology for black-box data-plane tests.

``EchoTarget`` runs ``python -m latticework.targets.echo`` (a real process on a
real port; it answers with what it received). ``Topology`` builds, through
boto3, the payment-service example: a client VPC, a provider VPC, a service
network, a service with listeners and rules, target groups of echo targets,
and the associations, then waits until the data plane serves it.
"""

from __future__ import annotations

import asyncio
import re
import threading
import subprocess
import sys
import time
from dataclasses import dataclass, field

from conftest import _accounts, client_for
from latticework.ownpaths_client import ca_pem, vpc_info
from latticework.vpcclient import VpcClient

READY = re.compile(r"ready (\S+) on ([\d.]+):(\d+)")


class EchoTarget:
    def __init__(self, name: str, port: int = 0, *extra: str):
        self.name, self.extra = name, extra
        self.process: subprocess.Popen | None = None
        self.port = port
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "latticework.targets.echo", "--port", str(self.port), "--name", self.name,
             *self.extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.process.stdout:
            found = READY.search(line)
            if found:
                self.port = int(found.group(3))
                return
        raise RuntimeError(f"echo target {self.name} did not start")

    def requests_read(self) -> int:
        """How many requests the target has read, this direct probe included."""
        return self.probe()["count"]

    def health_checks(self) -> int:
        """How many health checks (``GET /health``) the target has answered."""
        return self.probe()["health_checks"]

    def probe(self) -> dict:
        return VpcClient(None).get(f"http://127.0.0.1:{self.port}/probe").json()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


async def eventually(predicate, timeout: float = 5.0) -> None:
    """``wait_for`` inside an event loop: poll ``predicate`` without blocking the loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def send_in_flight(target: EchoTarget, request) -> tuple[threading.Thread, dict]:
    """Run ``request()`` in a thread and return once ``target`` has read it, so it is in flight there.

    The echo target counts every request it has read: once a probe's count runs one ahead of the
    probes sent, the request is at the target. The answer lands in the returned dict, key "answer".
    """
    answers: dict = {}
    baseline, probes = target.requests_read(), iter(range(1, 10_000))
    thread = threading.Thread(target=lambda: answers.setdefault("answer", request()))
    thread.start()
    wait_for(lambda: target.requests_read() - baseline == next(probes) + 1, what="the request to reach its target")
    return thread, answers


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


@dataclass
class Topology:
    lattice: object
    ec2: object
    endpoint: str
    client_vpc: str = ""
    other_vpc: str = ""
    network: dict = field(default_factory=dict)
    service: dict = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    listeners: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.service["dnsEntry"]["domainName"]

    @classmethod
    def for_account(cls, server, n: int | None) -> "Topology":
        """A topology built by test account ``n`` of ``server`` (None: the default account)."""
        return cls(client_for(server, "vpc-lattice", n), client_for(server, "ec2", n), server.url)

    @classmethod
    def fresh(cls, server) -> "Topology":
        """A topology of a test account no other test uses."""
        return cls.for_account(server, next(_accounts))

    def one_service(self, name: str) -> "Topology":
        """A client VPC (10.0.0.0/16), a service network and service ``name`` in it; listeners, target
        groups and ``join`` are the caller's."""
        self.client_vpc = self.vpc("10.0.0.0/16")
        self.network = self.lattice.create_service_network(name=f"{name}-net")
        self.service = self.lattice.create_service(name=name)
        return self

    def vpc(self, cidr: str) -> str:
        return self.ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]

    def group(self, label: str, targets: list[EchoTarget], vpc: str, **health) -> str:
        config = {"port": 80, "protocol": "HTTP", "vpcIdentifier": vpc,
                  "healthCheck": {"enabled": True, "path": "/health", "healthCheckIntervalSeconds": 5,
                                  "healthCheckTimeoutSeconds": 2, "healthyThresholdCount": 2,
                                  "unhealthyThresholdCount": 2, **health}}
        tg = self.lattice.create_target_group(name=f"{label}-{self.suffix()}", type="IP", config=config)["id"]
        if targets:
            self.lattice.register_targets(targetGroupIdentifier=tg,
                                          targets=[{"id": "127.0.0.1", "port": t.port} for t in targets])
        self.groups[label] = tg
        return tg

    def suffix(self) -> str:
        return self.service.get("id", "x")[-6:]

    def listener(self, label: str, protocol: str, port: int, default_action: dict) -> str:
        found = self.lattice.create_listener(serviceIdentifier=self.service["id"], name=label, protocol=protocol,
                                             port=port, defaultAction=default_action)["id"]
        self.listeners[label] = found
        return found

    def rule(self, listener: str, name: str, priority: int, match: dict, action: dict) -> str:
        return self.lattice.create_rule(serviceIdentifier=self.service["id"], listenerIdentifier=listener, name=name,
                                        priority=priority, match={"httpMatch": match}, action=action)["id"]

    def join(self) -> None:
        self.lattice.create_service_network_service_association(serviceNetworkIdentifier=self.network["id"],
                                                                serviceIdentifier=self.service["id"])
        self.lattice.create_service_network_vpc_association(serviceNetworkIdentifier=self.network["id"],
                                                            vpcIdentifier=self.client_vpc)

    def client(self, vpc: str | None = None, **kwargs) -> VpcClient:
        return VpcClient(vpc_info(self.endpoint, vpc or self.client_vpc), ca=ca_pem(self.endpoint), **kwargs)

    def states(self, label: str) -> dict[int, str]:
        items = self.lattice.list_targets(targetGroupIdentifier=self.groups[label])["items"]
        return {t["port"]: t["status"] for t in items}


def forward(*groups: tuple[str, int]) -> dict:
    return {"forward": {"targetGroups": [{"targetGroupIdentifier": g, "weight": w} for g, w in groups]}}
