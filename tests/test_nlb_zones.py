"""Cross-zone load balancing and DNS failover of network load balancers, through a real server.

A VPC with a subnet in each of two zones carries an NLB with a node in each. Targets get a zone from their
subnet (an IP address in the VPC) or from RegisterTargets' ``AvailabilityZone`` (``all``: every zone). With
cross-zone load balancing off (an NLB's default) a node sends only to targets of its zone; the load balancer
attribute turns it on, the target group's attribute overrides it. The load balancer's name answers only the
nodes whose zone has a healthy target (all of them when none has)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from dataplane_env import wait_for
from test_ec2_endpoints import make_vpc
from test_nlb_udp import answer_from, udp_echoes  # noqa: F401 (a fixture)
from test_nlb_traffic import ECHO, exchange, free_port, until
from test_privatelink_dns import addresses, interfaces_of, resolve


@pytest.fixture
def echoes():
    """Two echo processes on 127.0.0.1: (name, port) each."""
    procs = [subprocess.Popen([sys.executable, "-c", ECHO, name], stdout=subprocess.PIPE, text=True)
             for name in ("one", "two")]
    try:
        yield [(name, int(p.stdout.readline())) for name, p in zip(("one", "two"), procs)], procs
    finally:
        for p in procs:
            p.kill()
            p.wait()


def nlb(clients, server, name: str, cidr: str):
    """An NLB with a node in us-east-1a and one in us-east-1b, a TCP group and a listener: (lb, group ARN,
    listener port, {zone: node address})."""
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    vpc, subnets = make_vpc(ec2, cidr)
    lb = elbv2.create_load_balancer(Name=name, Type="network", Scheme="internal", Subnets=subnets)["LoadBalancers"][0]
    lb_id = lb["LoadBalancerArn"].rsplit("/", 1)[1]
    tg = elbv2.create_target_group(Name=name, Protocol="TCP", Port=7, VpcId=vpc, TargetType="ip",
                                   HealthCheckIntervalSeconds=5)["TargetGroups"][0]["TargetGroupArn"]
    port = free_port()
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    return lb, vpc, tg, port, {i["zone"]: a for a, i in interfaces_of_eventually(server, vpc, lb_id).items()}


def interfaces_of_eventually(server, vpc: str, owner: str) -> dict:
    found: dict = {}

    def both() -> bool:
        found.update(interfaces_of(server, vpc, owner))
        return len(found) == 2
    until(both)
    return found


def reached(node: str, port: int, times: int = 6) -> set[str]:
    """The names of the targets ``times`` connections to ``node`` reach ("reset" for a refused one)."""
    seen = set()
    for _ in range(times):
        try:
            seen.add(exchange(node, port, b"hi").split(b":", 1)[0].decode() or "reset")
        except ConnectionResetError:
            seen.add("reset")
    return seen


def test_without_cross_zone_a_node_sends_only_to_its_zones_targets(clients, server, echoes):
    (one, two), _ = echoes
    elbv2 = clients.client("elbv2")
    lb, vpc, tg, port, nodes = nlb(clients, server, "zones", "10.7.0.0/16")
    # "one" is in the subnet of us-east-1a (found from the address); "two" is outside the VPC, for every zone.
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.7.0.10", "Port": one[1]},
                                                       {"Id": "127.0.0.1", "Port": two[1], "AvailabilityZone": "all"}])
    until(lambda: reached(nodes["us-east-1a"], port) == {"one", "two"})
    assert reached(nodes["us-east-1b"], port) == {"two"}

    elbv2.modify_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"], Attributes=[
        {"Key": "load_balancing.cross_zone.enabled", "Value": "true"}])
    until(lambda: reached(nodes["us-east-1b"], port) == {"one", "two"})

    # The target group's own setting wins over the load balancer's.
    elbv2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "load_balancing.cross_zone.enabled", "Value": "false"}])
    until(lambda: reached(nodes["us-east-1b"], port) == {"two"})
    assert reached(nodes["us-east-1a"], port) == {"one", "two"}


def test_the_name_answers_the_nodes_of_zones_with_a_healthy_target(clients, server, echoes):
    (one, _), procs = echoes
    elbv2 = clients.client("elbv2")
    lb, vpc, tg, port, nodes = nlb(clients, server, "failover", "10.8.0.0/16")
    # The only target is in us-east-1b's subnet: us-east-1a's node has nothing to send to.
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.8.1.10", "Port": one[1]}])
    assert reached(nodes["us-east-1a"], port, times=2) == {"reset"}

    def answers() -> list[str]:
        return sorted(addresses(resolve(server, vpc, lb["DNSName"])))
    until(lambda: answers() == [nodes["us-east-1b"]], timeout=20)
    # A client that resolves the name reaches the target wherever the answer sends it.
    for address in answers() * 3:
        assert exchange(address, port, b"hi") == b"one:hi"

    # With no healthy target anywhere, the name answers every node again (as Route 53 does).
    procs[0].kill()
    procs[0].wait()
    until(lambda: elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]
          ["TargetHealth"]["State"] == "unhealthy", timeout=30)
    assert answers() == sorted(nodes.values())



def test_udp_flows_keep_to_the_nodes_zone_too(clients, server, udp_echoes):
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    vpc, subnets = make_vpc(ec2, "10.11.0.0/16")
    lb = elbv2.create_load_balancer(Name="udp-zones", Type="network", Scheme="internal",
                                    Subnets=subnets)["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="udp-zones", Protocol="UDP", Port=7, VpcId=vpc,
                                   TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    # "one" in us-east-1a's subnet, "two" in us-east-1b's.
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.11.0.10", "Port": udp_echoes["one"]},
                                                       {"Id": "10.11.1.10", "Port": udp_echoes["two"]}])
    port = free_port()
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="UDP", Port=port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    nodes = {i["zone"]: a for a, i in
             interfaces_of_eventually(server, vpc, lb["LoadBalancerArn"].rsplit("/", 1)[1]).items()}
    for zone, name in (("us-east-1a", b"one"), ("us-east-1b", b"two")):
        for _ in range(3):  # new flows (new client sockets), each to the node's own zone's target
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", 0))
                sock.settimeout(2)
                answer = wait_for(lambda: answer_from(nodes[zone], port, sock, b"hi"), timeout=10, what="an answer")
                assert answer == name + b":hi"
