"""compile_snapshot over hand-built records: reachability, rule order, target addresses, consistency."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings, strategies as st

from latticework.fabric import Fabric
from latticework.dataplane.listeners import wanted_sockets
from latticework.dataplane.nlb import candidates, listener_group
from latticework.records.ec2 import FABRIC_HOST, FABRIC_INDEX, FABRIC_OWNER
from latticework.snapshot import Inconsistent, compile_snapshot
from latticework.snapshot.compile import Compiler, check
from latticework.snapshot.model import FixedResponse, Forward
from latticework.store import Record, StoreView

ACCOUNT, REGION = "111111111111", "us-east-1"


def rec(kind, id, body, parent=None, status=None, rev=1, internal=None):
    return Record(kind, id, ACCOUNT, REGION, body, parent=parent, arn=f"arn:{kind}/{id}", status=status,
                  created_rev=rev, revision=rev, internal=internal or {})


def vpc(id, index, cidr="10.0.0.0/16", rev=1):
    return rec("vpc", id, {"VpcId": id, "CidrBlock": cidr}, rev=rev, internal={FABRIC_INDEX: index})


def service(id, name, custom=None):
    return rec("service", id, {"name": name, "dnsEntry": {"domainName": f"{name}-x.7d67968.vpc-lattice-svcs.{REGION}.on.aws"},
                               **({"customDomainName": custom} if custom else {})})


def listener(id, svc, port=80, protocol="HTTP"):
    return rec("listener", id, {"name": id, "port": port, "protocol": protocol, "serviceId": svc}, parent=svc)


SERVICE_OF = {"l-1": "svc-1", "l-2": "svc-2"}


def default_rule(id, lst, tg):
    return rec("rule", id, {"name": "default", "isDefault": True, "serviceId": SERVICE_OF.get(lst, "svc-x"),
                            "action": {"forward": {"targetGroups": [{"targetGroupIdentifier": tg, "weight": 100}]}}},
               parent=lst)


def rule(id, lst, priority, match, action):
    return rec("rule", id, {"name": id, "isDefault": False, "priority": priority, "match": {"httpMatch": match},
                            "serviceId": SERVICE_OF.get(lst, "svc-x"),
                            "action": action}, parent=lst)


def target_group(id, vpc_id="vpc-a", type="IP", port=8080):
    return rec("targetgroup", id, {"name": id, "type": type, "config": {
        "port": port, "protocol": "HTTP", "protocolVersion": "HTTP1", "vpcIdentifier": vpc_id,
        "healthCheck": {"enabled": True, "healthCheckIntervalSeconds": 5, "matcher": {"httpCode": "200-299"}}}})


def target(tg, id, port=None, status="INITIAL", n=0):
    return rec("target", f"{tg}/{n:03d}", {"id": id, "status": status, **({"port": port} if port else {})}, parent=tg)


def topology(**extra):
    records = {
        "vpc": [vpc("vpc-a", 0), vpc("vpc-b", 1, "10.1.0.0/16"), vpc("vpc-c", 2)],
        "servicenetwork": [rec("servicenetwork", "sn-1", {"name": "net"})],
        "service": [service("svc-1", "pay", custom="pay.example.com"), service("svc-2", "orders")],
        "listener": [listener("l-1", "svc-1"), listener("l-2", "svc-2", 443, "HTTPS")],
        "rule": [default_rule("r-d", "l-1", "tg-1"),
                 rule("r-20", "l-1", 20, {"method": "POST"}, {"fixedResponse": {"statusCode": 404}}),
                 rule("r-10", "l-1", 10, {"pathMatch": {"match": {"prefix": "/v2"}, "caseSensitive": False}},
                      {"forward": {"targetGroups": [{"targetGroupIdentifier": "tg-1", "weight": 80},
                                                    {"targetGroupIdentifier": "tg-2", "weight": 20}]}}),
                 default_rule("r-d2", "l-2", "tg-2")],
        "targetgroup": [target_group("tg-1"), target_group("tg-2"), target_group("tg-unused")],
        "target": [target("tg-1", "10.0.3.4", 9000), target("tg-1", "127.0.0.7", n=1),
                   target("tg-1", "192.168.9.9", n=2), target("tg-2", "10.0.0.5", status="DRAINING")],
        "snsa": [rec("snsa", "snsa-1", {"serviceId": "svc-1"}, parent="sn-1"),
                 rec("snsa", "snsa-2", {"serviceId": "svc-2"}, parent="sn-1")],
        "snva": [rec("snva", "snva-1", {"vpcId": "vpc-a"}, parent="sn-1")],
        "instance": [], "networkinterface": [
            rec("networkinterface", "eni-1", {"VpcId": "vpc-a", "PrivateIpAddress": "10.0.3.4",
                                              "Tags": [{"Key": "latticework:host-address", "Value": "127.0.0.42"}]})],
        "vpcendpoint": [rec("vpcendpoint", "vpce-1", {"VpcEndpointType": "ServiceNetwork", "State": "available",
                                                      "VpcId": "vpc-b", "ServiceNetworkArn": "arn:servicenetwork/sn-1"})],
        # A network load balancer in vpc-b: a TCP listener to a group of two targets, a TLS one to a TLS group.
        "loadbalancer": [rec("loadbalancer", "lb-1", {"Type": "network", "VpcId": "vpc-b",
                                                       "DNSName": "nlb-1.elb.us-east-1.amazonaws.com"})],
        "elbv2-targetgroup": [
            rec("elbv2-targetgroup", "etg-1", {"TargetType": "ip", "Protocol": "TCP", "Port": 80, "VpcId": "vpc-b"},
                internal={"targets": [{"Id": "10.1.0.7"}, {"Id": "192.168.1.1", "Port": 81}]}),
            rec("elbv2-targetgroup", "etg-2", {"TargetType": "ip", "Protocol": "TLS", "Port": 443, "VpcId": "vpc-b"})],
        "elbv2-listener": [
            rec("elbv2-listener", "el-1", {"Protocol": "TCP", "Port": 9000, "DefaultActions": [
                {"Type": "forward", "TargetGroupArn": "arn:elbv2-targetgroup/etg-1"}]}, parent="lb-1"),
            rec("elbv2-listener", "el-2", {"Protocol": "TLS", "Port": 443, "DefaultActions": [
                {"Type": "forward", "TargetGroupArn": "arn:elbv2-targetgroup/etg-2"}]}, parent="lb-1")],
    }
    records.update(extra)
    return StoreView(7, records)


def test_a_network_load_balancer_compiles_its_tcp_listeners_and_their_targets():
    snap = compile_snapshot(topology(), Fabric.parse("127.99.0.0/16"))
    assert snap.balancers["lb-1"].listeners == {9000: "etg-1", 443: "etg-2"}
    assert snap.balancers["lb-1"].certificates == {443: ""}  # the TLS listener, re-encrypting toward etg-2
    group = snap.nlb_groups["etg-1"]
    # The same address rule as Lattice targets: the VPC's CIDR -> 127.0.0.1 at the port, others as given.
    assert [(t.id, t.address) for t in group.targets] == [("10.1.0.7", ("127.0.0.1", 80)),
                                                          ("192.168.1.1", ("192.168.1.1", 81))]
    check(snap)
    # A listener naming a target group the snapshot lacks is inconsistent.
    broken = dataclasses.replace(snap, nlb_groups={})
    with pytest.raises(Inconsistent):
        check(broken)


def test_each_node_of_a_network_load_balancer_listens_on_its_tcp_ports():
    node = rec("networkinterface", "eni-n1", {"VpcId": "vpc-b", "PrivateIpAddress": "10.1.0.200",
                                              "AvailabilityZone": "us-east-1a"},
               internal={FABRIC_HOST: 16, FABRIC_OWNER: "lb-1"})
    view = topology()
    view.records["networkinterface"].append(node)
    snap = compile_snapshot(view, Fabric.parse("127.99.0.0/16"))
    (address,) = [a for a, i in snap.interfaces.items() if i.owner == "lb-1"]
    assert {k: v for k, v in wanted_sockets(snap).items() if k[0] == address} == {(address, 9000): "TCP",
                                                                                   (address, 443): "TCP"}
    group = listener_group(snap, "lb-1", 9000)
    assert group is not None and group.id == "etg-1"
    assert [t.id for t in candidates(group)] == ["10.1.0.7", "192.168.1.1"]
    tls_group = listener_group(snap, "lb-1", 443)  # the TLS listener: re-encrypted toward its TLS group
    assert tls_group is not None and tls_group.protocol == "TLS"


def test_reachability_direct_and_through_a_service_network_endpoint():
    snap = compile_snapshot(topology(), Fabric.parse("127.99.0.0/16"))
    a, b, c = snap.vpcs["vpc-a"], snap.vpcs["vpc-b"], snap.vpcs["vpc-c"]
    assert a.lattice == "127.99.0.10" and a.resolver == "127.99.0.2" and b.lattice == "127.99.1.10"
    names = {"pay-x.7d67968.vpc-lattice-svcs.us-east-1.on.aws", "pay.example.com",
             "orders-x.7d67968.vpc-lattice-svcs.us-east-1.on.aws"}
    assert set(a.routes) == names and set(b.routes) == names
    assert c.routes == {}  # not associated: no route to anything
    assert a.ports() == {80, 443}
    assert snap.vpc_at("127.99.1.10") is b and snap.vpc_at("127.99.2.2") is c and snap.vpc_at("127.0.0.1") is None
    assert snap.revision == 7


def test_rules_are_ordered_by_priority_with_the_default_last():
    snap = compile_snapshot(topology())
    rules = snap.services["svc-1"].listeners[80].rules
    assert [r.id for r in rules] == ["r-10", "r-20", "r-d"]
    assert rules[0].match.path.case_sensitive is False and rules[1].match.method == "POST"
    assert isinstance(rules[1].action, FixedResponse) and rules[1].action.status == 404
    assert isinstance(rules[0].action, Forward) and [g.weight for g in rules[0].action.groups] == [80, 20]


def test_target_addresses_and_states():
    snap = compile_snapshot(topology())
    tg1 = snap.target_groups["tg-1"]
    assert [t.address for t in tg1.targets] == [("127.0.0.42", 9000), ("127.0.0.7", 8080), ("192.168.9.9", 8080)]
    assert tg1.used and not snap.target_groups["tg-unused"].used
    (drain,) = snap.target_groups["tg-2"].targets
    assert drain.draining and drain.address == ("127.0.0.1", 8080) and snap.target_groups["tg-2"].serving() == ()
    assert tg1.health_check.interval == 5 and tg1.health_check.matcher == "200-299"


def test_records_being_deleted_are_gone_already():
    view = topology(snva=[rec("snva", "snva-1", {"vpcId": "vpc-a"}, parent="sn-1", status="DELETE_IN_PROGRESS")])
    assert compile_snapshot(view).vpcs["vpc-a"].routes == {}


def test_older_network_wins_a_shared_name():
    extra = topology()
    extra.records["servicenetwork"].append(rec("servicenetwork", "sn-0", {"name": "old"}))
    extra.records["snsa"].append(rec("snsa", "snsa-0", {"serviceId": "svc-1"}, parent="sn-0"))
    extra.records["snva"].insert(0, rec("snva", "snva-0", {"vpcId": "vpc-a"}, parent="sn-0", rev=0))
    route = compile_snapshot(extra).vpcs["vpc-a"].routes["pay.example.com"]
    assert route.network.id == "sn-0"


def test_a_dangling_forward_is_inconsistent():
    view = topology(targetgroup=[target_group("tg-1")])  # tg-2 missing
    with pytest.raises(Inconsistent):
        compile_snapshot(view)


def test_check_accepts_a_compiled_snapshot():
    check(compile_snapshot(topology()))


# -- incremental compiles equal fresh ones ----------------------------------------------------------

def _keyed(view: StoreView) -> dict:
    return {(kind, r.id): r for kind, records in view.records.items() for r in records}


def _view_of(records: dict, revision: int) -> StoreView:
    found: dict = {}
    for (kind, _), r in records.items():
        found.setdefault(kind, []).append(r)
    for records_of_kind in found.values():
        records_of_kind.sort(key=lambda r: (r.created_rev, r.id))
    return StoreView(revision, found)


@settings(max_examples=60, deadline=None)
@given(order=st.permutations(range(len(_keyed(topology())))), cut=st.integers(0, 30),
       removed=st.sets(st.sampled_from(["snva-1", "r-20", "tg-unused", "eni-1", "snsa-2", "vpce-1", "el-1",
                                          "el-2", "etg-2"])))
def test_an_incremental_compile_equals_a_fresh_one(order, cut, removed):
    everything = _keyed(topology())
    keys = [list(everything)[i] for i in order]
    compiler = Compiler()
    first = dict((k, everything[k]) for k in keys[:cut])
    try:
        compiler.update(1, first)
    except Inconsistent:
        compiler = Compiler()  # a partial view may forward to groups it does not hold yet
        compiler.update(1, {})
    # the rest arrives, then some records go (deleting a target group that rules use is refused upstream)
    compiler.update(2, {k: everything[k] for k in keys[cut:]} | {k: everything[k] for k in keys[:cut]})
    gone = {k: None for k in everything if k[1] in removed}
    final = compiler.update(3, gone)
    fresh = compile_snapshot(_view_of({k: v for k, v in everything.items() if k not in gone}, 3))
    assert final == fresh


def test_serves_alike_tells_writes_traffic_cannot_see_from_those_it_can():
    compiler = Compiler()
    old = compiler.load(topology())
    # A second network nothing is associated with: nothing served changes.
    quiet = compiler.update(8, {("servicenetwork", "sn-2"): rec("servicenetwork", "sn-2", {"name": "other"})})
    assert compiler.serves_alike(old, quiet)
    # A rule of a reachable service, a target, a VPC joining the network: each changes what is served.
    for key, record in [(("rule", "r-30"), rule("r-30", "l-1", 30, {"method": "PUT"},
                                                 {"fixedResponse": {"statusCode": 418}})),
                        (("target", "tg-2/009"), target("tg-2", "10.0.0.9", n=9)),
                        (("snva", "snva-2"), rec("snva", "snva-2", {"vpcId": "vpc-c"}, parent="sn-1")),
                        (("elbv2-targetgroup", "etg-1"), rec("elbv2-targetgroup", "etg-1", {
                            "TargetType": "ip", "Protocol": "TCP", "Port": 80, "VpcId": "vpc-b"},
                            internal={"targets": [{"Id": "10.1.0.8"}]})),
                        (("elbv2-listener", "el-1"), None)]:
        before = quiet
        quiet = compiler.update(9, {key: record})
        assert not compiler.serves_alike(before, quiet), key
    # Deleting what nothing served is quiet again.
    before = quiet
    after = compiler.update(10, {("servicenetwork", "sn-2"): None})
    assert compiler.serves_alike(before, after)
