"""Network load balancers move TCP through a real server: boto3 creates an NLB with a TCP listener over a
target group of two echo processes, and a client exchanges bytes with them through both of the NLB's nodes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from dnslib import QTYPE, DNSRecord

from test_ec2_endpoints import make_vpc
from test_privatelink_dns import interfaces_of, vpc_info

# Each echo process answers every chunk with its name first, so the client sees which target it reached.
ECHO = """
import socket, sys
name = sys.argv[1].encode()
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(64)
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(name + b":" + data)
"""


@pytest.fixture
def server(server_by_workers):
    """Every test here runs against one data-plane worker, then two (each binds every node's sockets)."""
    return server_by_workers


@pytest.fixture
def echoes():
    """Two echo processes on 127.0.0.1: (name, port) each."""
    procs = [subprocess.Popen([sys.executable, "-c", ECHO, name], stdout=subprocess.PIPE, text=True)
             for name in ("one", "two")]
    try:
        yield [(name, int(p.stdout.readline())) for name, p in zip(("one", "two"), procs)]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def cross_zone(elbv2, lb_arn: str) -> None:
    """Turn cross-zone load balancing on: every node uses every target (those setups register all their targets
    in the first subnet's zone; with it off, an NLB's default, the other zone's node would have none)."""
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=lb_arn, Attributes=[
        {"Key": "load_balancing.cross_zone.enabled", "Value": "true"}])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resolve(server, vpc_id: str, name: str, owner: str) -> list[str]:
    """The A records of ``name`` from the VPC's resolver (port 53 needs root), else ``owner``'s nodes as the
    server lists them."""
    if os.geteuid() != 0:
        return sorted(interfaces_of(server, vpc_id, owner))
    info = vpc_info(server, vpc_id)
    reply = DNSRecord.parse(DNSRecord.question(name, "A").send(info["resolver"], info["resolverPort"], timeout=5))
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A)


def exchange(address: str, port: int, payload: bytes) -> bytes:
    """Send ``payload``, half-close, and read the whole answer."""
    with socket.create_connection((address, port), timeout=10) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def refused(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def until(condition, timeout: float = 10.0):
    """Poll ``condition`` (a readiness probe) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_an_nlb_relays_tcp_round_robin_to_its_registered_targets(clients, server, echoes):
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    vpc, subnets = make_vpc(ec2, "10.1.0.0/16")
    lb = elbv2.create_load_balancer(Name="moves-tcp", Type="network", Scheme="internal",
                                    Subnets=subnets)["LoadBalancers"][0]
    lb_id = lb["LoadBalancerArn"].rsplit("/", 1)[1]
    cross_zone(elbv2, lb["LoadBalancerArn"])
    tg = elbv2.create_target_group(Name="echoes", Protocol="TCP", Port=7, VpcId=vpc,
                                   TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    # Addresses in the VPC's CIDR map to 127.0.0.1 at the target's port, where the echo processes listen.
    targets = {name: {"Id": f"10.1.0.{10 + i}", "Port": port} for i, (name, port) in enumerate(echoes)}
    elbv2.register_targets(TargetGroupArn=tg, Targets=list(targets.values()))
    port = free_port()
    listener = elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=port,
                                     DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    nodes = resolve(server, vpc, lb["DNSName"], lb_id)
    assert nodes == sorted(interfaces_of(server, vpc, lb_id)) and len(nodes) == 2

    seen = set()
    for i in range(8):  # round robin: each node's turns alternate over both targets
        node = nodes[i % 2]
        payload = b"x" * (100_000 + i)
        answer = exchange(node, port, payload)
        name, _, echoed = answer.partition(b":")
        # An echo process prefixes each chunk it reads; strip those to compare the bytes.
        assert name.decode() in targets and echoed.replace(name + b":", b"") == payload
        seen.add((node, name.decode()))
    assert {name for _, name in seen} == set(targets)

    # Deregistered: no new connection goes to it.
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=[targets["one"]])
    answers = {exchange(nodes[i % 2], port, b"ping") for i in range(6)}
    assert answers == {b"two:ping"}

    # No target left: the client is reset.
    elbv2.deregister_targets(TargetGroupArn=tg, Targets=[targets["two"]])
    with pytest.raises(ConnectionResetError):
        exchange(nodes[0], port, b"ping")

    # The listener deleted: the nodes stop listening on its port.
    elbv2.delete_listener(ListenerArn=listener["Listeners"][0]["ListenerArn"])
    for node in nodes:
        until(lambda: refused(node, port))

    # A listener again, then the load balancer deleted: its nodes stop listening too.
    elbv2.register_targets(TargetGroupArn=tg, Targets=[targets["two"]])
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    assert {exchange(node, port, b"again") for node in nodes} == {b"two:again"}
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    for node in nodes:
        until(lambda: refused(node, port))
