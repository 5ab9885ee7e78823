"""Pure EC2 networking logic: CIDR checks, address allocation, zones, rule grouping (property tests)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latticework.services.ec2.common import Ec2Error
from latticework.services.ec2.interfaces import is_usable, next_free_address, usable_addresses
from latticework.services.ec2.routing import prefix_list_id
from latticework.services.ec2.security import (normalise_protocol, permissions_of, peers_of, port_range,
                                               rule_key)
from latticework.services.ec2.vpcs import parse_ipv4_cidr, region_code, size_allowed, usable_count, vpc_range_allowed


@st.composite
def subnets(draw) -> str:
    prefix = draw(st.integers(min_value=24, max_value=28))
    base = draw(st.integers(min_value=0, max_value=2 ** 32 - 1)) >> (32 - prefix) << (32 - prefix)
    return str(ipaddress.IPv4Network((base, prefix)))


@given(subnets())
def test_usable_addresses_skip_aws_reserved(cidr):
    network = ipaddress.IPv4Network(cidr)
    usable = list(usable_addresses(cidr))
    assert len(usable) == usable_count(network) == network.num_addresses - 5
    assert usable[0] == network.network_address + 4
    assert usable[-1] == network.broadcast_address - 1


@given(subnets(), st.data())
def test_next_free_is_lowest_unused(cidr, data):
    usable = [str(a) for a in usable_addresses(cidr)]
    used = data.draw(st.sets(st.sampled_from(usable)))
    free = next_free_address(cidr, used)
    rest = [a for a in usable if a not in used]
    assert free == (rest[0] if rest else None)
    if free is not None:
        assert is_usable(cidr, free) and free not in used


@settings(max_examples=30)
@given(st.integers(min_value=26, max_value=28))
def test_allocating_until_full_hands_out_each_address_once(prefix):
    cidr = f"10.0.0.0/{prefix}"
    used: list[str] = []
    while (address := next_free_address(cidr, used)) is not None:
        used.append(address)
    assert len(used) == len(set(used)) == ipaddress.IPv4Network(cidr).num_addresses - 5


def test_is_usable_edges():
    assert not is_usable("10.0.1.0/24", "10.0.1.3")
    assert is_usable("10.0.1.0/24", "10.0.1.4")
    assert is_usable("10.0.1.0/24", "10.0.1.254")
    assert not is_usable("10.0.1.0/24", "10.0.1.255")
    assert not is_usable("10.0.1.0/24", "10.0.2.4")
    assert not is_usable("10.0.1.0/24", "nonsense")


@given(st.integers(min_value=0, max_value=32))
def test_cidr_sizes(prefix):
    network = ipaddress.IPv4Network((0x0A000000 >> (32 - prefix) << (32 - prefix) if prefix else 0, prefix))
    assert size_allowed(network) == (16 <= prefix <= 28)


@pytest.mark.parametrize("text", ["10.0.0.0", "10.0.0.1/16", "10.0.0.0/33", "x", "::/0", ""])
def test_parse_rejects(text):
    with pytest.raises(Ec2Error) as exc:
        parse_ipv4_cidr(text)
    assert exc.value.code == "InvalidParameterValue"


def test_vpc_ranges():
    assert vpc_range_allowed(ipaddress.IPv4Network("172.31.0.0/16"))
    assert vpc_range_allowed(ipaddress.IPv4Network("52.0.0.0/16"))
    assert not vpc_range_allowed(ipaddress.IPv4Network("169.254.0.0/16"))
    assert not vpc_range_allowed(ipaddress.IPv4Network("224.0.0.0/16"))


@pytest.mark.parametrize("region, code", [("us-east-1", "use1"), ("us-west-2", "usw2"), ("eu-central-1", "euc1"),
                                          ("ap-southeast-2", "apse2"), ("ap-northeast-1", "apne1"),
                                          ("us-gov-west-1", "usgw1"), ("sa-east-1", "sae1")])
def test_region_codes(region, code):
    assert region_code(region) == code


def test_prefix_list_ids_are_stable_and_distinct():
    ids = {prefix_list_id(r, f"com.amazonaws.{r}.{s}") for r in ("us-east-1", "eu-west-1") for s in ("s3", "dynamodb")}
    assert len(ids) == 4 and all(len(i) == 11 for i in ids)
    assert prefix_list_id("us-east-1", "x") == prefix_list_id("us-east-1", "x")


@pytest.mark.parametrize("given_, stored", [("tcp", "tcp"), ("TCP", "tcp"), ("6", "tcp"), ("17", "udp"),
                                            ("1", "icmp"), ("58", "icmpv6"), ("-1", "-1"), ("all", "-1"),
                                            ("50", "50")])
def test_protocols(given_, stored):
    assert normalise_protocol(given_) == stored


@given(st.integers(min_value=0, max_value=65535), st.integers(min_value=0, max_value=65535))
def test_tcp_port_ranges(a, b):
    if a <= b:
        assert port_range("tcp", a, b) == (a, b)
    else:
        with pytest.raises(Ec2Error):
            port_range("tcp", a, b)
    assert port_range("-1", a, b) == (-1, -1)


cidrs4 = st.builds(lambda n, p: str(ipaddress.IPv4Network((n >> (32 - p) << (32 - p), p))),
                   st.integers(min_value=0, max_value=2 ** 32 - 1), st.integers(min_value=8, max_value=32))
permission = st.fixed_dictionaries({
    "IpProtocol": st.sampled_from(["tcp", "udp"]),
    "FromPort": st.integers(min_value=0, max_value=100),
    "IpRanges": st.lists(st.builds(lambda c: {"CidrIp": c}, cidrs4), min_size=1, max_size=4,
                         unique_by=lambda r: r["CidrIp"]),
})


@given(st.lists(permission, min_size=1, max_size=4))
def test_rules_group_back_into_permissions(perms):
    rules, seen = [], set()
    for perm in perms:
        for peer, _ in peers_of(perm):
            rule = {"IsEgress": False, "IpProtocol": perm["IpProtocol"], "FromPort": perm["FromPort"],
                    "ToPort": perm["FromPort"], **peer}
            if rule_key(rule) not in seen:
                seen.add(rule_key(rule))
                rules.append(rule)
    grouped = permissions_of(rules)
    assert len({(p["IpProtocol"], p["FromPort"]) for p in grouped}) == len(grouped)
    flattened = {(p["IpProtocol"], p["FromPort"], r["CidrIp"]) for p in grouped for r in p["IpRanges"]}
    assert flattened == {(r["IpProtocol"], r["FromPort"], r["CidrIpv4"]) for r in rules}


# -- helpers other families call, in process over a real store ----------------------

@pytest.fixture
def ctx(tmp_path):
    from latticework.api.context import RequestContext
    from latticework.config import Credential
    from latticework.store.sql import SqlStore

    store = SqlStore.sqlite(tmp_path / "state.db")
    account = "123456789012"
    with store.transaction(account, "us-east-1", "Test") as tx:
        yield RequestContext("ec2", "Test", account, "us-east-1", "req", Credential("k", "s", account), tx=tx)
    store.close()


def test_endpoint_routes_and_interfaces(ctx):
    from latticework.services.ec2 import interfaces, routing
    from latticework.services.ec2.provider import Ec2Provider

    ec2 = Ec2Provider()
    vpc = ec2.create_vpc(ctx, {"CidrBlock": "10.0.0.0/16"})["Vpc"]
    subnet = ec2.create_subnet(ctx, {"VpcId": vpc["VpcId"], "CidrBlock": "10.0.1.0/24"})["Subnet"]
    table_id = ec2.create_route_table(ctx, {"VpcId": vpc["VpcId"]})["RouteTable"]["RouteTableId"]
    s3 = routing.prefix_list_by_name(ctx, "com.amazonaws.us-east-1.s3")
    assert s3["PrefixListId"].startswith("pl-") and s3["Cidrs"]
    assert routing.prefix_list_by_name(ctx, "com.amazonaws.us-east-1.nope") is None

    routing.add_endpoint_route(ctx, table_id, s3["PrefixListId"], "vpce-0123456789abcdef0")
    routing.add_endpoint_route(ctx, table_id, s3["PrefixListId"], "vpce-0123456789abcdef0")  # idempotent
    with pytest.raises(Ec2Error) as exc:
        routing.add_endpoint_route(ctx, table_id, s3["PrefixListId"], "vpce-0123456789abcdef1")
    assert exc.value.code == "RouteAlreadyExists"
    [table] = ec2.describe_route_tables(ctx, {"RouteTableIds": [table_id]})["RouteTables"]
    assert table["Routes"][1] == {"DestinationPrefixListId": s3["PrefixListId"], "GatewayId": "vpce-0123456789abcdef0",
                                  "Origin": "CreateRoute", "State": "active"}
    with pytest.raises(Ec2Error) as exc:
        ec2.delete_route(ctx, {"RouteTableId": table_id, "DestinationPrefixListId": s3["PrefixListId"]})
    assert exc.value.code == "InvalidParameterValue"
    routing.remove_endpoint_routes(ctx, "vpce-0123456789abcdef0")
    [table] = ec2.describe_route_tables(ctx, {"RouteTableIds": [table_id]})["RouteTables"]
    assert len(table["Routes"]) == 1

    eni = interfaces.create_interface(ctx, subnet["SubnetId"], description="VPC Endpoint Interface vpce-1",
                                      group_ids=[], interface_type="vpc_endpoint", requester_id="727180483921")
    assert eni["PrivateIpAddress"] == "10.0.1.4" and eni["RequesterManaged"] is True
    assert eni["Status"] == "in-use" and eni["InterfaceType"] == "vpc_endpoint"
    assert eni["RequesterId"] == "727180483921" and eni["Groups"][0]["GroupName"] == "default"
    [shown] = ec2.describe_subnets(ctx, {"SubnetIds": [subnet["SubnetId"]]})["Subnets"]
    assert shown["AvailableIpAddressCount"] == 250
    with pytest.raises(Ec2Error) as exc:
        ec2.delete_network_interface(ctx, {"NetworkInterfaceId": eni["NetworkInterfaceId"]})
    assert exc.value.code == "InvalidNetworkInterface.InUse"
    interfaces.delete_interface(ctx, eni["NetworkInterfaceId"])
    [shown] = ec2.describe_subnets(ctx, {"SubnetIds": [subnet["SubnetId"]]})["Subnets"]
    assert shown["AvailableIpAddressCount"] == 251
