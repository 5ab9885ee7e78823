"""PrivateLink carries TCP through a real server: a consumer's interface endpoint -> the provider's endpoint
service -> its network load balancer -> echo processes.

The provider (one account) puts two echo processes behind an NLB and offers it as an endpoint service that
requires acceptance, with a verified private DNS name; the consumer (another account) creates an interface
endpoint in its VPC. A real TCP client runs inside the consumer VPC (``latticework exec --vpc``) and connects
by the endpoint's DNS names: refused before the provider accepts, echoed after, and an open connection is
reset when the provider rejects the connection. Exec needs mount namespaces and the resolvers port 53: root.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys

import pytest

import conftest
from conftest import Clients, account_id, client_for
from latticework.dataplane.listeners import wanted_sockets
from latticework.fabric.exec import check_support
from latticework.snapshot import compile_snapshot
from latticework.snapshot.compile import Compiler
from test_ec2_endpoints import allow, interface_endpoint, make_vpc
from test_nlb_traffic import echoes, free_port, refused  # noqa: F401 (echoes is a fixture)
from test_privatelink_dns import interfaces_of
from test_privatelink_units import endpoint, eni, rec, topology
from test_snapshot import _view_of

SUPPORT = check_support()
needs_exec = pytest.mark.skipif(os.geteuid() != 0 or SUPPORT is not None,
                                reason=f"exec needs root and mount namespaces ({SUPPORT or 'not root'})")

# A plain TCP client: for each name, connect, send, print the answer; with "hold", then wait for the last
# connection's end.
CLIENT = """
import socket, sys
port, mode, names = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
for name in names:
    try:
        conn = socket.create_connection((name, port), timeout=10)
    except OSError as exc:
        print(type(exc).__name__, flush=True)
        sys.exit(3)
    conn.sendall(b"hello")
    print(conn.recv(65536).decode(), flush=True)
if mode == "hold":
    conn.settimeout(30)
    try:
        print("closed" if not conn.recv(65536) else "more", flush=True)
    except ConnectionResetError:
        print("reset", flush=True)
"""


@pytest.fixture
def server(server_by_workers):
    """Against one data-plane worker, then two (each holds its own relays, and each must cut them)."""
    return server_by_workers


@pytest.fixture
def consumer(server) -> Clients:
    n = next(conftest._accounts)
    return Clients(n, account_id(n), client_for(server, "vpc-lattice", n), client_for(server, "sts", n), server)


def in_vpc(server, vpc: str, port: int, *names: str, hold: bool = False):
    """``CLIENT`` run inside ``vpc`` by ``latticework exec``, connecting to each of ``names`` on ``port``."""
    command = [sys.executable, "-m", "latticework", "exec", "--endpoint", server.url, "--vpc", vpc, "--",
               sys.executable, "-c", CLIENT, str(port), "hold" if hold else "once", *names]
    if hold:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def provider_nlb(clients, echoes, zones=("a", "b"), name="provider", cidr="10.1.0.0/16", port=None):
    """An NLB over ``echoes`` (addresses of the VPC, mapped to the echo processes' ports): (its ARN, port)."""
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    vpc, subnets = make_vpc(ec2, cidr, zones=zones)
    lb = elbv2.create_load_balancer(Name=name, Type="network", Scheme="internal",
                                    Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(Name=name, Protocol="TCP", Port=7, VpcId=vpc,
                                   TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    prefix = cidr.rsplit(".", 2)[0]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": f"{prefix}.0.{10 + i}", "Port": p}
                                                       for i, (_, p) in enumerate(echoes)])
    port = port or free_port()
    elbv2.create_listener(LoadBalancerArn=lb, Protocol="TCP", Port=port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    return lb, port


def verify_private_name(server, ec2, service: dict) -> None:
    config = service["PrivateDnsNameConfiguration"]
    with (server.state.parent / "public-dns.txt").open("a") as out:
        out.write(f'{config["Name"]}.{service["PrivateDnsName"]} IN TXT "{config["Value"]}"\n')
    ec2.start_vpc_endpoint_service_private_dns_verification(ServiceId=service["ServiceId"])


@needs_exec
def test_a_consumer_reaches_the_providers_nlb_only_while_the_connection_is_accepted(clients, consumer, server,
                                                                                     echoes):
    provider_ec2 = clients.client("ec2")
    lb, port = provider_nlb(clients, echoes)
    domain = f"echo-{clients.account}.example.com"
    service = provider_ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[lb], AcceptanceRequired=True, PrivateDnsName=domain)["ServiceConfiguration"]
    verify_private_name(server, provider_ec2, service)
    allow(provider_ec2, service["ServiceId"], consumer.account)
    topic = f"arn:aws:sns:us-east-1:{clients.account}:traffic-events"
    provider_ec2.create_vpc_endpoint_connection_notification(
        ServiceId=service["ServiceId"], ConnectionNotificationArn=topic, ConnectionEvents=["Accept", "Reject"])
    ec2 = consumer.client("ec2")
    vpc, subnets = make_vpc(ec2, "10.2.0.0/16")
    created = interface_endpoint(ec2, service["ServiceName"], vpc, subnets, PrivateDnsEnabled=True)
    assert created["State"] == "pendingAcceptance"
    regional, zonal, *_ = (e["DnsName"] for e in created["DnsEntries"])
    names = [e["DnsName"] for e in created["DnsEntries"]]
    assert domain in names

    # Waiting for acceptance: the name resolves (AWS creates it with the endpoint), the connection is refused.
    before = in_vpc(server, vpc, port, regional)
    assert (before.returncode, before.stdout.strip()) == (3, "ConnectionRefusedError"), before.stderr

    provider_ec2.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"],
                                                 VpcEndpointIds=[created["VpcEndpointId"]])
    after = in_vpc(server, vpc, port, regional, zonal, domain)
    assert after.returncode == 0, after.stderr
    answers = after.stdout.split()
    assert len(answers) == 3 and set(answers) <= {"one:hello", "two:hello"}

    # An open connection through the endpoint is reset when the provider rejects the connection.
    held = in_vpc(server, vpc, port, regional, hold=True)
    try:
        assert held.stdout.readline().strip() in ("one:hello", "two:hello")
        provider_ec2.reject_vpc_endpoint_connections(ServiceId=service["ServiceId"],
                                                     VpcEndpointIds=[created["VpcEndpointId"]])
        assert held.stdout.readline().strip() == "reset"
        assert held.wait(timeout=30) == 0
    finally:
        held.kill()
        held.wait()
    for address in interfaces_of(server, vpc, created["VpcEndpointId"]):
        assert refused(address, port)
    assert events(server, clients.account, "traffic-events") == [
        ("Accept", created["VpcEndpointId"], "available"), ("Reject", created["VpcEndpointId"], "rejected")]


