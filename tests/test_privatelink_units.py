"""PrivateLink addressing without a server: fabric host numbers, and the names compiled from hand-built
load balancer, endpoint and interface records (which VPC resolves what, incremental equals fresh)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings, strategies as st

from latticework import fabric
from latticework.api.errors import ServiceError
from latticework.dns.resolver import FORWARD, answer
from latticework.records.ec2 import FABRIC_HOST, FABRIC_INDEX, FABRIC_OWNER
from latticework.snapshot import Inconsistent, compile_snapshot
from latticework.snapshot.compile import Compiler, check
from latticework.snapshot.model import LOAD_BALANCER, VPC_ENDPOINT, lookup
from latticework.store import Record, StoreView
from test_dns import addresses, q
from latticework.store.sql import SqlStore
from test_internal_fields import ACCOUNT, REGION, Calls
from test_snapshot import _keyed, _view_of

RANGE = ipaddress.IPv4Network(fabric.DEFAULT_RANGE)

# -- host numbers ---------------------------------------------------------------------------------


@given(st.sets(st.integers(0, 300)))
def test_lowest_free_host_is_the_lowest_unused_interface_number(used):
    found = fabric.lowest_free_host(used)
    free = [n for n in range(fabric.FIRST_ENDPOINT_HOST, fabric.LAST_ENDPOINT_HOST + 1) if n not in used]
    assert found == (free[0] if free else None)


def test_allocating_until_full_then_releasing_one():
    used: list[int] = []
    while (n := fabric.lowest_free_host(used)) is not None:
        used.append(n)
    assert used == list(range(16, 255)) and len(used) == fabric.INTERFACE_CAPACITY
    used.remove(40)  # an interface deleted: its number is the next one handed out
    assert fabric.lowest_free_host(used) == 40


def test_interface_addresses_stay_inside_the_block_and_clear_of_its_fixed_addresses():
    block = fabric.Fabric().block(3)
    assert block.interface(16) == "127.64.3.16" and block.interface(254) == "127.64.3.254"
    for bad in (2, 10, 15, 255):
        with pytest.raises(ValueError):
            block.interface(bad)


# -- compiled names -------------------------------------------------------------------------------

def rec(kind, id, body, internal=None, rev=1, status=None):
    return Record(kind, id, ACCOUNT, REGION, body, arn=f"arn:{kind}/{id}", created_rev=rev, revision=rev,
                  internal=internal or {}, status=status)


def vpc(id, index):
    return rec("vpc", id, {"VpcId": id, "CidrBlock": "10.0.0.0/16"}, {FABRIC_INDEX: index})


def eni(id, vpc_id, zone, host, owner, ip):
    return rec("networkinterface", id, {"NetworkInterfaceId": id, "VpcId": vpc_id, "AvailabilityZone": zone,
                                        "PrivateIpAddress": ip}, {FABRIC_HOST: host, FABRIC_OWNER: owner})


NLB_NAME = "web-0123456789abcdef.elb.us-east-1.amazonaws.com"
SUFFIX = "1a2b3c4d"
BASE = f"vpce-0aaa-{SUFFIX}"
TAIL = f"vpce-svc-0bbb.{REGION}.vpce.amazonaws.com"
PRIVATE = "api.example.com"


def endpoint(id="vpce-0aaa", vpc_id="vpc-c", state="available", private=True, tail=TAIL, private_name=PRIVATE):
    base = f"{id}-{SUFFIX}"
    entries = [{"DnsName": f"{base}.{tail}"}, {"DnsName": f"{base}-us-east-1a.{tail}"},
               {"DnsName": f"{base}-us-east-1b.{tail}"}] + ([{"DnsName": private_name}] if private else [])
    return rec("vpcendpoint", id, {"VpcEndpointId": id, "VpcEndpointType": "Interface", "VpcId": vpc_id,
                                   "State": state, "DnsEntries": entries, "PrivateDnsEnabled": private},
               {"Suffix": SUFFIX, "PrivateName": private_name if private else None})


def topology(*extra: Record) -> StoreView:
    records = [vpc("vpc-p", 0), vpc("vpc-c", 1), vpc("vpc-x", 2),
               rec("loadbalancer", "lb1", {"Type": "network", "DNSName": NLB_NAME, "VpcId": "vpc-p"}),
               eni("eni-n1", "vpc-p", "us-east-1a", 16, "lb1", "10.1.0.4"),
               eni("eni-n2", "vpc-p", "us-east-1b", 17, "lb1", "10.1.1.4"),
               endpoint(),
               eni("eni-e1", "vpc-c", "us-east-1a", 16, "vpce-0aaa", "10.2.0.4"),
               eni("eni-e2", "vpc-c", "us-east-1b", 17, "vpce-0aaa", "10.2.1.4"),
               *extra]
    return _view_of({(r.kind, r.id): r for r in records}, 1)


def test_interfaces_are_at_their_vpcs_block_by_host_number():
    snapshot = compile_snapshot(topology())
    nodes = {a: i for a, i in snapshot.interfaces.items() if i.owner_kind == LOAD_BALANCER}
    assert sorted(nodes) == ["127.64.0.16", "127.64.0.17"]
    assert nodes["127.64.0.16"].private_ip == "10.1.0.4" and nodes["127.64.0.16"].zone == "us-east-1a"
    assert {i.owner_kind for a, i in snapshot.interfaces.items() if a.startswith("127.64.1.")} == {VPC_ENDPOINT}


def test_addresses_follow_the_vpcs_block_to_another_range():
    moved = compile_snapshot(topology(), fabric.Fabric.parse("127.8.0.0/16"))
    assert moved.names[NLB_NAME] == ("127.8.0.16", "127.8.0.17")
    assert sorted(moved.interfaces)[:2] == ["127.8.0.16", "127.8.0.17"]


def test_public_names_resolve_everywhere_and_private_names_in_the_consumer_vpc_only():
    snapshot = compile_snapshot(topology())
    assert snapshot.names[NLB_NAME] == ("127.64.0.16", "127.64.0.17")
    assert snapshot.names[f"{BASE}.{TAIL}"] == ("127.64.1.16", "127.64.1.17")
    assert snapshot.names[f"{BASE}-us-east-1b.{TAIL}"] == ("127.64.1.17",)
    assert snapshot.vpcs["vpc-c"].names == {PRIVATE: ("127.64.1.16", "127.64.1.17")}
    assert snapshot.vpcs["vpc-x"].names == {} and PRIVATE not in snapshot.names
    for view in snapshot.vpcs.values():  # the resolver of any VPC answers the public names
        assert addresses(answer(view, q(NLB_NAME), snapshot.names)) == ["127.64.0.16", "127.64.0.17"]
    assert answer(snapshot.vpcs["vpc-x"], q(PRIVATE), snapshot.names) is FORWARD
    assert addresses(answer(snapshot.vpcs["vpc-c"], q(PRIVATE), snapshot.names)) == ["127.64.1.16", "127.64.1.17"]


def test_unknown_names_in_an_endpoint_service_zone_are_nxdomain_others_are_forwarded():
    snapshot = compile_snapshot(topology())
    view = snapshot.vpcs["vpc-x"]
    assert answer(view, q(f"vpce-0ccc-{SUFFIX}.{TAIL}"), snapshot.names).header.rcode == 3
    assert answer(view, q(TAIL), snapshot.names).header.rcode == 0  # names lie below it: NODATA
    assert answer(view, q("gone-0123.elb.us-east-1.amazonaws.com"), snapshot.names) is FORWARD
    assert answer(view, q(f"vpce-0ccc-{SUFFIX}.sqs.{REGION}.vpce.amazonaws.com"), snapshot.names) is FORWARD


def test_endpoints_waiting_for_acceptance_rejected_or_without_private_dns_publish_accordingly():
    pending = compile_snapshot(topology(endpoint(state="pendingAcceptance")))  # AWS names it at creation
    assert f"{BASE}.{TAIL}" in pending.names and PRIVATE in pending.vpcs["vpc-c"].names
    rejected = compile_snapshot(topology(endpoint(state="rejected")))
    assert not any(n.startswith("vpce-0aaa") for n in rejected.names) and rejected.vpcs["vpc-c"].names == {}
    assert rejected.interfaces  # the addresses are held all the same
    without = compile_snapshot(topology(endpoint(private=False)))
    assert without.vpcs["vpc-c"].names == {} and f"{BASE}.{TAIL}" in without.names


def test_s3_private_dns_answers_at_the_service_name_and_below():
    s3 = endpoint(tail=f"s3.{REGION}.vpce.amazonaws.com", private_name=f"*.s3.{REGION}.amazonaws.com")
    view = compile_snapshot(topology(s3)).vpcs["vpc-c"]
    assert set(view.names) == {f"s3.{REGION}.amazonaws.com", f"*.s3.{REGION}.amazonaws.com"}
    assert lookup(view.names, f"bucket.s3.{REGION}.amazonaws.com") == ("127.64.1.16", "127.64.1.17")


def test_a_load_balancer_change_rebuilds_no_vpc_view():
    compiler = Compiler()
    before = compiler.load(topology())
    after = compiler.update(2, {("loadbalancer", "lb1"): None})
    assert compiler.rebuilt_vpcs == set() and NLB_NAME not in after.names
    assert after.vpcs is not before.vpcs and after.vpcs == before.vpcs
    assert not compiler.serves_alike(before, after)
    # An endpoint change rebuilds its own VPC's view only.
    compiler.update(3, {("vpcendpoint", "vpce-0aaa"): endpoint(private=False)})
    assert compiler.rebuilt_vpcs == {"vpc-c"}


def test_deleting_interfaces_removes_their_addresses_and_names():
    compiler = Compiler()
    compiler.load(topology())
    after = compiler.update(2, {("networkinterface", "eni-e1"): None, ("networkinterface", "eni-e2"): None})
    assert not any(i.owner == "vpce-0aaa" for i in after.interfaces.values())
    assert not any(n.startswith("vpce-0aaa") for n in after.names) and after.vpcs["vpc-c"].names == {}


@settings(max_examples=40, deadline=None)
@given(order=st.permutations(range(len(_keyed(topology())))), cut=st.integers(0, 9),
       removed=st.sets(st.sampled_from(["lb1", "eni-n1", "eni-e2", "vpce-0aaa", "vpc-x"])))
def test_an_incremental_compile_equals_a_fresh_one(order, cut, removed):
    everything = _keyed(topology())
    keys = [list(everything)[i] for i in order]
    compiler = Compiler()
    compiler.update(1, {k: everything[k] for k in keys[:cut]})
    compiler.update(2, {k: everything[k] for k in keys[cut:]})
    gone = {k: None for k in everything if k[1] in removed}
    final = compiler.update(3, gone)
    assert final == compile_snapshot(_view_of({k: v for k, v in everything.items() if k not in gone}, 3))


def test_check_refuses_a_name_pointing_nowhere():
    snapshot = compile_snapshot(topology())
    broken = type(snapshot)(revision=2, vpcs=snapshot.vpcs, by_address=snapshot.by_address,
                            interfaces=snapshot.interfaces, names={"x.example.com": ("127.64.9.16",)})
    with pytest.raises(Inconsistent):
        check(broken)
    check(snapshot)


# -- allocation through the providers, in process over a real store ---------------------------------

@pytest.fixture
def call(tmp_path):
    store = SqlStore.sqlite(tmp_path / "state.db")
    yield Calls(store, tmp_path)
    store.close()


def test_a_full_block_refuses_more_interfaces_as_a_full_subnet_does(call):
    vpc_id = call("ec2", "CreateVpc", CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [call("ec2", "CreateSubnet", VpcId=vpc_id, CidrBlock=f"10.0.{i}.0/24",
                    AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"] for i, z in enumerate("abc")]

    def endpoint_in(subnet_ids):
        return call("ec2", "CreateVpcEndpoint", VpcEndpointType="Interface", VpcId=vpc_id, SubnetIds=subnet_ids,
                    ServiceName="com.amazonaws.us-east-1.sqs", PrivateDnsEnabled=False)["VpcEndpoint"]

    made = [endpoint_in(subnets) for _ in range(79)]  # 237 of the block's 239 interface addresses
    with pytest.raises(ServiceError) as refused:
        endpoint_in(subnets)
    assert refused.value.code == "InsufficientFreeAddressesInSubnet"
    with pytest.raises(ServiceError) as refused:
        call("elbv2", "CreateLoadBalancer", Name="full", Type="network", Subnets=subnets)
    assert refused.value.code == "InvalidSubnet"
    endpoint_in(subnets[:2])  # the last two
    call("ec2", "DeleteVpcEndpoints", VpcEndpointIds=[made[3]["VpcEndpointId"]])
    again = endpoint_in(subnets)  # the six numbers the deleted endpoint held
    with call.store.transaction(ACCOUNT, REGION, "read") as tx:
        hosts = [tx.get("networkinterface", i).internal[FABRIC_HOST] for i in again["NetworkInterfaceIds"]]
    assert sorted(hosts) == list(range(16 + 3 * 3, 16 + 4 * 3))
