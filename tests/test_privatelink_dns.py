"""PrivateLink names through a real server: boto3 creates load balancers and endpoints, and each VPC's
resolver (on port 53 of its fabric address, as ``exec`` uses it) is asked what they resolve to."""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.request

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

import conftest
from conftest import Clients, account_id, client_for
from test_ec2_endpoints import allow, interface_endpoint, make_vpc

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="VPC resolvers listen on port 53, which needs root")


@pytest.fixture
def other(server) -> Clients:
    n = next(conftest._accounts)
    return Clients(n, account_id(n), client_for(server, "vpc-lattice", n), client_for(server, "sts", n), server)


def vpc_info(server, vpc_id: str) -> dict:
    with urllib.request.urlopen(f"{server.url}/_latticework/vpcs/{vpc_id}", timeout=10) as reply:
        return json.load(reply)


def resolve(server, vpc_id: str, name: str) -> DNSRecord:
    """Ask the VPC's resolver for the A records of ``name``."""
    info = vpc_info(server, vpc_id)
    reply = DNSRecord.question(name, "A").send(info["resolver"], info["resolverPort"], timeout=5)
    return DNSRecord.parse(reply)


def addresses(reply: DNSRecord) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A)


def interfaces_of(server, vpc_id: str, owner: str) -> dict[str, dict]:
    """The VPC's fabric interfaces serving ``owner``, by fabric address."""
    return {i["address"]: i for i in vpc_info(server, vpc_id)["interfaces"] if i["owner"] == owner}


def in_block(server, vpc_id: str, address: str) -> bool:
    block = ipaddress.IPv4Network(vpc_info(server, vpc_id)["resolver"] + "/24", strict=False)
    return ipaddress.IPv4Address(address) in block and int(address.rsplit(".", 1)[1]) >= 16


def test_a_load_balancer_name_resolves_in_every_vpc_to_its_nodes(clients, server):
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    provider, subnets = make_vpc(ec2, "10.1.0.0/16")
    elsewhere, _ = make_vpc(ec2, "10.9.0.0/16")
    lb = elbv2.create_load_balancer(Name="names", Type="network", Scheme="internal",
                                    Subnets=subnets)["LoadBalancers"][0]
    lb_id = lb["LoadBalancerArn"].rsplit("/", 1)[1]
    nodes = interfaces_of(server, provider, lb_id)
    assert len(nodes) == 2 and all(in_block(server, provider, a) for a in nodes)
    # Each node keeps the private address the EC2 API shows; the fabric address is where it is reached.
    shown = ec2.describe_network_interfaces(NetworkInterfaceIds=[n["networkInterfaceId"] for n in nodes.values()])
    assert {i["PrivateIpAddress"] for i in shown["NetworkInterfaces"]} == {n["privateIpAddress"]
                                                                           for n in nodes.values()}
    for vpc_id in (elsewhere, provider):
        reply = resolve(server, vpc_id, lb["DNSName"])
        assert addresses(reply) == sorted(nodes) and all(rr.ttl == 60 for rr in reply.rr)
    # Deleting the load balancer frees its addresses: the next one gets the same, lowest first.
    elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    assert interfaces_of(server, provider, lb_id) == {}
    again = elbv2.create_load_balancer(Name="names2", Type="network", Subnets=subnets)["LoadBalancers"][0]
    assert set(interfaces_of(server, provider, again["LoadBalancerArn"].rsplit("/", 1)[1])) == set(nodes)
    # The old name is not ours any more: it is forwarded to the host's resolvers (public DNS has no such name).
    assert sorted(nodes)[0] not in addresses(resolve(server, elsewhere, lb["DNSName"]))


def make_service(clients, **extra):
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    _, subnets = make_vpc(ec2, "10.1.0.0/16")
    lb = elbv2.create_load_balancer(Name="provider", Type="network", Subnets=subnets)["LoadBalancers"][0]
    return ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[lb["LoadBalancerArn"]],
                                                         **extra)["ServiceConfiguration"]


