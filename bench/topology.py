"""What the data-plane benchmarks share: a server of their own and one service reachable from a VPC.

``start_server`` runs ``latticework up`` on a temporary state file with a
fabric range and resolver port of the benchmark's choosing (a port above
1024, so no root is needed). ``one_service`` builds, through boto3 as any
client would, a VPC joined to a service network holding one service whose
HTTP listener forwards to one target (health checks off: nothing to wait for).
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.config

READY = re.compile(r"Latticework ready on (http://[\d.]+:\d+)")


def start(cmd: list[str], pattern: re.Pattern) -> tuple[subprocess.Popen, re.Match]:
    """Start ``cmd`` and return once a line of its output matches ``pattern``."""
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        found = pattern.search(line)
        if found:
            return process, found
    raise RuntimeError(f"{cmd[:4]} did not start")


def start_server(state_dir: Path, fabric: str, dns_port: int) -> tuple[subprocess.Popen, str]:
    process, found = start([sys.executable, "-m", "latticework", "up", "--port", "0", "--state",
                            str(state_dir / "state.db"), "--fabric", fabric, "--dns-port", str(dns_port)], READY)
    return process, found.group(1)


def clients(endpoint: str):
    make = lambda s: boto3.client(s, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                                  aws_secret_access_key="test",
                                  config=botocore.config.Config(retries={"max_attempts": 1}))
    return make("vpc-lattice"), make("ec2")


@dataclass
class OneService:
    lattice: object
    vpc: str
    service: dict
    listener: str
    forward: dict  # the listener's default action

    @property
    def name(self) -> str:
        return self.service["dnsEntry"]["domainName"]


def one_service(endpoint: str, target_port: int, listener_port: int) -> OneService:
    lattice, ec2 = clients(endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sn = lattice.create_service_network(name="bench-net")["id"]
    svc = lattice.create_service(name="bench")
    tg = lattice.create_target_group(name="bench", type="IP", config={
        "port": target_port, "protocol": "HTTP", "vpcIdentifier": vpc, "healthCheck": {"enabled": False}})["id"]
    lattice.register_targets(targetGroupIdentifier=tg, targets=[{"id": "127.0.0.1", "port": target_port}])
    forward = {"forward": {"targetGroups": [{"targetGroupIdentifier": tg, "weight": 100}]}}
    listener = lattice.create_listener(serviceIdentifier=svc["id"], name="http", protocol="HTTP", port=listener_port,
                                       defaultAction=forward)["id"]
    lattice.create_service_network_service_association(serviceNetworkIdentifier=sn, serviceIdentifier=svc["id"])
    lattice.create_service_network_vpc_association(serviceNetworkIdentifier=sn, vpcIdentifier=vpc)
    return OneService(lattice, vpc, svc, listener, forward)
