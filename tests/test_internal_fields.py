"""Internal fields stay internal: providers answer model members only.

Families keep bookkeeping in ``Record.internal`` (a VPC's default group and
fabric block, a subnet's allocated addresses, an instance's reservation, an
endpoint's DNS suffix, ELBv2 attributes and targets, a Lattice target group's
explicit health check...). Here the providers of every family run, in
process over a real store, the calls that write and read those fields, and
every answer is walked against the operation's output shape in the botocore
model: a member the shape does not know (an internal field that slipped into
an answer) fails the test, wherever it sits.
"""

from __future__ import annotations

import pytest
from botocore import xform_name
from botocore.model import ListShape, MapShape, Shape, StructureShape

from latticework.api.context import RequestContext
from latticework.api.models import service_model
from latticework.api.settle import Settlement
from latticework.config import Credential
from latticework.records import lattice as lattice_records
from latticework.services.ec2.provider import Ec2Provider
from latticework.services.elbv2.provider import ElbV2Provider
from latticework.services.lattice.provider import LatticeProvider
from latticework.store.sql import SqlStore

ACCOUNT, REGION = "123456789012", "us-east-1"
PROVIDERS = {"ec2": Ec2Provider(), "elbv2": ElbV2Provider(), "vpc-lattice": LatticeProvider()}