def events(server, account: str, topic: str) -> list[tuple[str, str, str]]:
    """The connection notifications delivered to ``topic`` (a local file stands in for SNS, see the README)."""
    path = server.state.parent / "notifications" / account / "us-east-1" / f"{topic}.jsonl"
    inner = [json.loads(json.loads(line)["Message"]) for line in path.read_text().splitlines()]
    return [(i["eventType"], i["vpcEndpointId"], i["vpcEndpointState"]) for i in inner]


@needs_exec
def test_each_zone_uses_its_own_nlb_and_removing_an_interface_or_the_endpoint_cuts_connections(clients, server, echoes):
    ec2 = clients.client("ec2")
    one, two = echoes
    lb_a, port = provider_nlb(clients, [one], zones=("a",), name="zone-a", cidr="10.1.0.0/16")
    lb_b, _ = provider_nlb(clients, [two], zones=("b",), name="zone-b", cidr="10.3.0.0/16", port=port)
    service = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[lb_a, lb_b], AcceptanceRequired=False)["ServiceConfiguration"]
    vpc, subnets = make_vpc(ec2, "10.2.0.0/16")
    created = interface_endpoint(ec2, service["ServiceName"], vpc, subnets)
    assert created["State"] == "available"
    ec2.create_vpc_endpoint_connection_notification(
        VpcEndpointId=created["VpcEndpointId"], ConnectionEvents=["Delete"],
        ConnectionNotificationArn=f"arn:aws:sns:us-east-1:{clients.account}:zone-events")
    by_zone = {i["zone"]: a for a, i in interfaces_of(server, vpc, created["VpcEndpointId"]).items()}
    for zone, name in (("us-east-1a", "one"), ("us-east-1b", "two")):
        for _ in range(3):
            with socket.create_connection((by_zone[zone], port), timeout=10) as conn:
                conn.sendall(b"ping")
                assert conn.recv(100) == f"{name}:ping".encode()

    # Removing a subnet deletes the endpoint's interface there: connections through it are reset, others go on.
    kept, dropped = (socket.create_connection((by_zone[z], port), timeout=10) for z in ("us-east-1a", "us-east-1b"))
    with kept, dropped:
        dropped.sendall(b"ping")
        assert dropped.recv(100) == b"two:ping"
        ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], RemoveSubnetIds=[subnets[1]])
        with pytest.raises(ConnectionResetError):
            dropped.recv(100)
        kept.sendall(b"still")
        assert kept.recv(100) == b"one:still"

    held = socket.create_connection((by_zone["us-east-1a"], port), timeout=10)
    with held:
        held.sendall(b"ping")
        assert held.recv(100) == b"one:ping"
        assert ec2.delete_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])["Unsuccessful"] == []
        with pytest.raises(ConnectionResetError):
            held.recv(100)
    assert events(server, clients.account, "zone-events") == [("Delete", created["VpcEndpointId"], "deleted")]


