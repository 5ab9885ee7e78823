"""ELBv2 for network load balancers, black-box through boto3 (plus the error helper, unit-tested).

Every test gets a fresh account (``clients``) and builds its VPC and two
subnets through the EC2 API, as a PrivateLink provider would.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, status_of
from latticework.services.elbv2.common import error

NLB_ARN = re.compile(r"^arn:aws:elasticloadbalancing:us-east-1:\d{12}:loadbalancer/net/([a-z0-9-]+)/([0-9a-f]{16})$")
TG_ARN = re.compile(r"^arn:aws:elasticloadbalancing:us-east-1:\d{12}:targetgroup/([a-z0-9-]+)/[0-9a-f]{16}$")


# -- fixtures --------------------------------------------------------------------

@pytest.fixture
def net(clients):
    ec2, elb = clients.client("ec2"), clients.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]
               for i, z in enumerate("ab")]
    return SimpleNamespace(ec2=ec2, elb=elb, vpc=vpc, subnets=[s["SubnetId"] for s in subnets], account=clients.account)


def nlb(net, name="nlb-1", **kwargs):
    kwargs.setdefault("Subnets", net.subnets)
    return net.elb.create_load_balancer(Name=name, Type="network", Scheme="internal", **kwargs)["LoadBalancers"][0]


def tcp_group(net, name="tg-1", **kwargs):
    kwargs = {"Protocol": "TCP", "VpcId": net.vpc, "TargetType": "ip", **kwargs}
    return net.elb.create_target_group(Name=name, Port=8080, **kwargs)["TargetGroups"][0]


def listen(net, lb, tg, port=80, protocol="TCP"):
    return net.elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol=protocol, Port=port,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
                                   )["Listeners"][0]


def fails(code, call, *args, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(*args, **kwargs)
    assert error_code(excinfo) == code, excinfo.value.response["Error"]
    return excinfo


# -- errors from the model ---------------------------------------------------------

def test_error_codes_and_statuses_come_from_the_model():
    assert (error("LoadBalancerNotFound", "x").code, error("LoadBalancerNotFound", "x").status) == \
        ("LoadBalancerNotFound", 400)
    assert error("PriorRequestNotComplete", "x").status == 429
    assert error("ValidationError", "x").status == 400
    with pytest.raises(KeyError):
        error("LoadBalancerNotFoundException", "x")  # shape names are not wire codes


# -- load balancers ----------------------------------------------------------------

def test_create_and_describe_network_load_balancer(net):
    lb = nlb(net)
    found = NLB_ARN.match(lb["LoadBalancerArn"])
    assert found and found.group(1) == "nlb-1"
    assert lb["DNSName"] == f"nlb-1-{found.group(2)}.elb.us-east-1.amazonaws.com"
    assert lb["CanonicalHostedZoneId"] == "Z26RNL4JYFTOTI"
    assert lb["State"]["Code"] == "provisioning"
    assert (lb["Type"], lb["Scheme"], lb["IpAddressType"], lb["VpcId"]) == ("network", "internal", "ipv4", net.vpc)
    assert sorted((z["ZoneName"], z["SubnetId"]) for z in lb["AvailabilityZones"]) == \
        [("us-east-1a", net.subnets[0]), ("us-east-1b", net.subnets[1])]
    described = net.elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"]
    assert described[0]["State"]["Code"] == "active"
    by_name = net.elb.describe_load_balancers(Names=["nlb-1"])["LoadBalancers"]
    assert [b["LoadBalancerArn"] for b in by_name] == [lb["LoadBalancerArn"]]
    assert "SecurityGroups" not in described[0]


def test_subnet_mappings_keep_the_private_address(net):
    lb = nlb(net, SubnetMappings=[{"SubnetId": net.subnets[0], "PrivateIPv4Address": "10.0.0.10"}], Subnets=[])
    assert lb["AvailabilityZones"][0]["LoadBalancerAddresses"] == [{"PrivateIPv4Address": "10.0.0.10"}]


@pytest.mark.parametrize("name", ["-lead", "trail-", "internal-lb", "bad_name", "x" * 33])
def test_load_balancer_name_rules(net, name):
    fails("ValidationError", nlb, net, name)


def test_same_settings_return_the_same_load_balancer_and_others_conflict(net):
    first = nlb(net)
    assert nlb(net)["LoadBalancerArn"] == first["LoadBalancerArn"]
    fails("DuplicateLoadBalancerName", nlb, net, Subnets=net.subnets[:1])


def test_unknown_subnet_is_subnet_not_found(net):
    fails("SubnetNotFound", nlb, net, Subnets=["subnet-0123456789abcdef0"])


def test_two_subnets_in_one_zone_are_refused(net):
    third = net.ec2.create_subnet(VpcId=net.vpc, CidrBlock="10.0.9.0/24", AvailabilityZone="us-east-1a")
    fails("InvalidConfigurationRequest", nlb, net, Subnets=[net.subnets[0], third["Subnet"]["SubnetId"]])


def test_missing_load_balancers_are_not_found(net):
    missing = f"arn:aws:elasticloadbalancing:us-east-1:{net.account}:loadbalancer/net/gone/0123456789abcdef"
    excinfo = fails("LoadBalancerNotFound", net.elb.describe_load_balancers, LoadBalancerArns=[missing])
    assert status_of(excinfo) == 400
    fails("LoadBalancerNotFound", net.elb.describe_load_balancers, Names=["gone"])
    fails("ValidationError", net.elb.describe_load_balancers, LoadBalancerArns=["not-an-arn"])


def test_delete_is_idempotent_and_honours_deletion_protection(net):
    arn = nlb(net)["LoadBalancerArn"]
    net.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "true"}])
    fails("OperationNotPermitted", net.elb.delete_load_balancer, LoadBalancerArn=arn)
    net.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    net.elb.delete_load_balancer(LoadBalancerArn=arn)
    net.elb.delete_load_balancer(LoadBalancerArn=arn)
    fails("LoadBalancerNotFound", net.elb.describe_load_balancers, LoadBalancerArns=[arn])


def test_network_load_balancer_attributes(net):
    arn = nlb(net)["LoadBalancerArn"]
    attributes = {a["Key"]: a["Value"] for a in
                  net.elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    assert attributes["load_balancing.cross_zone.enabled"] == "false"
    assert attributes["dns_record.client_routing_policy"] == "any_availability_zone"
    assert attributes["ipv6.deny_all_igw_traffic"] == "true"  # internal
    assert attributes["deletion_protection.enabled"] == "false"
    assert "idle_timeout.timeout_seconds" not in attributes
    changed = net.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "load_balancing.cross_zone.enabled", "Value": "true"}])["Attributes"]
    assert {"Key": "load_balancing.cross_zone.enabled", "Value": "true"} in changed
    fails("InvalidConfigurationRequest", net.elb.modify_load_balancer_attributes, LoadBalancerArn=arn,
          Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "30"}])
    fails("ValidationError", net.elb.modify_load_balancer_attributes, LoadBalancerArn=arn,
          Attributes=[{"Key": "no.such.key", "Value": "1"}])
    fails("ValidationError", net.elb.modify_load_balancer_attributes, LoadBalancerArn=arn,
          Attributes=[{"Key": "deletion_protection.enabled", "Value": "yes"}])


def test_capacity_reservation_is_empty(net):
    arn = nlb(net)["LoadBalancerArn"]
    assert net.elb.describe_capacity_reservation(LoadBalancerArn=arn)["CapacityReservationState"] == []


def test_security_groups_cannot_be_added_to_an_nlb_created_without(net):
    arn = nlb(net)["LoadBalancerArn"]
    fails("InvalidConfigurationRequest", net.elb.set_security_groups, LoadBalancerArn=arn,
          SecurityGroups=["sg-0123456789abcdef0"])


def test_application_load_balancer_has_an_app_arn(net):
    alb = net.elb.create_load_balancer(Name="alb-1", Subnets=net.subnets)["LoadBalancers"][0]
    assert ":loadbalancer/app/alb-1/" in alb["LoadBalancerArn"]
    assert alb["Type"] == "application"
    # Names are unique per type: an NLB may share the ALB's name.
    assert nlb(net, "alb-1")["LoadBalancerArn"] != alb["LoadBalancerArn"]


# -- target groups -------------------------------------------------------------------

def test_tcp_target_group_defaults(net):
    tg = tcp_group(net)
    assert TG_ARN.match(tg["TargetGroupArn"]).group(1) == "tg-1"
    assert (tg["HealthCheckProtocol"], tg["HealthCheckPort"], tg["HealthCheckEnabled"]) == \
        ("TCP", "traffic-port", True)
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthCheckTimeoutSeconds"]) == (30, 10)
    assert (tg["HealthyThresholdCount"], tg["UnhealthyThresholdCount"]) == (5, 2)
    assert "HealthCheckPath" not in tg and "Matcher" not in tg
    assert tg["LoadBalancerArns"] == []
    attributes = {a["Key"]: a["Value"] for a in
                  net.elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])["Attributes"]}
    assert attributes["deregistration_delay.timeout_seconds"] == "300"
    assert attributes["proxy_protocol_v2.enabled"] == "false"
    assert attributes["preserve_client_ip.enabled"] == "false"  # ip targets over TCP
    assert attributes["stickiness.type"] == "source_ip"


def test_http_health_check_on_tcp_group(net):
    tg = tcp_group(net, HealthCheckProtocol="HTTP", HealthCheckPath="/healthz")
    assert (tg["HealthCheckPath"], tg["Matcher"], tg["HealthCheckTimeoutSeconds"]) == \
        ("/healthz", {"HttpCode": "200-399"}, 6)


def test_target_group_errors(net):
    fails("ValidationError", tcp_group, net, VpcId="vpc-0123456789abcdef0")
    fails("ValidationError", tcp_group, net, "bad_name")
    fails("ValidationError", tcp_group, net, HealthCheckPath="/x")  # TCP checks have no path
    fails("TargetGroupNotFound", net.elb.describe_target_groups, Names=["nope"])
    tcp_group(net)
    fails("DuplicateTargetGroupName", tcp_group, net, Protocol="UDP")


def test_target_group_attributes_modify(net):
    arn = tcp_group(net)["TargetGroupArn"]
    out = net.elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "proxy_protocol_v2.enabled", "Value": "true"},
        {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}])["Attributes"]
    assert {"Key": "proxy_protocol_v2.enabled", "Value": "true"} in out
    fails("ValidationError", net.elb.modify_target_group_attributes, TargetGroupArn=arn,
          Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "4000"}])
    fails("ValidationError", net.elb.modify_target_group_attributes, TargetGroupArn=arn,
          Attributes=[{"Key": "slow_start.duration_seconds", "Value": "30"}])


def test_modify_target_group_health_check(net):
    arn = tcp_group(net)["TargetGroupArn"]
    tg = net.elb.modify_target_group(TargetGroupArn=arn, HealthCheckIntervalSeconds=20,
                                     HealthyThresholdCount=3)["TargetGroups"][0]
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthyThresholdCount"]) == (20, 3)


# -- listeners -------------------------------------------------------------------------

def test_listener_forwards_and_links_the_target_group(net):
    lb, tg = nlb(net), tcp_group(net)
    listener = listen(net, lb, tg)
    assert "listener/net/nlb-1/" in listener["ListenerArn"]
    action = listener["DefaultActions"][0]
    assert action["TargetGroupArn"] == tg["TargetGroupArn"]
    assert action["ForwardConfig"]["TargetGroups"] == [{"TargetGroupArn": tg["TargetGroupArn"], "Weight": 1}]
    described = net.elb.describe_target_groups(TargetGroupArns=[tg["TargetGroupArn"]])["TargetGroups"][0]
    assert described["LoadBalancerArns"] == [lb["LoadBalancerArn"]]
    by_lb = net.elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
    assert [t["TargetGroupArn"] for t in by_lb] == [tg["TargetGroupArn"]]
    attributes = net.elb.describe_listener_attributes(ListenerArn=listener["ListenerArn"])["Attributes"]
    assert attributes == [{"Key": "tcp.idle_timeout.seconds", "Value": "350"}]
    fails("ResourceInUse", net.elb.delete_target_group, TargetGroupArn=tg["TargetGroupArn"])
    assert listen(net, lb, tg)["ListenerArn"] == listener["ListenerArn"]  # same settings: idempotent


def test_listener_errors(net):
    lb, tg = nlb(net), tcp_group(net)
    udp = tcp_group(net, "tg-udp", Protocol="UDP")
    listen(net, lb, tg)
    fails("DuplicateListener", listen, net, lb, udp, protocol="UDP")
    fails("IncompatibleProtocols", listen, net, lb, udp, port=81)
    fails("UnsupportedProtocol", listen, net, lb, tg, port=82, protocol="HTTP")
    missing = tg["TargetGroupArn"][:-16] + "0123456789abcdef"
    fails("TargetGroupNotFound", net.elb.create_listener, LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP",
          Port=83, DefaultActions=[{"Type": "forward", "TargetGroupArn": missing}])
    other = nlb(net, "nlb-2")
    fails("TargetGroupAssociationLimit", listen, net, other, tg)


def test_listener_attributes_and_modify(net):
    lb, tg = nlb(net), tcp_group(net)
    arn = listen(net, lb, tg)["ListenerArn"]
    net.elb.modify_listener_attributes(ListenerArn=arn, Attributes=[{"Key": "tcp.idle_timeout.seconds",
                                                                     "Value": "600"}])
    fails("ValidationError", net.elb.modify_listener_attributes, ListenerArn=arn,
          Attributes=[{"Key": "tcp.idle_timeout.seconds", "Value": "10"}])
    assert net.elb.modify_listener(ListenerArn=arn, Port=8443)["Listeners"][0]["Port"] == 8443


def test_deleting_the_load_balancer_deletes_its_listeners(net):
    lb, tg = nlb(net), tcp_group(net)
    arn = listen(net, lb, tg)["ListenerArn"]
    net.elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    fails("ListenerNotFound", net.elb.describe_listeners, ListenerArns=[arn])
    net.elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    net.elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])  # already gone: succeeds


# -- targets -----------------------------------------------------------------------------

def test_target_health_before_a_verdict(net):
    lb, tg = nlb(net), tcp_group(net)
    arn = tg["TargetGroupArn"]
    net.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.0.5"}, {"Id": "10.0.1.5", "Port": 9090}])
    health = net.elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    assert {h["TargetHealth"]["Reason"] for h in health} == {"Target.NotInUse"}
    assert sorted(h["HealthCheckPort"] for h in health) == ["8080", "9090"]
    listen(net, lb, tg)
    # In use: registering, then checking (the first check starts at once; its verdict takes the timeout).
    health = net.elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    assert {h["TargetHealth"]["State"] for h in health} == {"initial"}
    assert {h["TargetHealth"]["Reason"] for h in health} <= {"Elb.RegistrationInProgress", "Elb.InitialHealthChecking"}
    asked = net.elb.describe_target_health(TargetGroupArn=arn, Targets=[{"Id": "10.0.0.99"}])
    assert asked["TargetHealthDescriptions"][0]["TargetHealth"]["Reason"] == "Target.NotRegistered"
    # Deregistered from a group in use: draining for the deregistration delay (300 s by default).
    net.elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "10.0.0.5"}, {"Id": "10.9.9.9"}])
    left = {h["Target"]["Id"]: h["TargetHealth"] for h in
            net.elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]}
    assert left["10.0.0.5"] == {"State": "draining", "Reason": "Target.DeregistrationInProgress",
                                "Description": "Target deregistration is in progress"}
    assert left["10.0.1.5"]["State"] == "initial"
    # Not in use: a deregistration takes effect at once.
    other = tcp_group(net, name="tg-unused")["TargetGroupArn"]
    net.elb.register_targets(TargetGroupArn=other, Targets=[{"Id": "10.0.0.5"}])
    net.elb.deregister_targets(TargetGroupArn=other, Targets=[{"Id": "10.0.0.5"}])
    assert net.elb.describe_target_health(TargetGroupArn=other)["TargetHealthDescriptions"] == []


def test_a_terminated_instance_target_is_in_an_invalid_state(net):
    lb, tg = nlb(net), tcp_group(net, TargetType="instance")
    instance = net.ec2.run_instances(ImageId="ami-0123456789abcdef0", InstanceType="t3.micro", MinCount=1,
                                     MaxCount=1, SubnetId=net.subnets[0])["Instances"][0]["InstanceId"]
    net.elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": instance}])
    listen(net, lb, tg)
    net.ec2.terminate_instances(InstanceIds=[instance])
    (health,) = net.elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
    assert health["TargetHealth"] == {"State": "unused", "Reason": "Target.InvalidState",
                                      "Description": "Target is in the terminated state"}


def test_invalid_targets(net):
    arn = tcp_group(net)["TargetGroupArn"]
    fails("InvalidTarget", net.elb.register_targets, TargetGroupArn=arn, Targets=[{"Id": "8.8.8.8"}])
    net.elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1"}])  # a process on this host
    fails("InvalidTarget", net.elb.register_targets, TargetGroupArn=arn, Targets=[{"Id": "i-0123456789abcdef0"}])


# -- tags --------------------------------------------------------------------------------

def test_tags_on_every_kind(net):
    lb = nlb(net, Tags=[{"Key": "team", "Value": "a"}])
    tg = tcp_group(net)
    listener = listen(net, lb, tg)
    arns = [lb["LoadBalancerArn"], tg["TargetGroupArn"], listener["ListenerArn"]]
    net.elb.add_tags(ResourceArns=arns, Tags=[{"Key": "env", "Value": "dev"}])
    net.elb.remove_tags(ResourceArns=[lb["LoadBalancerArn"]], TagKeys=["team"])
    described = {d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]}
                 for d in net.elb.describe_tags(ResourceArns=arns)["TagDescriptions"]}
    assert described == {a: {"env": "dev"} for a in arns}
    fails("TooManyTags", net.elb.add_tags, ResourceArns=[tg["TargetGroupArn"]],
          Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)])
    gone = lb["LoadBalancerArn"][:-16] + "0123456789abcdef"
    fails("LoadBalancerNotFound", net.elb.describe_tags, ResourceArns=[gone])
