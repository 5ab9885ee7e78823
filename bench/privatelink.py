"""An interface endpoint in front of local targets, for the ``l4`` section: consumer -> endpoint -> NLB -> target.

``interface_endpoint`` builds, through boto3 as any client would, on a
Latticework server of its own: a provider VPC with a network load balancer
(one node) whose TCP listeners forward each to a target group of one target
(an address of the VPC, which the fabric maps to ``127.0.0.1`` at the target's
port: ELB refuses a loopback address), an endpoint service over it that needs
no acceptance, and a consumer VPC with an interface endpoint to that service
in one subnet. It returns the endpoint interface's fabric address and the
port of each listener: a client connecting there is inside the consumer VPC
(the loopback fabric attributes a connection to its destination address).
"""

from __future__ import annotations

import json
from pathlib import Path

from common import Processes, free_port, wait_port
from latticework.ownpaths_client import fetch
from topology import client, start_server


def interface_endpoint(processes: Processes, work: Path, fabric: str,
                       targets: dict[str, int]) -> tuple[str, dict[str, int]]:
    """A server and the topology above: (the endpoint's address, target name -> the port it listens on)."""
    server = start_server(processes, work / "latticework", fabric)
    ec2, elbv2 = client(server.url, "ec2"), client(server.url, "elbv2")
    provider = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=provider, CidrBlock="10.1.0.0/24", AvailabilityZone="us-east-1a")
    lb = elbv2.create_load_balancer(Name="bench-nlb", Type="network", Scheme="internal",
                                    Subnets=[subnet["Subnet"]["SubnetId"]])["LoadBalancers"][0]["LoadBalancerArn"]
    ports = {}
    for n, (name, target) in enumerate(targets.items()):
        group = elbv2.create_target_group(Name=f"bench-{name}", Protocol="TCP", Port=target, VpcId=provider,
                                          TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": f"10.1.0.{10 + n}", "Port": target}])
        ports[name] = free_port()
        elbv2.create_listener(LoadBalancerArn=lb, Protocol="TCP", Port=ports[name],
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    service = ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[lb], AcceptanceRequired=False)
    consumer = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    consumer_subnet = ec2.create_subnet(VpcId=consumer, CidrBlock="10.2.0.0/24", AvailabilityZone="us-east-1a")
    endpoint = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=consumer,
                                       ServiceName=service["ServiceConfiguration"]["ServiceName"],
                                       SubnetIds=[consumer_subnet["Subnet"]["SubnetId"]])["VpcEndpoint"]
    address = endpoint_address(server.url, consumer, endpoint["VpcEndpointId"])
    for port in ports.values():
        wait_port(address, port)
    return address, ports


def endpoint_address(url: str, vpc_id: str, endpoint_id: str) -> str:
    """The fabric address of the endpoint's (only) interface, as the server lists the VPC's interfaces."""
    found = json.loads(fetch(url, f"/_latticework/vpcs/{vpc_id}"))["interfaces"]
    return next(i["address"] for i in found if i["owner"] == endpoint_id)
