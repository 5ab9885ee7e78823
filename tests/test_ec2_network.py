"""EC2 networking through boto3: VPCs, subnets, zones, route tables, ACLs, prefix lists, interfaces, instances."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import client_for, error_code, status_of


@pytest.fixture
def ec2(clients):
    return clients.client("ec2")


def _vpc(ec2, cidr="10.0.0.0/16", **kwargs) -> dict:
    return ec2.create_vpc(CidrBlock=cidr, **kwargs)["Vpc"]


def _subnet(ec2, vpc_id, cidr="10.0.1.0/24", **kwargs) -> dict:
    return ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, **kwargs)["Subnet"]


def _err(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as exc:
        call(*args, **kwargs)
    assert status_of(exc) == 400
    return error_code(exc)


# -- VPCs ---------------------------------------------------------------------------

def test_create_describe_delete_vpc(ec2, clients):
    vpc = _vpc(ec2, TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "main"}]}])
    assert vpc["VpcId"].startswith("vpc-") and len(vpc["VpcId"]) == 21
    assert vpc["State"] == "available" and vpc["CidrBlock"] == "10.0.0.0/16"
    assert vpc["OwnerId"] == clients.account and vpc["IsDefault"] is False
    assert vpc["InstanceTenancy"] == "default"
    assert vpc["CidrBlockAssociationSet"][0]["CidrBlockState"]["State"] == "associated"
    [shown] = ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"]
    assert shown["Tags"] == [{"Key": "Name", "Value": "main"}]
    assert not any(k.startswith("_") for k in shown)
    ec2.delete_vpc(VpcId=vpc["VpcId"])
    assert _err(ec2.describe_vpcs, VpcIds=[vpc["VpcId"]]) == "InvalidVpcID.NotFound"
    assert _err(ec2.delete_vpc, VpcId=vpc["VpcId"]) == "InvalidVpcID.NotFound"


@pytest.mark.parametrize("cidr, code", [
    ("10.0.0.0/8", "InvalidVpc.Range"), ("10.0.0.0/29", "InvalidVpc.Range"), ("127.0.0.0/16", "InvalidVpc.Range"),
    ("10.0.0.0", "InvalidParameterValue"), ("10.0.0.1/16", "InvalidParameterValue"),
    ("banana", "InvalidParameterValue"),
])
def test_create_vpc_rejects_bad_cidrs(ec2, cidr, code):
    assert _err(ec2.create_vpc, CidrBlock=cidr) == code


def test_public_ranges_and_sizes_are_allowed(ec2):
    assert _vpc(ec2, "100.64.0.0/16")["CidrBlock"] == "100.64.0.0/16"
    assert _vpc(ec2, "192.168.0.0/28")["CidrBlock"] == "192.168.0.0/28"
    assert _vpc(ec2, "8.8.0.0/16", InstanceTenancy="dedicated")["InstanceTenancy"] == "dedicated"


def test_describe_vpcs_filters(ec2):
    a = _vpc(ec2, "10.1.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "env", "Value": "a"}]}])
    b = _vpc(ec2, "10.2.0.0/16")

    def ids(*filters):
        return {v["VpcId"] for v in ec2.describe_vpcs(Filters=list(filters))["Vpcs"]}

    assert ids({"Name": "vpc-id", "Values": [a["VpcId"]]}) == {a["VpcId"]}
    assert ids({"Name": "cidr", "Values": ["10.2.0.0/16"]}) == {b["VpcId"]}
    assert ids({"Name": "cidr-block-association.cidr-block", "Values": ["10.1.*"]}) == {a["VpcId"]}
    assert ids({"Name": "tag:env", "Values": ["a"]}) == {a["VpcId"]}
    assert ids({"Name": "is-default", "Values": ["false"]}) == {a["VpcId"], b["VpcId"]}
    assert ids({"Name": "state", "Values": ["pending"]}) == set()
    assert _err(ec2.describe_vpcs, Filters=[{"Name": "nope", "Values": ["x"]}]) == "InvalidParameterValue"


def test_vpc_paging(ec2):
    made = {_vpc(ec2, f"10.{i}.0.0/16")["VpcId"] for i in range(7)}
    first = ec2.describe_vpcs(MaxResults=5)
    rest = ec2.describe_vpcs(MaxResults=5, NextToken=first["NextToken"])
    assert len(first["Vpcs"]) == 5 and "NextToken" not in rest
    assert {v["VpcId"] for v in first["Vpcs"] + rest["Vpcs"]} == made


def test_vpc_attributes(ec2):
    vpc_id = _vpc(ec2)["VpcId"]
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"]
    hostnames = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
    assert hostnames == {**hostnames, "VpcId": vpc_id, "EnableDnsHostnames": {"Value": False}}
    metrics = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableNetworkAddressUsageMetrics")
    assert metrics["EnableNetworkAddressUsageMetrics"]["Value"] is False
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    assert _err(ec2.modify_vpc_attribute, VpcId=vpc_id, EnableDnsHostnames={"Value": True},
                EnableDnsSupport={"Value": True}) == "InvalidParameterCombination"
    assert _err(ec2.describe_vpc_attribute, VpcId="vpc-0123456789abcdef0",
                Attribute="enableDnsSupport") == "InvalidVpcID.NotFound"


def test_new_vpc_has_default_group_main_table_and_acl(ec2, clients):
    vpc_id = _vpc(ec2)["VpcId"]
    by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    [group] = ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"]
    assert group["GroupName"] == "default" and group["Description"] == "default VPC security group"
    assert group["IpPermissionsEgress"] == [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                                             "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]
    assert group["IpPermissions"][0]["UserIdGroupPairs"] == [{"GroupId": group["GroupId"],
                                                              "UserId": clients.account}]
    [table] = ec2.describe_route_tables(Filters=by_vpc + [{"Name": "association.main", "Values": ["true"]}])[
        "RouteTables"]
    assert table["Routes"] == [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local",
                                "Origin": "CreateRouteTable", "State": "active"}]
    assert table["Associations"][0]["Main"] is True
    [acl] = ec2.describe_network_acls(Filters=by_vpc + [{"Name": "default", "Values": ["true"]}])["NetworkAcls"]
    assert {(e["RuleNumber"], e["RuleAction"], e["Egress"]) for e in acl["Entries"]} == {
        (100, "allow", True), (100, "allow", False), (32767, "deny", True), (32767, "deny", False)}
    ec2.delete_vpc(VpcId=vpc_id)
    assert ec2.describe_security_groups(Filters=by_vpc)["SecurityGroups"] == []
    assert ec2.describe_route_tables(Filters=by_vpc)["RouteTables"] == []
    assert ec2.describe_network_acls(Filters=by_vpc)["NetworkAcls"] == []


def test_delete_vpc_with_dependencies(ec2):
    vpc_id = _vpc(ec2)["VpcId"]
    subnet_id = _subnet(ec2, vpc_id)["SubnetId"]
    assert _err(ec2.delete_vpc, VpcId=vpc_id) == "DependencyViolation"
    ec2.delete_subnet(SubnetId=subnet_id)
    group_id = ec2.create_security_group(VpcId=vpc_id, GroupName="web", Description="web")["GroupId"]
    assert _err(ec2.delete_vpc, VpcId=vpc_id) == "DependencyViolation"
    ec2.delete_security_group(GroupId=group_id)
    table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    assert _err(ec2.delete_vpc, VpcId=vpc_id) == "DependencyViolation"
    ec2.delete_route_table(RouteTableId=table_id)
    ec2.delete_vpc(VpcId=vpc_id)


def test_dry_run(ec2):
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc(CidrBlock="10.0.0.0/16", DryRun=True)
    assert error_code(exc) == "DryRunOperation" and status_of(exc) == 412
    assert ec2.describe_vpcs()["Vpcs"] == []


# -- subnets --------------------------------------------------------------------------

def test_subnet_lifecycle(ec2, clients):
    vpc_id = _vpc(ec2)["VpcId"]
    subnet = _subnet(ec2, vpc_id, "10.0.1.0/24", AvailabilityZone="us-east-1b")
    assert subnet["State"] == "available" and subnet["VpcId"] == vpc_id
    assert subnet["AvailabilityZone"] == "us-east-1b" and subnet["AvailabilityZoneId"] == "use1-az2"
    assert subnet["AvailableIpAddressCount"] == 251
    assert subnet["SubnetArn"] == f"arn:aws:ec2:us-east-1:{clients.account}:subnet/{subnet['SubnetId']}"
    assert subnet["MapPublicIpOnLaunch"] is False and subnet["DefaultForAz"] is False
    other = _subnet(ec2, vpc_id, "10.0.2.0/28", AvailabilityZoneId="use1-az3")
    assert other["AvailabilityZone"] == "us-east-1c" and other["AvailableIpAddressCount"] == 11
    [shown] = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"]
    assert shown == subnet
    by_az = ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": ["us-east-1c"]}])["Subnets"]
    assert [s["SubnetId"] for s in by_az] == [other["SubnetId"]]
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    assert _err(ec2.describe_subnets, SubnetIds=[subnet["SubnetId"]]) == "InvalidSubnetID.NotFound"
    assert _err(ec2.delete_subnet, SubnetId=subnet["SubnetId"]) == "InvalidSubnetID.NotFound"


def test_subnet_errors(ec2):
    vpc_id = _vpc(ec2)["VpcId"]
    _subnet(ec2, vpc_id, "10.0.0.0/24")
    assert _err(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.0.128/25") == "InvalidSubnet.Conflict"
    assert _err(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.1.0.0/24") == "InvalidSubnet.Range"
    assert _err(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.8.0/29") == "InvalidSubnet.Range"
    assert _err(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.0.8.0/24",
                AvailabilityZone="us-east-1z") == "InvalidParameterValue"
    assert _err(ec2.create_subnet, VpcId="vpc-0123456789abcdef0", CidrBlock="10.0.8.0/24") == "InvalidVpcID.NotFound"


def test_same_cidr_in_two_vpcs(ec2):
    a, b = _vpc(ec2)["VpcId"], _vpc(ec2)["VpcId"]
    assert _subnet(ec2, a)["CidrBlock"] == _subnet(ec2, b)["CidrBlock"]


def test_modify_subnet_attribute(ec2):
    subnet_id = _subnet(ec2, _vpc(ec2)["VpcId"])["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    ec2.modify_subnet_attribute(SubnetId=subnet_id, PrivateDnsHostnameTypeOnLaunch="resource-name")
    [subnet] = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    assert subnet["MapPublicIpOnLaunch"] is True
    assert subnet["PrivateDnsNameOptionsOnLaunch"]["HostnameType"] == "resource-name"


def test_availability_zones_and_account_attributes(ec2):
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert [z["ZoneId"] for z in zones] == ["use1-az1", "use1-az2", "use1-az3"]
    assert {z["State"] for z in zones} == {"available"} and {z["RegionName"] for z in zones} == {"us-east-1"}
    [b] = ec2.describe_availability_zones(ZoneIds=["use1-az2"])["AvailabilityZones"]
    assert b["ZoneName"] == "us-east-1b"
    named = ec2.describe_availability_zones(Filters=[{"Name": "zone-name", "Values": ["us-east-1c"]}])
    assert [z["ZoneId"] for z in named["AvailabilityZones"]] == ["use1-az3"]
    assert _err(ec2.describe_availability_zones, ZoneNames=["us-east-1q"]) == "InvalidParameterValue"
    attrs = {a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
             for a in ec2.describe_account_attributes()["AccountAttributes"]}
    assert attrs["supported-platforms"] == ["VPC"] and attrs["default-vpc"] == ["none"]
    only = ec2.describe_account_attributes(AttributeNames=["default-vpc"])["AccountAttributes"]
    assert [a["AttributeName"] for a in only] == ["default-vpc"]


def test_other_region_zones(clients):
    ec2 = client_for(clients.server, "ec2", clients.n, region="ap-southeast-2")
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneId"] for z in zones] == ["apse2-az1", "apse2-az2", "apse2-az3"]


# -- route tables -------------------------------------------------------------------

def test_route_table_lifecycle(ec2):
    vpc_id = _vpc(ec2)["VpcId"]
    subnet_id = _subnet(ec2, vpc_id)["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=[
        {"ResourceType": "route-table", "Tags": [{"Key": "Name", "Value": "private"}]}])["RouteTable"]
    table_id = table["RouteTableId"]
    assert table["Routes"][0]["GatewayId"] == "local" and table["Associations"] == []
    assoc = ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    assert assoc["AssociationState"] == {"State": "associated"}
    found = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    assert [t["RouteTableId"] for t in found["RouteTables"]] == [table_id]
    by_assoc = ec2.describe_route_tables(Filters=[{"Name": "association.route-table-association-id",
                                                   "Values": [assoc["AssociationId"]]}])["RouteTables"]
    assert by_assoc[0]["Associations"][0]["SubnetId"] == subnet_id
    assert _err(ec2.associate_route_table, RouteTableId=table_id, SubnetId=subnet_id) == "Resource.AlreadyAssociated"
    assert _err(ec2.delete_route_table, RouteTableId=table_id) == "DependencyViolation"
    ec2.disassociate_route_table(AssociationId=assoc["AssociationId"])
    assert _err(ec2.disassociate_route_table, AssociationId=assoc["AssociationId"]) == "InvalidAssociationID.NotFound"
    ec2.delete_route_table(RouteTableId=table_id)
    assert _err(ec2.describe_route_tables, RouteTableIds=[table_id]) == "InvalidRouteTableID.NotFound"


def test_main_table_cannot_be_deleted_and_association_can_move(ec2):
    vpc_id = _vpc(ec2)["VpcId"]
    [main] = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    assert _err(ec2.delete_route_table, RouteTableId=main["RouteTableId"]) == "DependencyViolation"
    other = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    moved = ec2.replace_route_table_association(AssociationId=main["Associations"][0]["RouteTableAssociationId"],
                                                RouteTableId=other)
    [now_main] = ec2.describe_route_tables(Filters=[{"Name": "association.main", "Values": ["true"]},
                                                    {"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    assert now_main["RouteTableId"] == other
    assert now_main["Associations"][0]["RouteTableAssociationId"] == moved["NewAssociationId"]


def test_routes(ec2):
    vpc_id = _vpc(ec2)["VpcId"]
    table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId="igw-0123456789abcdef0")
    assert _err(ec2.create_route, RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0",
                GatewayId="igw-0123456789abcdef0") == "RouteAlreadyExists"
    [table] = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
    assert table["Routes"][1] == {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0123456789abcdef0",
                                  "Origin": "CreateRoute", "State": "active"}
    assert _err(ec2.delete_route, RouteTableId=table_id, DestinationCidrBlock="10.0.0.0/16") == "InvalidParameterValue"
    assert _err(ec2.delete_route, RouteTableId=table_id, DestinationCidrBlock="10.9.0.0/16") == "InvalidRoute.NotFound"
    ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0")
    [table] = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
    assert len(table["Routes"]) == 1
    assert _err(ec2.create_route_table, VpcId="vpc-0123456789abcdef0") == "InvalidVpcID.NotFound"


def test_deleting_a_subnet_drops_its_associations(ec2):
    vpc_id = _vpc(ec2)["VpcId"]
    subnet_id = _subnet(ec2, vpc_id)["SubnetId"]
    table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    [acl] = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
        "NetworkAcls"]
    assert acl["IsDefault"] is True
    ec2.delete_subnet(SubnetId=subnet_id)
    assert ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]["Associations"] == []
    assert ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
        "NetworkAcls"] == []
    ec2.delete_route_table(RouteTableId=table_id)


# -- prefix lists -------------------------------------------------------------------

def test_prefix_lists(ec2):
    lists = ec2.describe_prefix_lists()["PrefixLists"]
    assert {p["PrefixListName"] for p in lists} == {"com.amazonaws.us-east-1.s3", "com.amazonaws.us-east-1.dynamodb"}
    s3 = next(p for p in lists if p["PrefixListName"].endswith(".s3"))
    assert s3["PrefixListId"].startswith("pl-") and s3["Cidrs"]
    again = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [s3["PrefixListName"]]}])
    assert again["PrefixLists"] == [s3]
    managed = ec2.describe_managed_prefix_lists()["PrefixLists"]
    lattice = next(p for p in managed if p["PrefixListName"] == "com.amazonaws.us-east-1.vpc-lattice")
    assert lattice["OwnerId"] == "AWS" and lattice["AddressFamily"] == "IPv4"
    entries = ec2.get_managed_prefix_list_entries(PrefixListId=lattice["PrefixListId"])["Entries"]
    assert entries == [{"Cidr": "169.254.171.0/24"}]
    v6 = next(p for p in managed if p["PrefixListName"] == "com.amazonaws.us-east-1.ipv6.vpc-lattice")
    assert ec2.get_managed_prefix_list_entries(PrefixListId=v6["PrefixListId"])["Entries"] == [
        {"Cidr": "fd00:ec2:80::/64"}]
    assert _err(ec2.describe_prefix_lists, PrefixListIds=["pl-00000000"]) == "InvalidPrefixListID.NotFound"


# -- network interfaces ---------------------------------------------------------------

def test_network_interface_lifecycle(ec2, clients):
    vpc_id = _vpc(ec2)["VpcId"]
    subnet_id = _subnet(ec2, vpc_id, "10.0.1.0/28")["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet_id, Description="mine", TagSpecifications=[
        {"ResourceType": "network-interface", "Tags": [{"Key": "k", "Value": "v"}]}])["NetworkInterface"]
    assert eni["PrivateIpAddress"] == "10.0.1.4" and eni["Status"] == "available"
    assert eni["Groups"][0]["GroupName"] == "default" and eni["RequesterManaged"] is False
    assert eni["TagSet"] == [{"Key": "k", "Value": "v"}] and eni["OwnerId"] == clients.account
    second = ec2.create_network_interface(SubnetId=subnet_id, PrivateIpAddress="10.0.1.9")["NetworkInterface"]
    assert second["PrivateIpAddress"] == "10.0.1.9"
    assert _err(ec2.create_network_interface, SubnetId=subnet_id,
                PrivateIpAddress="10.0.1.9") == "InvalidIPAddress.InUse"
    assert _err(ec2.create_network_interface, SubnetId=subnet_id,
                PrivateIpAddress="10.0.1.15") == "InvalidParameterValue"
    [subnet] = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    assert subnet["AvailableIpAddressCount"] == 9
    found = ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet_id]},
                                                     {"Name": "description", "Values": ["mine"]}])
    assert [n["NetworkInterfaceId"] for n in found["NetworkInterfaces"]] == [eni["NetworkInterfaceId"]]
    assert _err(ec2.delete_subnet, SubnetId=subnet_id) == "DependencyViolation"
    for n in (eni, second):
        ec2.delete_network_interface(NetworkInterfaceId=n["NetworkInterfaceId"])
    assert _err(ec2.describe_network_interfaces,
                NetworkInterfaceIds=[eni["NetworkInterfaceId"]]) == "InvalidNetworkInterfaceID.NotFound"
    ec2.delete_subnet(SubnetId=subnet_id)


def test_subnet_runs_out_of_addresses(ec2):
    subnet_id = _subnet(ec2, _vpc(ec2)["VpcId"], "10.0.1.0/28")["SubnetId"]
    made = [ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["PrivateIpAddress"]
            for _ in range(11)]
    assert made == [f"10.0.1.{n}" for n in range(4, 15)]
    assert _err(ec2.create_network_interface, SubnetId=subnet_id) == "InsufficientFreeAddressesInSubnet"


def test_interface_groups_must_be_in_the_vpc(ec2):
    a, b = _vpc(ec2)["VpcId"], _vpc(ec2)["VpcId"]
    subnet_id = _subnet(ec2, a)["SubnetId"]
    foreign = ec2.create_security_group(VpcId=b, GroupName="x", Description="x")["GroupId"]
    assert _err(ec2.create_network_interface, SubnetId=subnet_id, Groups=[foreign]) == "InvalidParameter"
    assert _err(ec2.create_network_interface, SubnetId=subnet_id,
                Groups=["sg-0123456789abcdef0"]) == "InvalidGroup.NotFound"
    assert _err(ec2.create_network_interface, SubnetId="subnet-0123456789abcdef0") == "InvalidSubnetID.NotFound"


# -- instances --------------------------------------------------------------------------

def test_run_describe_terminate_instances(ec2):
    vpc_id = _vpc(ec2)["VpcId"]
    subnet_id = _subnet(ec2, vpc_id)["SubnetId"]
    group_id = ec2.create_security_group(VpcId=vpc_id, GroupName="app", Description="app")["GroupId"]
    run = ec2.run_instances(ImageId="ami-0123456789abcdef0", InstanceType="t3.micro", MinCount=2, MaxCount=2,
                            SubnetId=subnet_id, SecurityGroupIds=[group_id], TagSpecifications=[
                                {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}])
    assert run["ReservationId"].startswith("r-") and len(run["Instances"]) == 2
    first = run["Instances"][0]
    assert first["State"] == {"Code": 16, "Name": "running"} and first["PrivateIpAddress"] == "10.0.1.4"
    assert first["SubnetId"] == subnet_id and first["VpcId"] == vpc_id
    assert first["SecurityGroups"] == [{"GroupId": group_id, "GroupName": "app"}]
    [eni] = first["NetworkInterfaces"]
    assert eni["Attachment"]["DeviceIndex"] == 0 and eni["PrivateIpAddress"] == "10.0.1.4"
    ids = [i["InstanceId"] for i in run["Instances"]]
    [reservation] = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert {i["InstanceId"] for i in reservation["Instances"]} == set(ids)
    tagged = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["web"]},
                                             {"Name": "private-ip-address", "Values": ["10.0.1.5"]}])
    assert [i["InstanceId"] for r in tagged["Reservations"] for i in r["Instances"]] == [ids[1]]
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [ids[0]]}])
    assert [n["NetworkInterfaceId"] for n in enis["NetworkInterfaces"]] == [eni["NetworkInterfaceId"]]
    assert _err(ec2.delete_network_interface,
                NetworkInterfaceId=eni["NetworkInterfaceId"]) == "InvalidNetworkInterface.InUse"
    assert _err(ec2.delete_security_group, GroupId=group_id) == "DependencyViolation"
    done = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert done[0]["PreviousState"]["Name"] == "running" and done[0]["CurrentState"]["Name"] == "shutting-down"
    [reservation] = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert {i["State"]["Name"] for i in reservation["Instances"]} == {"terminated"}
    assert ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet_id]}])[
        "NetworkInterfaces"] == []
    ec2.delete_security_group(GroupId=group_id)
    ec2.delete_subnet(SubnetId=subnet_id)
    ec2.delete_vpc(VpcId=vpc_id)


def test_run_instances_errors(ec2):
    subnet_id = _subnet(ec2, _vpc(ec2)["VpcId"], "10.0.1.0/28")["SubnetId"]
    assert _err(ec2.run_instances, ImageId="ami-1234", MinCount=1, MaxCount=1,
                SubnetId=subnet_id) == "InvalidAMIID.Malformed"
    assert _err(ec2.run_instances, ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1) == "VPCIdNotSpecified"
    assert _err(ec2.run_instances, ImageId="ami-0123456789abcdef0", MinCount=12, MaxCount=12,
                SubnetId=subnet_id) == "InsufficientFreeAddressesInSubnet"
    launched = ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=20, SubnetId=subnet_id)
    assert len(launched["Instances"]) == 11
    assert _err(ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"]) == "InvalidInstanceID.NotFound"
    assert _err(ec2.terminate_instances, InstanceIds=["i-0123456789abcdef0"]) == "InvalidInstanceID.NotFound"


def test_tags_on_network_kinds(ec2):
    vpc_id = _vpc(ec2)["VpcId"]
    subnet_id = _subnet(ec2, vpc_id)["SubnetId"]
    ec2.create_tags(Resources=[vpc_id, subnet_id], Tags=[{"Key": "team", "Value": "net"}])
    rows = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["team"]}])["Tags"]
    assert {(r["ResourceId"], r["ResourceType"]) for r in rows} == {(vpc_id, "vpc"), (subnet_id, "subnet")}
    assert ec2.describe_subnets(Filters=[{"Name": "tag:team", "Values": ["net"]}])["Subnets"][0]["SubnetId"] == \
        subnet_id
