"""VPC endpoints and endpoint services (AWS PrivateLink) through boto3.

Every test has fresh accounts: ``clients`` is the provider (or the only
account), ``other`` a consumer in a second account.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import conftest
from conftest import Clients, account_id, client_for, error_code


@pytest.fixture
def other(server) -> Clients:
    n = next(conftest._accounts)
    return Clients(n, account_id(n), client_for(server, "vpc-lattice", n), client_for(server, "sts", n), server)


# -- helpers ------------------------------------------------------------------------

def make_vpc(ec2, cidr="10.0.0.0/16", dns=True, zones=("a", "b")):
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    if dns:
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    base = cidr.split(".")
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base[0]}.{base[1]}.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in enumerate(zones)]
    return vpc, subnets


def make_service(clients, acceptance=True, name="provider", **extra):
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    _, subnets = make_vpc(ec2, "10.1.0.0/16")
    lb = elbv2.create_load_balancer(Name=name, Type="network", Subnets=subnets)["LoadBalancers"][0]
    config = ec2.create_vpc_endpoint_service_configuration(
        AcceptanceRequired=acceptance, NetworkLoadBalancerArns=[lb["LoadBalancerArn"]], **extra)
    return config["ServiceConfiguration"]


def allow(ec2, service_id, account):
    return ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=service_id, AddAllowedPrincipals=[f"arn:aws:iam::{account}:root"])


def interface_endpoint(ec2, service_name, vpc, subnets, **extra):
    return ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=service_name,
                                   SubnetIds=subnets, **extra)["VpcEndpoint"]


def endpoint(ec2, endpoint_id):
    return ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]


# -- Gateway endpoints ------------------------------------------------------------------

def test_gateway_is_the_default_type_and_routes_the_prefix_list(clients):
    ec2 = clients.client("ec2")
    vpc, _ = make_vpc(ec2)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    created = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3",
                                      RouteTableIds=[table])["VpcEndpoint"]
    assert created["VpcEndpointType"] == "Gateway" and created["State"] == "available"
    assert json.loads(created["PolicyDocument"])["Statement"][0]["Effect"] == "Allow"
    prefix_list = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name",
                                                      "Values": ["com.amazonaws.us-east-1.s3"]}])
    pl_id = prefix_list["PrefixLists"][0]["PrefixListId"]
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert any(r.get("DestinationPrefixListId") == pl_id and r.get("GatewayId") == created["VpcEndpointId"]
               for r in routes)
    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], RemoveRouteTableIds=[table])
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert not any(r.get("GatewayId") == created["VpcEndpointId"] for r in routes)
    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], AddRouteTableIds=[table])
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])["Unsuccessful"] == []
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert not any(r.get("GatewayId") == created["VpcEndpointId"] for r in routes)
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])
    assert error_code(exc) == "InvalidVpcEndpointId.NotFound"


def test_gateway_refuses_subnets_and_unknown_services(clients):
    ec2 = clients.client("ec2")
    vpc, subnets = make_vpc(ec2)
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", SubnetIds=subnets[:1])
    assert error_code(exc) == "InvalidParameter"
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.sqs")
    assert error_code(exc) == "InvalidParameter"  # sqs is Interface only
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.nope")
    assert error_code(exc) == "InvalidServiceName"


def test_endpoint_policy_validation_and_reset(clients):
    ec2 = clients.client("ec2")
    vpc, _ = make_vpc(ec2)
    policy = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                        "Resource": "arn:aws:s3:::bucket/*"}]})
    created = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.dynamodb",
                                      PolicyDocument=policy)["VpcEndpoint"]
    assert created["PolicyDocument"] == policy
    for bad in ("{not json", json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
                json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*",
                                           "Resource": "*", "Sid": "x" * 20480}]})):
        with pytest.raises(ClientError) as exc:
            ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], PolicyDocument=bad)
        assert error_code(exc) == "InvalidPolicyDocument"
    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], ResetPolicy=True)
    reset = json.loads(endpoint(ec2, created["VpcEndpointId"])["PolicyDocument"])
    assert reset["Statement"] == [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]


# -- Interface endpoints to AWS services ---------------------------------------------------

def test_interface_endpoint_to_aws_service(clients):
    ec2 = clients.client("ec2")
    vpc, subnets = make_vpc(ec2)
    created = interface_endpoint(ec2, "com.amazonaws.us-east-1.sqs", vpc, subnets)
    assert created["State"] == "available" and created["PrivateDnsEnabled"] is True
    assert sorted(created["SubnetIds"]) == sorted(subnets) and len(created["NetworkInterfaceIds"]) == 2
    default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                    {"Name": "group-name", "Values": ["default"]}])
    assert created["Groups"] == [{"GroupId": default["SecurityGroups"][0]["GroupId"], "GroupName": "default"}]
    names = [e["DnsName"] for e in created["DnsEntries"]]
    vpce = created["VpcEndpointId"]
    assert names[0].startswith(vpce + "-") and names[0].endswith(".sqs.us-east-1.vpce.amazonaws.com")
    assert {n.split(".")[0].rsplit("-", 1)[1] for n in names[1:3]} == {"1a", "1b"}
    assert names[3] == "sqs.us-east-1.amazonaws.com"
    enis = ec2.describe_network_interfaces(NetworkInterfaceIds=created["NetworkInterfaceIds"])
    assert all(e["RequesterManaged"] and e["InterfaceType"] == "vpc_endpoint" for e in enis["NetworkInterfaces"])
    ec2.modify_vpc_endpoint(VpcEndpointId=vpce, RemoveSubnetIds=[subnets[1]])
    assert endpoint(ec2, vpce)["SubnetIds"] == [subnets[0]]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[vpce])
    left = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert left["NetworkInterfaces"] == []


def test_interface_subnet_and_private_dns_rules(clients):
    ec2 = clients.client("ec2")
    vpc, subnets = make_vpc(ec2, dns=False)
    same_zone = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.9.0/24",
                                  AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    with pytest.raises(ClientError) as exc:
        interface_endpoint(ec2, "com.amazonaws.us-east-1.kms", vpc, [subnets[0], same_zone], PrivateDnsEnabled=False)
    assert error_code(exc) == "DuplicateSubnetsInSameZone"
    with pytest.raises(ClientError) as exc:  # private DNS defaults to on; the VPC has no DNS hostnames
        interface_endpoint(ec2, "com.amazonaws.us-east-1.kms", vpc, subnets[:1])
    assert error_code(exc) == "InvalidParameter" and "enableDnsHostnames" in str(exc.value)
    created = interface_endpoint(ec2, "com.amazonaws.us-east-1.kms", vpc, subnets[:1], PrivateDnsEnabled=False)
    assert created["PrivateDnsEnabled"] is False and len(created["DnsEntries"]) == 2
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], PrivateDnsEnabled=True)
    with pytest.raises(ClientError) as exc:  # a second endpoint cannot claim the same private name
        interface_endpoint(ec2, "com.amazonaws.us-east-1.kms", vpc, subnets[1:])
    assert error_code(exc) == "InvalidParameter"


def test_describe_vpc_endpoint_services_lists_the_catalogue(clients):
    ec2 = clients.client("ec2")
    found = ec2.describe_vpc_endpoint_services()
    for short in ("s3", "dynamodb", "sts", "kms", "logs", "ecr.api", "ecr.dkr", "sqs", "sns", "secretsmanager",
                  "ssm", "execute-api"):
        assert f"com.amazonaws.us-east-1.{short}" in found["ServiceNames"]
    s3 = [d for d in found["ServiceDetails"] if d["ServiceName"] == "com.amazonaws.us-east-1.s3"]
    assert sorted(d["ServiceType"][0]["ServiceType"] for d in s3) == ["Gateway", "Interface"]
    gateway = ec2.describe_vpc_endpoint_services(ServiceNames=["com.amazonaws.us-east-1.s3"],
                                                 Filters=[{"Name": "service-type", "Values": ["Gateway"]}])
    assert [d["ServiceType"] for d in gateway["ServiceDetails"]] == [[{"ServiceType": "Gateway"}]]
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpc_endpoint_services(ServiceNames=["com.amazonaws.us-east-1.nope"])
    assert error_code(exc) == "InvalidServiceName"


# -- endpoint services and connections --------------------------------------------------------

def test_service_configuration_shape(clients):
    ec2 = clients.client("ec2")
    service = make_service(clients, PrivateDnsName="api.example.com")
    assert service["ServiceState"] == "Available" and service["ServiceType"] == [{"ServiceType": "Interface"}]
    assert service["ServiceName"] == f"com.amazonaws.vpce.us-east-1.{service['ServiceId']}"
    assert service["SupportedIpAddressTypes"] == ["ipv4"]
    assert service["AvailabilityZones"] == ["us-east-1a", "us-east-1b"]
    assert service["BaseEndpointDnsNames"] == [f"{service['ServiceId']}.us-east-1.vpce.amazonaws.com"]
    config = service["PrivateDnsNameConfiguration"]
    assert config["State"] == "pendingVerification" and config["Type"] == "TXT"
    assert config["Value"].startswith("vpce:")
    described = ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[service["ServiceId"]])
    assert described["ServiceConfigurations"][0]["SupportedRegions"] == [
        {"Region": "us-east-1", "ServiceState": "Available"}]
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpc_endpoint_service_configurations(ServiceIds=["vpce-svc-0123456789abcdef0"])
    assert error_code(exc) == "InvalidVpcEndpointServiceId.NotFound"


def test_nlb_must_exist(clients):
    ec2 = clients.client("ec2")
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[
            f"arn:aws:elasticloadbalancing:us-east-1:{clients.account}:loadbalancer/net/x/0123456789abcdef"])
    assert error_code(exc) == "InvalidParameterValue"


def test_permissions_gate_cross_account_endpoints(clients, other):
    provider, consumer = clients.client("ec2"), other.client("ec2")
    service = make_service(clients)
    vpc, subnets = make_vpc(consumer)
    with pytest.raises(ClientError) as exc:
        interface_endpoint(consumer, service["ServiceName"], vpc, subnets)
    assert error_code(exc) == "InvalidServiceName"
    added = allow(provider, service["ServiceId"], other.account)["AddedPrincipals"][0]
    assert added["PrincipalType"] == "Account" and added["ServicePermissionId"].startswith("vpce-svc-perm-")
    listed = provider.describe_vpc_endpoint_service_permissions(ServiceId=service["ServiceId"])
    assert [p["ServicePermissionId"] for p in listed["AllowedPrincipals"]] == [added["ServicePermissionId"]]
    assert service["ServiceName"] in consumer.describe_vpc_endpoint_services()["ServiceNames"]
    created = interface_endpoint(consumer, service["ServiceName"], vpc, subnets)
    assert created["State"] == "pendingAcceptance"
    regional = created["DnsEntries"][0]["DnsName"]
    assert regional.endswith(f".{service['ServiceId']}.us-east-1.vpce.amazonaws.com")
    with pytest.raises(ClientError) as exc:
        provider.modify_vpc_endpoint_service_permissions(ServiceId=service["ServiceId"],
                                                         AddAllowedPrincipals=["arn:aws:iam::12:root"])
    assert error_code(exc) == "InvalidParameterValue"


def test_accept_reject_and_delete_rules(clients, other):
    provider, consumer = clients.client("ec2"), other.client("ec2")
    service = make_service(clients)
    allow(provider, service["ServiceId"], other.account)
    vpc, subnets = make_vpc(consumer)
    first = interface_endpoint(consumer, service["ServiceName"], vpc, subnets[:1])["VpcEndpointId"]
    connections = provider.describe_vpc_endpoint_connections(
        Filters=[{"Name": "service-id", "Values": [service["ServiceId"]]}])["VpcEndpointConnections"]
    assert [(c["VpcEndpointId"], c["VpcEndpointState"], c["VpcEndpointOwner"]) for c in connections] == [
        (first, "pendingAcceptance", other.account)]
    refused = provider.delete_vpc_endpoint_service_configurations(ServiceIds=[service["ServiceId"]])
    assert refused["Unsuccessful"][0]["Error"]["Code"] == "ExistingVpcEndpointConnections"
    assert provider.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"],
                                                    VpcEndpointIds=[first])["Unsuccessful"] == []
    assert endpoint(consumer, first)["State"] == "available"
    # The provider may reject an available endpoint; it cannot delete it.
    provider.reject_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=[first])
    assert endpoint(consumer, first)["State"] == "rejected"
    failed = provider.delete_vpc_endpoints(VpcEndpointIds=[first])["Unsuccessful"]
    assert failed[0]["Error"]["Code"] == "InvalidVpcEndpointId.NotFound"
    missing = provider.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"],
                                                       VpcEndpointIds=["vpce-0123456789abcdef0"])
    assert missing["Unsuccessful"][0]["ResourceId"] == "vpce-0123456789abcdef0"
    assert provider.delete_vpc_endpoint_service_configurations(
        ServiceIds=[service["ServiceId"]])["Unsuccessful"] == []
    assert consumer.delete_vpc_endpoints(VpcEndpointIds=[first])["Unsuccessful"] == []


def test_acceptance_applies_within_the_account_too(clients):
    ec2 = clients.client("ec2")
    service = make_service(clients)
    vpc, subnets = make_vpc(ec2, "10.2.0.0/16")
    created = interface_endpoint(ec2, service["ServiceName"], vpc, subnets)
    assert created["State"] == "pendingAcceptance" and created["PrivateDnsEnabled"] is False
    automatic = make_service(clients, acceptance=False, name="automatic")
    created = interface_endpoint(ec2, automatic["ServiceName"], vpc, subnets)
    assert created["State"] == "available"


def test_private_dns_verification_through_the_local_public_dns_file(clients):
    ec2 = clients.client("ec2")
    domain = f"svc-{clients.account}.example.com"
    service = make_service(clients, PrivateDnsName=domain)
    service_id, config = service["ServiceId"], service["PrivateDnsNameConfiguration"]
    vpc, subnets = make_vpc(ec2, "10.2.0.0/16")
    with pytest.raises(ClientError) as exc:  # not verified yet
        interface_endpoint(ec2, service["ServiceName"], vpc, subnets, PrivateDnsEnabled=True)
    assert error_code(exc) == "InvalidParameter"
    ec2.start_vpc_endpoint_service_private_dns_verification(ServiceId=service_id)
    state = ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])["ServiceConfigurations"]
    assert state[0]["PrivateDnsNameConfiguration"]["State"] == "failed"
    zone = clients.server.state.parent / "public-dns.txt"
    with zone.open("a") as out:
        out.write(f'{config["Name"]}.{domain} IN TXT "{config["Value"]}"\n')
    ec2.start_vpc_endpoint_service_private_dns_verification(ServiceId=service_id)
    state = ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])["ServiceConfigurations"]
    assert state[0]["PrivateDnsNameConfiguration"]["State"] == "verified"
    created = interface_endpoint(ec2, service["ServiceName"], vpc, subnets, PrivateDnsEnabled=True)
    assert created["DnsEntries"][-1]["DnsName"] == domain


def test_service_without_private_name_refuses_private_dns(clients):
    ec2 = clients.client("ec2")
    service = make_service(clients)
    vpc, subnets = make_vpc(ec2, "10.2.0.0/16")
    with pytest.raises(ClientError) as exc:
        interface_endpoint(ec2, service["ServiceName"], vpc, subnets, PrivateDnsEnabled=True)
    assert error_code(exc) == "InvalidParameter" and "does not provide a private DNS name" in str(exc.value)


def test_modify_service_configuration_and_payer(clients):
    ec2 = clients.client("ec2")
    service = make_service(clients, acceptance=False)
    service_id = service["ServiceId"]
    ec2.modify_vpc_endpoint_service_configuration(ServiceId=service_id, AcceptanceRequired=True,
                                                  PrivateDnsName="x.example.org", AddSupportedRegions=["us-west-2"])
    ec2.modify_vpc_endpoint_service_payer_responsibility(ServiceId=service_id, PayerResponsibility="ServiceOwner")
    got = ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])["ServiceConfigurations"][0]
    assert got["AcceptanceRequired"] is True and got["PrivateDnsName"] == "x.example.org"
    assert got["PayerResponsibility"] == "ServiceOwner"
    assert [r["Region"] for r in got["SupportedRegions"]] == ["us-east-1", "us-west-2"]
    ec2.modify_vpc_endpoint_service_configuration(ServiceId=service_id, RemovePrivateDnsName=True)
    got = ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])["ServiceConfigurations"][0]
    assert "PrivateDnsName" not in got
    with pytest.raises(ClientError) as exc:
        ec2.modify_vpc_endpoint_service_configuration(ServiceId=service_id, RemoveNetworkLoadBalancerArns=
                                                      service["NetworkLoadBalancerArns"])
    assert error_code(exc) == "InvalidParameter"


# -- notifications ---------------------------------------------------------------------------

def test_connection_notifications_are_delivered_to_a_local_file(clients, other):
    provider, consumer = clients.client("ec2"), other.client("ec2")
    service = make_service(clients)
    allow(provider, service["ServiceId"], other.account)
    topic = f"arn:aws:sns:us-east-1:{clients.account}:endpoint-events"
    created = provider.create_vpc_endpoint_connection_notification(
        ServiceId=service["ServiceId"], ConnectionNotificationArn=topic,
        ConnectionEvents=["Connect", "Accept"])["ConnectionNotification"]
    assert created["ConnectionNotificationId"].startswith("vpce-nfn-")
    assert created["ConnectionNotificationState"] == "Enabled" and created["ConnectionNotificationType"] == "Topic"
    vpc, subnets = make_vpc(consumer)
    vpce = interface_endpoint(consumer, service["ServiceName"], vpc, subnets[:1])["VpcEndpointId"]
    provider.accept_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=[vpce])
    provider.reject_vpc_endpoint_connections(ServiceId=service["ServiceId"], VpcEndpointIds=[vpce])  # not watched
    path = clients.server.state.parent / "notifications" / clients.account / "us-east-1" / "endpoint-events.jsonl"
    messages = [json.loads(line) for line in path.read_text().splitlines()]
    inner = [json.loads(m["Message"]) for m in messages]
    assert [(i["eventType"], i["vpcEndpointId"], i["vpcEndpointState"]) for i in inner] == [
        ("Connect", vpce, "pendingAcceptance"), ("Accept", vpce, "available")]
    assert all(m["TopicArn"] == topic for m in messages)
    provider.modify_vpc_endpoint_connection_notification(
        ConnectionNotificationId=created["ConnectionNotificationId"], ConnectionEvents=["Delete"])
    listed = provider.describe_vpc_endpoint_connection_notifications(
        Filters=[{"Name": "service-id", "Values": [service["ServiceId"]]}])["ConnectionNotificationSet"]
    assert [n["ConnectionEvents"] for n in listed] == [["Delete"]]
    gone = provider.delete_vpc_endpoint_connection_notifications(
        ConnectionNotificationIds=[created["ConnectionNotificationId"], "vpce-nfn-0123456789abcdef0"])
    assert [u["ResourceId"] for u in gone["Unsuccessful"]] == ["vpce-nfn-0123456789abcdef0"]
    with pytest.raises(ClientError) as exc:
        provider.create_vpc_endpoint_connection_notification(
            ServiceId=service["ServiceId"], ConnectionNotificationArn="not-an-arn", ConnectionEvents=["Accept"])
    assert error_code(exc) == "InvalidParameterValue"


# -- Lattice endpoints -----------------------------------------------------------------------------

def test_service_network_endpoint_writes_the_lattice_association(clients):
    ec2, lattice = clients.client("ec2"), clients.lattice
    sn = lattice.create_service_network(name=f"sn-{clients.n}")
    vpc, subnets = make_vpc(ec2)
    created = ec2.create_vpc_endpoint(VpcEndpointType="ServiceNetwork", VpcId=vpc, ServiceNetworkArn=sn["arn"],
                                      SubnetIds=subnets[:1])["VpcEndpoint"]
    assert created["ServiceNetworkArn"] == sn["arn"] and created["State"] == "available"
    listed = lattice.list_service_network_vpc_endpoint_associations(serviceNetworkIdentifier=sn["id"])["items"]
    assert [(i["vpcEndpointId"], i["vpcId"], i["vpcEndpointOwnerId"]) for i in listed] == [
        (created["VpcEndpointId"], vpc, clients.account)]
    associations = ec2.describe_vpc_endpoint_associations(VpcEndpointIds=[created["VpcEndpointId"]])
    first = associations["VpcEndpointAssociations"][0]
    assert first["ServiceNetworkArn"] == sn["arn"] and first["Id"].startswith("vpce-rsc-asc-")
    ec2.delete_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])
    assert lattice.list_service_network_vpc_endpoint_associations(serviceNetworkIdentifier=sn["id"])["items"] == []


def test_resource_endpoint_writes_the_lattice_association(clients):
    ec2, lattice = clients.client("ec2"), clients.lattice
    vpc, subnets = make_vpc(ec2)
    gateway = lattice.create_resource_gateway(name=f"gw-{clients.n}", vpcIdentifier=vpc, subnetIds=subnets[:1])
    rc = lattice.create_resource_configuration(
        name=f"res-{clients.n}", type="SINGLE", resourceGatewayIdentifier=gateway["id"], portRanges=["5432"],
        resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.0.0.10"}})
    created = ec2.create_vpc_endpoint(VpcEndpointType="Resource", VpcId=vpc, ResourceConfigurationArn=rc["arn"],
                                      SubnetIds=subnets[:1])["VpcEndpoint"]
    vpce = created["VpcEndpointId"]
    assert created["DnsEntries"][0]["DnsName"] == f"{vpce}.{rc['id']}.4232ccc.vpc-lattice-rsc.us-east-1.on.aws"
    listed = lattice.list_resource_endpoint_associations(resourceConfigurationIdentifier=rc["id"])["items"]
    assert [(i["vpcEndpointId"], i["resourceConfigurationId"]) for i in listed] == [(vpce, rc["id"])]
    assert listed[0]["id"].startswith("rea-")
    association = ec2.describe_vpc_endpoint_associations(
        Filters=[{"Name": "vpc-endpoint-id", "Values": [vpce]}])["VpcEndpointAssociations"]
    assert association[0]["AssociatedResourceArn"] == rc["arn"]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[vpce])
    assert lattice.list_resource_endpoint_associations(resourceConfigurationIdentifier=rc["id"])["items"] == []


def test_dry_run_and_describe_filters(clients):
    ec2 = clients.client("ec2")
    vpc, subnets = make_vpc(ec2)
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", DryRun=True)
    assert error_code(exc) == "DryRunOperation"
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3",
                            TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": [{"Key": "k", "Value": "v"}]}])
    interface_endpoint(ec2, "com.amazonaws.us-east-1.sts", vpc, subnets[:1])
    by_type = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-endpoint-type", "Values": ["Interface"]}])
    assert [e["ServiceName"] for e in by_type["VpcEndpoints"]] == ["com.amazonaws.us-east-1.sts"]
    by_tag = ec2.describe_vpc_endpoints(Filters=[{"Name": "tag:k", "Values": ["v"]}])
    assert [e["ServiceName"] for e in by_tag["VpcEndpoints"]] == ["com.amazonaws.us-east-1.s3"]
