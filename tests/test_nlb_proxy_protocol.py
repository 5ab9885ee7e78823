"""Proxy protocol v2 toward an NLB's targets: with the target group's ``proxy_protocol_v2.enabled`` the target
reads a PROXY v2 header first, naming the client and the address it connected to (through a real server and
boto3); ``Nodes.connect`` adds AWS's VPC endpoint TLV for connections through an interface endpoint."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys

import pytest

from test_nlb_health import balancer_with
from latticework.dataplane.nlb import Nodes
from latticework.dataplane.plane import Plane
from latticework.snapshot.model import HealthCheck, NetworkLoadBalancer, Snapshot, Target, TargetGroup

# Reads one line from each connection and answers with what its PROXY v2 header said (or that there was none).
PROXY_AWARE = """
import json, socket, sys
from latticework.dataplane.relay import ProxyHeaderError, parse_proxy_v2
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(64)
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    with conn:
        data, seen = b"", None  # a TCP health check connects and closes: nothing to answer
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
            if not data.endswith(b"\\n"):  # the client's line is all there
                continue
            try:
                header = parse_proxy_v2(data)
            except ProxyHeaderError:
                seen = {"proxy": False, "rest": data.decode()}
                break
            if header is not None:
                seen = {"proxy": True, "source": header.source, "destination": header.destination,
                        "vpce": header.vpce_id, "rest": data[header.length:].decode()}
                break
        if seen is not None:
            conn.sendall(json.dumps(seen).encode())
"""


@pytest.fixture
def proxy_aware():
    proc = subprocess.Popen([sys.executable, "-c", PROXY_AWARE], stdout=subprocess.PIPE, text=True)
    try:
        yield int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()


def seen_through(node: str, port: int) -> tuple[dict, tuple[str, int]]:
    """What the target saw of one connection through the NLB, and the client's own address."""
    with socket.create_connection((node, port), timeout=10) as conn:
        conn.sendall(b"hello\n")
        answer = conn.recv(65536)
        return json.loads(answer), conn.getsockname()


def test_the_target_reads_the_client_and_destination_first_when_the_group_says_so(clients, proxy_aware):
    elbv2 = clients.client("elbv2")
    arn, nodes, port = balancer_with(clients, "10.31.0.0/16", dict(Name="proxied", Port=7),
                                     [{"Id": "10.31.0.10", "Port": proxy_aware}])
    seen, _ = seen_through(nodes[0], port)
    assert seen == {"proxy": False, "rest": "hello\n"}  # off by default

    elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "proxy_protocol_v2.enabled", "Value": "true"}])
    for node in nodes:
        seen, client = seen_through(node, port)
        assert seen == {"proxy": True, "source": list(client), "destination": [node, port], "vpce": None,
                        "rest": "hello\n"}


def test_connect_adds_the_endpoint_tlv_and_takes_the_addresses_it_is_given(proxy_aware):
    group = TargetGroup(id="tg", arn="arn", name="tg", account="1", region="r", type="IP", protocol="TCP",
                        protocol_version="", port=7, vpc_id="vpc", health_check=HealthCheck(enabled=False),
                        targets=(Target(key="tg/t", id="127.0.0.1", port=proxy_aware,
                                        address=("127.0.0.1", proxy_aware)),), proxy_protocol_v2=True)
    snapshot = Snapshot(revision=1, nlb_groups={"tg": group},
                        balancers={"lb": NetworkLoadBalancer(id="lb", arn="arn", vpc_id="vpc", listeners={80: "tg"})})

    async def scenario():
        nodes = Nodes(Plane(snapshot=snapshot))
        listener = socket.create_server(("127.0.0.1", 0))
        with listener, socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            started = nodes.connect(accepted, "lb", 80, endpoint_id="vpce-0123456789abcdef0",
                                    client_address=("10.9.8.7", 40000), destination=("10.1.0.16", 80))
            assert started is not None
            loop = asyncio.get_running_loop()
            client.setblocking(False)
            await loop.sock_sendall(client, b"hello\n")
            async with asyncio.timeout(10):
                answer = await loop.sock_recv(client, 65536)
            started.close()
            return json.loads(answer)

    assert asyncio.run(scenario()) == {"proxy": True, "source": ["10.9.8.7", 40000],
                                       "destination": ["10.1.0.16", 80], "vpce": "vpce-0123456789abcdef0",
                                       "rest": "hello\n"}
