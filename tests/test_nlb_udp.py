"""UDP listeners on network load balancers through a real server: each client's datagrams go to one target (a
flow), flows take turns over the targets, replies come back from the address the client sent to, and a TCP_UDP
listener serves both on one port."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from dataplane_env import wait_for
from test_ec2_endpoints import make_vpc
from test_nlb_traffic import cross_zone, exchange, free_port
from test_privatelink_dns import interfaces_of

# Answers each datagram with its name first, and listens on TCP at the same port (the health checks' default
# port is the traffic port, checked over TCP), echoing there too.
UDP_ECHO = """
import socket, sys, threading
name = sys.argv[1].encode()
while True:  # a UDP port whose TCP twin is free too
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    tcp = socket.socket()
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        tcp.bind(("127.0.0.1", port))
        break
    except OSError:
        udp.close()
        tcp.close()
tcp.listen(64)
def serve_tcp():
    while True:
        conn, _ = tcp.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(name + b":" + data)
threading.Thread(target=serve_tcp, daemon=True).start()
print(port, flush=True)
while True:
    data, peer = udp.recvfrom(65535)
    udp.sendto(name + b":" + data, peer)
"""


@pytest.fixture
def udp_echoes():
    procs = [subprocess.Popen([sys.executable, "-c", UDP_ECHO, name], stdout=subprocess.PIPE, text=True)
             for name in ("one", "two")]
    try:
        yield {name: int(p.stdout.readline()) for name, p in zip(("one", "two"), procs)}
    finally:
        for p in procs:
            p.kill()
            p.wait()


def ask(sock: socket.socket, node: str, port: int, payload: bytes) -> tuple[bytes, tuple]:
    sock.sendto(payload, (node, port))
    return sock.recvfrom(65535)


def answer_from(node: str, port: int, sock: socket.socket, payload: bytes) -> bytes | None:
    """One datagram's answer through the NLB (None if none came: the listener may still be starting)."""
    try:
        data, sender = ask(sock, node, port, payload)
    except socket.timeout:
        return None
    assert sender == (node, port)  # replies come from where the client sent
    return data


@pytest.mark.parametrize("protocol", ["UDP", "TCP_UDP"])
def test_an_nlb_relays_udp_flows(clients, udp_echoes, protocol):
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    cidr = "10.51.0.0/16" if protocol == "UDP" else "10.52.0.0/16"
    base = cidr.rsplit(".", 2)[0]
    vpc, subnets = make_vpc(ec2, cidr)
    lb = elbv2.create_load_balancer(Name=f"udp-{protocol.lower().replace('_', '-')}", Type="network",
                                    Scheme="internal", Subnets=subnets)["LoadBalancers"][0]
    cross_zone(elbv2, lb["LoadBalancerArn"])
    tg = elbv2.create_target_group(Name=f"echo-{protocol.lower().replace('_', '-')}", Protocol=protocol, Port=7,
                                   VpcId=vpc, TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": f"{base}.0.{10 + i}", "Port": port}
                                                       for i, port in enumerate(udp_echoes.values())])
    port = free_port()
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol=protocol, Port=port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    nodes = sorted(interfaces_of(clients.server, vpc, lb["LoadBalancerArn"].rsplit("/", 1)[1]))

    flows = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(6)]
    try:
        for sock in flows:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(2)
        # Each client's flow sticks to one target; flows take turns over both.
        reached = []
        for i, sock in enumerate(flows):
            first = wait_for(lambda: answer_from(nodes[i % 2], port, sock, b"hi"), timeout=10, what="an answer")
            name = first.split(b":")[0]
            assert first == name + b":hi" and name in (b"one", b"two")
            for n in range(3):
                assert answer_from(nodes[i % 2], port, sock, b"again %d" % n) == name + b":again %d" % n
            reached.append(name)
        assert set(reached) == {b"one", b"two"}
    finally:
        for sock in flows:
            sock.close()
    if protocol == "TCP_UDP":  # the same port takes TCP connections too
        assert exchange(nodes[0], port, b"tcp").split(b":")[1] == b"tcp"