# -- the compiled endpoint, without a server -------------------------------------------------------

def nlb_records(id: str, zones: dict[str, int], port: int = 5432) -> list:
    """A network load balancer with a node per zone (zone -> host number in vpc-p) and a TCP listener."""
    nodes = [eni(f"eni-{id}-{zone}", "vpc-p", zone, host, id, f"10.1.{host}.4") for zone, host in zones.items()]
    return [rec("loadbalancer", id, {"Type": "network", "DNSName": f"{id}.elb.amazonaws.com", "VpcId": "vpc-p"}),
            *nodes, rec("elbv2-targetgroup", f"tg-{id}", {"Protocol": "TCP", "Port": 7, "VpcId": "vpc-p"}),
            child("elbv2-listener", f"li-{id}", id, {"Protocol": "TCP", "Port": port, "DefaultActions": [
                {"Type": "forward", "TargetGroupArn": f"arn:elbv2-targetgroup/tg-{id}"}]})]


def child(kind, id, parent, body):
    record = rec(kind, id, body)
    return dataclasses.replace(record, parent=parent)


def connected(state="available", service_id="vpce-svc-0bbb"):
    found = endpoint(state=state, private=False)
    return dataclasses.replace(found, internal={**found.internal, "ServiceId": service_id})


def endpoint_service(*lbs: str):
    return rec("vpcendpointservice", "vpce-svc-0bbb",
               {"NetworkLoadBalancerArns": [f"arn:loadbalancer/{lb}" for lb in lbs]})


def test_an_endpoint_uses_its_zones_balancer_and_listens_on_their_ports_only_while_available():
    records = [*nlb_records("lb-a", {"us-east-1a": 20}), *nlb_records("lb-b", {"us-east-1a": 21, "us-east-1b": 22})]
    snap = compile_snapshot(topology(endpoint_service("lb-a", "lb-b"), connected(), *records))
    compiled = snap.endpoints["vpce-0aaa"]
    assert compiled.balancers == ("lb-a", "lb-b") and compiled.available
    assert compiled.zonal == {"us-east-1a": "lb-a", "us-east-1b": "lb-b"}  # the first balancer in each zone
    assert compiled.balancer_for("us-east-1b", 5432, snap.balancers) == "lb-b"
    assert compiled.balancer_for("us-east-1c", 5432, snap.balancers) == "lb-a"  # no balancer there: any
    assert compiled.balancer_for("us-east-1a", 80, snap.balancers) is None
    mine = {k: v for k, v in wanted_sockets(snap).items() if k[0].startswith("127.64.1.")}
    assert mine == {("127.64.1.16", 5432): "TCP", ("127.64.1.17", 5432): "TCP"}
    for state in ("pendingAcceptance", "rejected"):
        waiting = compile_snapshot(topology(endpoint_service("lb-a"), connected(state), *records))
        assert not waiting.endpoints["vpce-0aaa"].available
        assert not any(a.startswith("127.64.1.") for a, _ in wanted_sockets(waiting))


def test_endpoints_follow_their_service_and_balancers_incrementally():
    records = [*nlb_records("lb-a", {"us-east-1a": 20}), *nlb_records("lb-b", {"us-east-1b": 22})]
    base = topology(endpoint_service("lb-a"), connected(), *records)
    compiler = Compiler()
    compiler.load(base)
    steps = [
        {("vpcendpointservice", "vpce-svc-0bbb"): endpoint_service("lb-b", "lb-a")},  # the service adds lb-b
        {("networkinterface", "eni-lb-b-us-east-1a"): eni("eni-lb-b-us-east-1a", "vpc-p", "us-east-1a", 23,
                                                          "lb-b", "10.1.23.4")},  # lb-b gets a node in 1a
        {("loadbalancer", "lb-a"): None},  # lb-a deleted
        {("vpcendpoint", "vpce-0aaa"): connected("rejected")},
    ]
    records_now = {(r.kind, r.id): r for kind in base.records for r in base.records[kind]}
    for revision, changed in enumerate(steps, start=2):
        incremental = compiler.update(revision, changed)
        records_now.update(changed)
        fresh = compile_snapshot(_view_of({k: v for k, v in records_now.items() if v is not None}, revision))
        assert incremental.endpoints == fresh.endpoints
    last = incremental.endpoints["vpce-0aaa"]
    assert last.balancers == ("lb-b",) and not last.available
    assert last.zonal == {"us-east-1a": "lb-b", "us-east-1b": "lb-b"}
