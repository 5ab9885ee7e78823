"""What the sections share about Latticework itself: a server of their own and the topologies they measure.

``start_server`` runs ``latticework up`` on a fresh state directory with the
suite's own fabric range and resolver port (above 1024: no root needed) and
returns once its ready line names the API. The builders then make, through
boto3 as any client would:

- ``routed_service``: the L7 routing every proxy in the suite implements: a
  service reachable from a client VPC, whose listeners (HTTP, and HTTPS when
  asked) forward by default 80/20 to target groups ``blue`` and ``green``,
  with a header rule (``x-canary: true``) and a path rule (prefix ``/v2``) to
  ``green``. Health checks are off: the targets answer from the first request.
- ``one_service``: one service, one listener forwarding to one target.
- ``add_services``: more services in the same account, each with a listener,
  three rules and a target group of ``targets`` targets, associated with the
  client VPC's service network, so every write recompiles a VPC that reaches
  them all.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.config

from common import DNS_PORT, Processes, say, wait_for_line

READY = re.compile(r"Latticework ready on (http://[\d.]+:\d+)")
REGION = "us-east-1"
BIG_QUOTAS = {  # the quota codes of latticework.quotas, raised for the fleet of services the scale runs build
    "L-620C821E": 20000,  # services per Region
    "L-BB11C6B9": 20000,  # target groups per Region
    "L-75D4A19E": 20000,  # service associations per service network
}


@dataclass
class Server:
    url: str
    process: object
    log: Path


def write_config(path: Path) -> Path:
    """The default account (test/test) with the quotas the scale runs need."""
    quotas = ", ".join(f'"{code}" = {value}' for code, value in BIG_QUOTAS.items())
    path.write_text(f'include_default = false\n[[accounts]]\nid = "000000000000"\nquotas = {{ {quotas} }}\n'
                    '[[accounts.credentials]]\naccess_key_id = "test"\nsecret_access_key = "test"\n')
    return path


def start_server(processes: Processes, directory: Path, fabric: str, extra: list[str] = ()) -> Server:
    """``latticework up`` on ``fabric``; should another server on the host hold a range overlapping it (the
    fabric lease refuses it), on whatever free range the server leases itself."""
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "server.log"
    cmd = [sys.executable, "-m", "latticework", "up", "--port", "0", "--state", str(directory / "state.db"),
           "--dns-port", str(DNS_PORT), "--config", str(write_config(directory / "accounts.toml")), *extra]
    process = processes.start([*cmd, "--fabric", fabric], log)
    try:
        found = wait_for_line(process, log, READY)
    except RuntimeError:
        if process.poll() is None or "overlaps" not in log.read_text(errors="replace"):
            raise
        say(f"  fabric range {fabric} is taken by another server on this host; letting the server lease a free one")
        process = processes.start(cmd, log)
        found = wait_for_line(process, log, READY)
    return Server(found.group(1), process, log)


def client(endpoint: str, service: str):
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test",
        config=botocore.config.Config(retries={"max_attempts": 1}, max_pool_connections=8))


def forward(*groups: tuple[str, int]) -> dict:
    return {"forward": {"targetGroups": [{"targetGroupIdentifier": g, "weight": w} for g, w in groups]}}


def target_group(lattice, name: str, vpc: str, port: int, targets: list[tuple[str, int]]) -> dict:
    group = lattice.create_target_group(name=name, type="IP", config={
        "port": port, "protocol": "HTTP", "vpcIdentifier": vpc, "healthCheck": {"enabled": False}})
    for start in range(0, len(targets), 100):  # RegisterTargets takes at most 100 targets a call
        lattice.register_targets(targetGroupIdentifier=group["id"],
                                 targets=[{"id": host, "port": p} for host, p in targets[start:start + 100]])
    return group


@dataclass
class Topology:
    endpoint: str
    vpc: str
    network: str
    service: dict
    listeners: dict[str, str]  # protocol -> listener id
    groups: dict[str, dict]  # name -> target group (as CreateTargetGroup answered)
    default_action: dict

    @property
    def name(self) -> str:
        return self.service["dnsEntry"]["domainName"]


def client_vpc(endpoint: str, network_name: str = "bench-net") -> tuple[str, str]:
    """A VPC joined to a new service network: (vpc id, network id)."""
    lattice, ec2 = client(endpoint, "vpc-lattice"), client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    network = lattice.create_service_network(name=network_name)["id"]
    lattice.create_service_network_vpc_association(serviceNetworkIdentifier=network, vpcIdentifier=vpc)
    return vpc, network


def routed_service(endpoint: str, blue: list[int], green: list[int], http_port: int,
                   https_port: int | None = None, name: str = "bench") -> Topology:
    lattice = client(endpoint, "vpc-lattice")
    vpc, network = client_vpc(endpoint, f"{name}-net")
    svc = lattice.create_service(name=name)
    groups = {group: target_group(lattice, f"{name}-{group}", vpc, ports[0], [("127.0.0.1", p) for p in ports])
              for group, ports in (("blue", blue), ("green", green))}
    default = forward((groups["blue"]["id"], 80), (groups["green"]["id"], 20))
    to_green = forward((groups["green"]["id"], 100))
    listeners = {}
    for protocol, port in (("HTTP", http_port), ("HTTPS", https_port)):
        if port is None:
            continue
        listener = lattice.create_listener(serviceIdentifier=svc["id"], name=protocol.lower(), protocol=protocol,
                                           port=port, defaultAction=default)["id"]
        lattice.create_rule(serviceIdentifier=svc["id"], listenerIdentifier=listener, name="canary", priority=10,
                            match={"httpMatch": {"headerMatches": [
                                {"name": "x-canary", "match": {"exact": "true"}, "caseSensitive": False}]}},
                            action=to_green)
        lattice.create_rule(serviceIdentifier=svc["id"], listenerIdentifier=listener, name="path-v2", priority=20,
                            match={"httpMatch": {"pathMatch": {"match": {"prefix": "/v2"}}}}, action=to_green)
        listeners[protocol] = listener
    lattice.create_service_network_service_association(serviceNetworkIdentifier=network, serviceIdentifier=svc["id"])
    return Topology(endpoint, vpc, network, svc, listeners, groups, default)


def one_service(endpoint: str, target_port: int, listener_port: int) -> Topology:
    lattice = client(endpoint, "vpc-lattice")
    vpc, network = client_vpc(endpoint)
    svc = lattice.create_service(name="bench")
    group = target_group(lattice, "bench", vpc, target_port, [("127.0.0.1", target_port)])
    default = forward((group["id"], 100))
    listener = lattice.create_listener(serviceIdentifier=svc["id"], name="http", protocol="HTTP", port=listener_port,
                                       defaultAction=default)["id"]
    lattice.create_service_network_service_association(serviceNetworkIdentifier=network, serviceIdentifier=svc["id"])
    return Topology(endpoint, vpc, network, svc, {"HTTP": listener}, {"bench": group}, default)


def add_services(topology: Topology, count: int, targets: int, threads: int = 4) -> float:
    """``count`` more services as described above, ``targets`` targets among them; returns the seconds it took."""
    started = time.monotonic()
    local = threading.local()

    def lattice():
        if not hasattr(local, "client"):
            local.client = client(topology.endpoint, "vpc-lattice")
        return local.client

    def build(n: int) -> None:
        api = lattice()
        svc = api.create_service(name=f"fleet-{n}")["id"]
        mine = targets // count + (n < targets % count)
        group = target_group(api, f"fleet-{n}", topology.vpc, 8080,
                             [("127.0.0.1", 20000 + (n * 11 + t) % 40000) for t in range(mine)])
        action = forward((group["id"], 100))
        listener = api.create_listener(serviceIdentifier=svc, name="http", protocol="HTTP", port=8080,
                                       defaultAction=action)["id"]
        for p in range(1, 4):
            api.create_rule(serviceIdentifier=svc, listenerIdentifier=listener, name=f"prefix-{p}", priority=p,
                            match={"httpMatch": {"pathMatch": {"match": {"prefix": f"/{p}"}}}},
                            action={"fixedResponse": {"statusCode": 404}})
        api.create_service_network_service_association(serviceNetworkIdentifier=topology.network,
                                                       serviceIdentifier=svc)

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(build, range(count)):
            pass
    return time.monotonic() - started