def test_endpoint_names_resolve_to_its_interfaces_until_it_is_deleted(clients, other, server):
    service = make_service(clients, AcceptanceRequired=True)
    allow(clients.client("ec2"), service["ServiceId"], other.account)
    ec2 = other.client("ec2")
    consumer, subnets = make_vpc(ec2, "10.2.0.0/16")
    elsewhere, _ = make_vpc(ec2, "10.3.0.0/16")
    created = interface_endpoint(ec2, service["ServiceName"], consumer, subnets)
    regional, zonal_a, zonal_b = (e["DnsName"] for e in created["DnsEntries"])
    # Waiting for acceptance: the interfaces hold addresses and the names resolve (AWS creates them with the
    # endpoint); connections are refused until the provider accepts (test_privatelink_traffic).
    held = interfaces_of(server, consumer, created["VpcEndpointId"])
    assert len(held) == 2 and all(in_block(server, consumer, a) for a in held)
    assert addresses(resolve(server, consumer, regional)) == sorted(held)
    clients.client("ec2").accept_vpc_endpoint_connections(ServiceId=service["ServiceId"],
                                                          VpcEndpointIds=[created["VpcEndpointId"]])
    by_zone = {i["zone"]: a for a, i in held.items()}
    for vpc_id in (consumer, elsewhere):
        assert addresses(resolve(server, vpc_id, regional)) == sorted(held)
        assert addresses(resolve(server, vpc_id, zonal_a)) == [by_zone["us-east-1a"]]
        assert addresses(resolve(server, vpc_id, zonal_b)) == [by_zone["us-east-1b"]]
    # Deleted: the addresses are free and the names are NXDOMAIN (the service's zone is this server's).
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])["Unsuccessful"] == []
    assert interfaces_of(server, consumer, created["VpcEndpointId"]) == {}
    for name in (regional, zonal_a):
        assert resolve(server, elsewhere, name).header.rcode == RCODE.NXDOMAIN


def test_the_private_dns_name_resolves_in_the_consumer_vpc_once_verified_and_enabled(clients, server):
    ec2 = clients.client("ec2")
    domain = f"names-{clients.account}.example.com"
    service = make_service(clients, AcceptanceRequired=False, PrivateDnsName=domain)
    consumer, subnets = make_vpc(ec2, "10.2.0.0/16")
    elsewhere, _ = make_vpc(ec2, "10.3.0.0/16")
    created = interface_endpoint(ec2, service["ServiceName"], consumer, subnets, PrivateDnsEnabled=False)
    held = sorted(interfaces_of(server, consumer, created["VpcEndpointId"]))
    assert addresses(resolve(server, consumer, domain)) != held  # not enabled (nor verified): forwarded
    config = service["PrivateDnsNameConfiguration"]
    with (server.state.parent / "public-dns.txt").open("a") as out:
        out.write(f'{config["Name"]}.{domain} IN TXT "{config["Value"]}"\n')
    ec2.start_vpc_endpoint_service_private_dns_verification(ServiceId=service["ServiceId"])
    assert addresses(resolve(server, consumer, domain)) != held  # verified, not enabled on the endpoint
    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], PrivateDnsEnabled=True)
    assert addresses(resolve(server, consumer, domain)) == held
    assert addresses(resolve(server, elsewhere, domain)) != held  # only inside the consumer VPC


def test_an_aws_service_endpoint_with_private_dns_answers_the_services_name_inside_its_vpc(clients, server):
    ec2 = clients.client("ec2")
    consumer, subnets = make_vpc(ec2, "10.2.0.0/16")
    elsewhere, _ = make_vpc(ec2, "10.3.0.0/16")
    sqs = interface_endpoint(ec2, "com.amazonaws.us-east-1.sqs", consumer, subnets)
    s3 = interface_endpoint(ec2, "com.amazonaws.us-east-1.s3", consumer, subnets[:1])
    assert sqs["PrivateDnsEnabled"] and s3["PrivateDnsEnabled"]
    sqs_held = sorted(interfaces_of(server, consumer, sqs["VpcEndpointId"]))
    s3_held = sorted(interfaces_of(server, consumer, s3["VpcEndpointId"]))
    assert len(sqs_held) == 2 and len(s3_held) == 1 and not set(sqs_held) & set(s3_held)
    assert addresses(resolve(server, consumer, "sqs.us-east-1.amazonaws.com")) == sqs_held
    assert addresses(resolve(server, consumer, "s3.us-east-1.amazonaws.com")) == s3_held
    assert addresses(resolve(server, consumer, "my-bucket.s3.us-east-1.amazonaws.com")) == s3_held
    assert addresses(resolve(server, consumer, sqs["DnsEntries"][0]["DnsName"])) == sqs_held
    # Another VPC asks the host's resolvers: whatever public DNS says, not this VPC's endpoint.
    assert not set(addresses(resolve(server, elsewhere, "sqs.us-east-1.amazonaws.com"))) & set(sqs_held)