def unknown_members(shape: Shape | None, value, path: str = "") -> list[str]:
    """Paths in ``value`` whose member ``shape`` does not declare."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        found = []
        for name, item in value.items():
            if name not in shape.members:
                found.append(f"{path}.{name}")
            else:
                found += unknown_members(shape.members[name], item, f"{path}.{name}")
        return found
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [p for i, item in enumerate(value) for p in unknown_members(shape.member, item, f"{path}[{i}]")]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return [p for k, item in value.items() for p in unknown_members(shape.value, item, f"{path}[{k}]")]
    return []


class Calls:
    """Runs operations as the dispatcher does (one transaction each) and checks every answer."""

    def __init__(self, store: SqlStore, tmp_path):
        self.store, self.tmp_path = store, tmp_path
        settle = PROVIDERS["vpc-lattice"].settle
        self.settlement = Settlement(store, {kind: settle for kind in lattice_records.KINDS})

    def __call__(self, service: str, operation: str, **params) -> dict:
        with self.store.transaction(ACCOUNT, REGION, operation) as tx:
            ctx = RequestContext(service, operation, ACCOUNT, REGION, "req", Credential("k", "s", ACCOUNT), tx=tx,
                                 state_dir=self.tmp_path)
            result = getattr(PROVIDERS[service], xform_name(operation))(ctx, params) or {}
            self.settlement.settle_now(tx, list(tx.written))
        shape = service_model(service).operation_model(operation).output_shape
        assert unknown_members(shape, result) == [], f"{operation} answered members its output shape lacks"
        return result


@pytest.fixture
def call(tmp_path):
    store = SqlStore.sqlite(tmp_path / "state.db")
    yield Calls(store, tmp_path)
    store.close()


def test_the_walker_finds_a_member_the_shape_lacks():
    shape = service_model("ec2").operation_model("DescribeVpcs").output_shape
    answer = {"Vpcs": [{"VpcId": "vpc-1", "FabricIndex": 0, "Tags": [{"Key": "a", "Value": "b", "x": 1}]}]}
    assert unknown_members(shape, answer) == [".Vpcs[0].FabricIndex", ".Vpcs[0].Tags[0].x"]


def test_ec2_answers_hold_no_internal_fields(call):
    vpc = call("ec2", "CreateVpc", CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    call("ec2", "ModifyVpcAttribute", VpcId=vpc, EnableDnsHostnames={"Value": True})
    call("ec2", "DescribeVpcAttribute", VpcId=vpc, Attribute="enableDnsHostnames")
    call("ec2", "DescribeVpcs", VpcIds=[vpc])
    subnet = call("ec2", "CreateSubnet", VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    [shown] = call("ec2", "DescribeSubnets", Filters=[{"Name": "available-ip-address-count",
                                                         "Values": ["251"]}])["Subnets"]
    assert shown["SubnetId"] == subnet
    reservation = call("ec2", "RunInstances", ImageId="ami-0123456789abcdef0", MinCount=2, MaxCount=2,
                       SubnetId=subnet)
    [found] = call("ec2", "DescribeInstances", Filters=[{"Name": "reservation-id",
                                                          "Values": [reservation["ReservationId"]]}])["Reservations"]
    assert len(found["Instances"]) == 2
    eni = reservation["Instances"][0]["NetworkInterfaces"][0]["NetworkInterfaceId"]
    [by_eni] = call("ec2", "DescribeInstances", Filters=[{"Name": "network-interface.network-interface-id",
                                                           "Values": [eni]}])["Reservations"]
    assert [i["InstanceId"] for i in by_eni["Instances"]] == [reservation["Instances"][0]["InstanceId"]]
    call("ec2", "TerminateInstances", InstanceIds=[reservation["Instances"][1]["InstanceId"]])
    call("ec2", "DescribeInstances")
    call("ec2", "CreateNetworkInterface", SubnetId=subnet)
    call("ec2", "DescribeNetworkInterfaces")
    group = call("ec2", "CreateSecurityGroup", GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    call("ec2", "AuthorizeSecurityGroupIngress", GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    call("ec2", "DescribeSecurityGroups", GroupIds=[group])
    call("ec2", "DescribeSecurityGroupRules")
    lists = call("ec2", "DescribeManagedPrefixLists")["PrefixLists"]
    call("ec2", "DescribePrefixLists")
    call("ec2", "GetManagedPrefixListEntries", PrefixListId=lists[0]["PrefixListId"])
    [table] = call("ec2", "DescribeRouteTables")["RouteTables"]
    call("ec2", "CreateVpcEndpoint", VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3",
         RouteTableIds=[table["RouteTableId"]])
    call("ec2", "CreateVpcEndpoint", VpcId=vpc, VpcEndpointType="Interface", SubnetIds=[subnet],
         ServiceName="com.amazonaws.us-east-1.sqs", PrivateDnsEnabled=False)
    network = call("vpc-lattice", "CreateServiceNetwork", name="net-1")["arn"]
    call("ec2", "CreateVpcEndpoint", VpcId=vpc, VpcEndpointType="ServiceNetwork", ServiceNetworkArn=network,
         SubnetIds=[subnet])
    call("ec2", "DescribeVpcEndpoints")
    call("ec2", "DescribeVpcEndpointAssociations")


def test_provider_side_and_elbv2_answers_hold_no_internal_fields(call):
    vpc = call("ec2", "CreateVpc", CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = call("ec2", "CreateSubnet", VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    lb = call("elbv2", "CreateLoadBalancer", Name="nlb", Type="network", Subnets=[subnet])["LoadBalancers"][0]
    call("elbv2", "ModifyLoadBalancerAttributes", LoadBalancerArn=lb["LoadBalancerArn"],
         Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}])
    call("elbv2", "DescribeLoadBalancerAttributes", LoadBalancerArn=lb["LoadBalancerArn"])
    call("elbv2", "DescribeLoadBalancers")
    tg = call("elbv2", "CreateTargetGroup", Name="tg", Protocol="TCP", Port=80, VpcId=vpc,
              TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    call("elbv2", "RegisterTargets", TargetGroupArn=tg, Targets=[{"Id": "10.1.1.20"}])
    call("elbv2", "DescribeTargetHealth", TargetGroupArn=tg)
    call("elbv2", "ModifyTargetGroupAttributes", TargetGroupArn=tg,
         Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}])
    call("elbv2", "DescribeTargetGroupAttributes", TargetGroupArn=tg)
    call("elbv2", "DescribeTargetGroups")
    listener = call("elbv2", "CreateListener", LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                    DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]["ListenerArn"]
    call("elbv2", "DescribeListenerAttributes", ListenerArn=listener)
    call("elbv2", "DescribeListeners", LoadBalancerArn=lb["LoadBalancerArn"])
    service = call("ec2", "CreateVpcEndpointServiceConfiguration", AcceptanceRequired=False,
                   NetworkLoadBalancerArns=[lb["LoadBalancerArn"]])["ServiceConfiguration"]
    call("ec2", "DescribeVpcEndpointServiceConfigurations")
    call("ec2", "CreateVpcEndpoint", VpcId=vpc, VpcEndpointType="Interface", SubnetIds=[subnet],
         ServiceName=service["ServiceName"])
    [connection] = call("ec2", "DescribeVpcEndpointConnections")["VpcEndpointConnections"]
    assert connection["VpcEndpointConnectionId"].startswith("vpce-con-")
    call("ec2", "DescribeNetworkInterfaces")


def test_lattice_answers_hold_no_internal_fields(call):
    vpc = call("ec2", "CreateVpc", CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    tg = call("vpc-lattice", "CreateTargetGroup", name="tg-1", type="IP", config={
        "port": 80, "protocol": "HTTP", "vpcIdentifier": vpc, "healthCheck": {"path": "/health"}})["id"]
    call("vpc-lattice", "UpdateTargetGroup", targetGroupIdentifier=tg, healthCheck={"healthyThresholdCount": 3})
    got = call("vpc-lattice", "GetTargetGroup", targetGroupIdentifier=tg)
    assert got["config"]["healthCheck"]["path"] == "/health"
    assert got["config"]["healthCheck"]["healthyThresholdCount"] == 3
    call("vpc-lattice", "ListTargetGroups")
