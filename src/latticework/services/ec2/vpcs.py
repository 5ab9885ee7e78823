"""VPCs, subnets, Availability Zones and account attributes.

Model
    A ``vpc`` record's body is the ``Vpc`` output shape; its internal fields
    are ``Attributes`` (``EnableDnsSupport`` default true, ``EnableDnsHostnames``
    default false, ``EnableNetworkAddressUsageMetrics`` default false), the
    VPC's fabric block (``records.ec2.FABRIC_INDEX``) and the ids of the three
    companions every VPC gets at creation, exactly as in AWS: the default
    security group (``DefaultSecurityGroupId``), the main route table
    (``MainRouteTableId``) and the default network ACL
    (``DefaultNetworkAclId``). Deleting the VPC deletes those three; anything
    else in it (subnets, other groups or route tables, endpoints, ...) makes
    ``DeleteVpc`` fail with ``DependencyViolation``.

    A ``subnet`` record's body is the ``Subnet`` shape; its internal
    ``Allocated`` lists the private IPv4 addresses handed out in it (network
    interfaces take theirs from here, see ``interfaces.py``), so
    ``AvailableIpAddressCount`` is the subnet size minus AWS's five reserved
    addresses minus ``Allocated``.

Availability Zones
    Every Region has three zones, ``<region>a`` .. ``<region>c``, with zone ids
    ``<short region>-az1`` .. ``-az3`` (``us-east-1a`` is ``use1-az1``). In AWS
    the name-to-id mapping differs per account; here it is the same for all
    accounts, which keeps cross-account AZ matching (by id) predictable.

CIDRs
    VPC and subnet blocks are /16 to /28 IPv4 networks; AWS accepts any
    address range except the few it reserves (``RESERVED_RANGES``).
    https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html
    IPv6 blocks and secondary CIDR blocks are not implemented.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping, Sequence, cast

from latticework import fabric
from latticework.api.context import RequestContext
from latticework.services.ec2 import api_types as shapes
from latticework.records import ec2 as ec2_records
from latticework.services.ec2 import routing, security
from latticework.services.ec2.common import Ec2Error, describe, get, matches, tags_for
from latticework.services.ec2.kinds import KINDS, SUBNET, VPC
from latticework.store import Record, Store

MIN_PREFIX, MAX_PREFIX = 16, 28
RESERVED_PER_SUBNET = 5  # network, VPC router, DNS, future use, broadcast
ZONES_PER_REGION = 3
ATTRIBUTES = {  # DescribeVpcAttribute's Attribute value -> member name
    "enableDnsSupport": "EnableDnsSupport",
    "enableDnsHostnames": "EnableDnsHostnames",
    "enableNetworkAddressUsageMetrics": "EnableNetworkAddressUsageMetrics",
}
DEFAULT_ATTRIBUTES = {"EnableDnsSupport": True, "EnableDnsHostnames": False, "EnableNetworkAddressUsageMetrics": False}
# Ranges AWS refuses for a VPC: current network, loopback, link-local, multicast, reserved.
RESERVED_RANGES = [ipaddress.ip_network(n) for n in
                   ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")]
DEAD_STATES = {"deleted", "terminated", "shutting-down"}


# -- CIDR arithmetic (pure) -------------------------------------------------------

def parse_ipv4_cidr(text: str, parameter: str = "cidrBlock") -> ipaddress.IPv4Network:
    """``text`` as an IPv4 network with no host bits, or EC2's ``InvalidParameterValue``."""
    invalid = Ec2Error("InvalidParameterValue",
                       f"Value ({text}) for parameter {parameter} is invalid. This is not a valid CIDR block.")
    try:
        network = ipaddress.IPv4Network(text, strict=True)
    except ValueError:
        raise invalid from None
    if "/" not in text:  # a bare address would otherwise pass as a /32
        raise invalid
    return network


def size_allowed(network: ipaddress.IPv4Network) -> bool:
    return MIN_PREFIX <= network.prefixlen <= MAX_PREFIX


def vpc_range_allowed(network: ipaddress.IPv4Network) -> bool:
    return size_allowed(network) and not any(network.overlaps(r) for r in RESERVED_RANGES)


def usable_count(network: ipaddress.IPv4Network) -> int:
    return network.num_addresses - RESERVED_PER_SUBNET


# -- Availability Zones --------------------------------------------------------------

_DIRECTIONS = {"east": "e", "west": "w", "north": "n", "south": "s", "central": "c", "northeast": "ne",
               "northwest": "nw", "southeast": "se", "southwest": "sw", "gov": "g", "iso": "i", "isob": "ib"}


def region_code(region: str) -> str:
    """``us-east-1`` -> ``use1``, ``ap-southeast-2`` -> ``apse2``: the zone id prefix."""
    parts = region.split("-")
    if len(parts) < 3:
        return region.replace("-", "")
    middle = "".join(_DIRECTIONS.get(p, p[:1]) for p in parts[1:-1])
    return f"{parts[0]}{middle}{parts[-1]}"


def availability_zones(region: str) -> list[shapes.AvailabilityZone]:
    """The Region's zones in the ``AvailabilityZone`` shape."""
    code = region_code(region)
    return [{"ZoneName": f"{region}{letter}", "ZoneId": f"{code}-az{n}", "State": "available",
             "OptInStatus": "opt-in-not-required", "Messages": [], "RegionName": region, "GroupName": region,
             "NetworkBorderGroup": region, "ZoneType": "availability-zone", "GroupLongName": region}
            for n, letter in enumerate("abcdefgh"[:ZONES_PER_REGION], start=1)]


def zone_for(region: str, name: str | None, zone_id: str | None) -> shapes.AvailabilityZone:
    """The zone a CreateSubnet asked for (by name or id; the first zone when neither)."""
    zones = availability_zones(region)
    if name and zone_id:
        raise Ec2Error("InvalidParameterCombination",
                       "Only one of availabilityZone or availabilityZoneId may be specified")
    if not name and not zone_id:
        return zones[0]
    found = next((z for z in zones if z["ZoneName"] == name or z["ZoneId"] == zone_id), None)
    if found is None:
        given, param = (name, "availabilityZone") if name else (zone_id, "availabilityZoneId")
        names = ", ".join(z["ZoneName"] for z in zones)
        raise Ec2Error("InvalidParameterValue", f"Value ({given}) for parameter {param} is invalid. Subnets can "
                       f"currently only be created in the following availability zones: {names}.")
    return found


AZ_FILTERS = {
    "zone-name": lambda z: z["ZoneName"], "zone-id": lambda z: z["ZoneId"], "state": lambda z: z["State"],
    "region-name": lambda z: z["RegionName"], "group-name": lambda z: z["GroupName"],
    "zone-type": lambda z: z["ZoneType"], "opt-in-status": lambda z: z["OptInStatus"],
    "network-border-group": lambda z: z["NetworkBorderGroup"], "message": lambda z: [],
    "parent-zone-name": lambda z: None, "parent-zone-id": lambda z: None,
}

ACCOUNT_ATTRIBUTES = {  # there is no default VPC in a Latticework account
    "supported-platforms": ["VPC"],
    "default-vpc": ["none"],
    "max-instances": ["20"],
    "vpc-max-security-groups-per-interface": ["5"],
    "max-elastic-ips": ["5"],
    "vpc-max-elastic-ips": ["5"],
}


# -- VPC records ---------------------------------------------------------------------

VPC_FILTERS = {
    "vpc-id": lambda b: b["VpcId"],
    "cidr": lambda b: b["CidrBlock"],
    "cidr-block-association.cidr-block": lambda b: [a["CidrBlock"] for a in b["CidrBlockAssociationSet"]],
    "cidr-block-association.association-id":
        lambda b: [a["AssociationId"] for a in b["CidrBlockAssociationSet"]],
    "cidr-block-association.state": lambda b: [a["CidrBlockState"]["State"] for a in b["CidrBlockAssociationSet"]],
    "ipv6-cidr-block-association.ipv6-cidr-block": lambda b: [],
    "ipv6-cidr-block-association.association-id": lambda b: [],
    "ipv6-cidr-block-association.state": lambda b: [],
    "dhcp-options-id": lambda b: b["DhcpOptionsId"],
    "instance-tenancy": lambda b: b["InstanceTenancy"],
    "is-default": lambda b: b["IsDefault"],
    "owner-id": lambda b: b["OwnerId"],
    "state": lambda b: b["State"],
}


def _new_vpc_body(ctx: RequestContext, vpc_id: str, network: ipaddress.IPv4Network, params: Mapping[str, Any]) -> dict:
    return {
        "VpcId": vpc_id, "OwnerId": ctx.account, "State": "available", "CidrBlock": str(network),
        "CidrBlockAssociationSet": [{"AssociationId": "vpc-cidr-assoc-" + VPC.new_id()[4:], "CidrBlock": str(network),
                                     "CidrBlockState": {"State": "associated"}}],
        "DhcpOptionsId": "default", "InstanceTenancy": params.get("InstanceTenancy") or "default",
        "IsDefault": False, "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        "Tags": tags_for(params, "vpc"),
    }


def _check_vpc_request(params: Mapping[str, Any]) -> ipaddress.IPv4Network:
    if params.get("Ipv4IpamPoolId") or params.get("Ipv6IpamPoolId") or params.get("Ipv6CidrBlock") \
            or params.get("AmazonProvidedIpv6CidrBlock") or params.get("Ipv6Pool"):
        raise Ec2Error("InvalidParameterValue", "IPAM pools and IPv6 CIDR blocks are not supported by Latticework")
    if not params.get("CidrBlock"):
        raise Ec2Error("MissingParameter", "Either 'cidrBlock' or 'ipv4IpamPoolId' should be provided.")
    network = parse_ipv4_cidr(params["CidrBlock"])
    if not vpc_range_allowed(network):
        raise Ec2Error("InvalidVpc.Range", f"The CIDR '{params['CidrBlock']}' is invalid.")
    if params.get("InstanceTenancy") == "host":
        raise Ec2Error("InvalidParameterValue", "The tenancy value host is not supported for VPCs.")
    return network


def vpc_network(vpc: dict) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(vpc["CidrBlock"])


def _dead(body: dict) -> bool:
    state = body.get("State")
    state = state.get("Name") if isinstance(state, dict) else state
    return str(state).lower() in DEAD_STATES


def _dependents(ctx: RequestContext, vpc: Record) -> list[str]:
    """Ids of everything in the VPC except its own default group, main table and default ACL."""
    own = {vpc.id, vpc.internal["DefaultSecurityGroupId"], vpc.internal["MainRouteTableId"],
           vpc.internal["DefaultNetworkAclId"]}
    found = []
    for kind in KINDS.values():
        found += [r.id for r in ctx.tx.list(kind.kind)
                  if r.body.get("VpcId") == vpc.id and r.id not in own and not _dead(r.body)]
    return found


class VpcOps:
    # -- VPCs --
    def create_vpc(self, ctx: RequestContext, params: shapes.CreateVpcRequest) -> shapes.CreateVpcResult:
        network = _check_vpc_request(params)
        vpc_id = VPC.new_id()
        body = _new_vpc_body(ctx, vpc_id, network, params)
        internal = {"Attributes": dict(DEFAULT_ATTRIBUTES),
                    "DefaultSecurityGroupId": security.create_default_group(ctx, vpc_id),
                    "MainRouteTableId": routing.create_main_table(ctx, vpc_id, str(network)),
                    "DefaultNetworkAclId": routing.create_default_acl(ctx, vpc_id),
                    ec2_records.FABRIC_INDEX: fabric.claim_block(ctx.tx, vpc_id)}
        ctx.tx.put(Record(VPC.kind, vpc_id, ctx.account, ctx.region, body, internal=internal))
        return {"Vpc": cast(shapes.Vpc, body)}

    def describe_vpcs(self, ctx: RequestContext, params: shapes.DescribeVpcsRequest) -> shapes.DescribeVpcsResult:
        return describe(ctx, VPC, params, "VpcIds", "Vpcs", VPC_FILTERS)

    def delete_vpc(self, ctx: RequestContext, params: shapes.DeleteVpcRequest) -> shapes.NoOutput:
        vpc = get(ctx, VPC, params["VpcId"])
        if _dependents(ctx, vpc):
            raise Ec2Error("DependencyViolation", f"The vpc '{vpc.id}' has dependencies and cannot be deleted.")
        security.delete_group_records(ctx, vpc.internal["DefaultSecurityGroupId"])
        routing.delete_vpc_tables(ctx, vpc.internal["MainRouteTableId"], vpc.internal["DefaultNetworkAclId"])
        fabric.release_block(ctx.tx, ec2_records.VpcRecord(vpc).fabric_index)
        ctx.tx.delete(VPC.kind, vpc.id)
        return {}

    def describe_vpc_attribute(self, ctx: RequestContext,
                               params: shapes.DescribeVpcAttributeRequest) -> shapes.DescribeVpcAttributeResult:
        vpc = get(ctx, VPC, params["VpcId"])
        member = ATTRIBUTES.get(params["Attribute"])
        if member is None:
            raise Ec2Error("InvalidParameterValue",
                           f"Value ({params['Attribute']}) for parameter attribute is invalid. Unknown attribute.")
        # ``member`` is one of the result's attribute members, computed from the request.
        return cast(shapes.DescribeVpcAttributeResult,
                    {"VpcId": vpc.id, member: {"Value": vpc.internal["Attributes"][member]}})

    def modify_vpc_attribute(self, ctx: RequestContext, params: shapes.ModifyVpcAttributeRequest) -> shapes.NoOutput:
        vpc = get(ctx, VPC, params["VpcId"])
        request: Mapping[str, Any] = params  # read by the attribute member names below
        given = [m for m in ATTRIBUTES.values() if request.get(m) is not None]
        if len(given) != 1:
            # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcAttribute.html
            # "You can only modify one attribute at a time."
            raise Ec2Error("InvalidParameterCombination" if given else "MissingParameter",
                           "Exactly one attribute must be specified per call.")
        member = given[0]
        vpc.internal["Attributes"][member] = bool(request[member].get("Value"))
        ctx.tx.put(vpc)
        return {}

    # -- subnets --
    def create_subnet(self, ctx: RequestContext, params: shapes.CreateSubnetRequest) -> shapes.CreateSubnetResult:
        vpc = get(ctx, VPC, params["VpcId"])
        if params.get("Ipv6CidrBlock") or params.get("Ipv6Native") or params.get("Ipv4IpamPoolId"):
            raise Ec2Error("InvalidParameterValue", "IPv6 and IPAM subnets are not supported by Latticework")
        if not params.get("CidrBlock"):
            raise Ec2Error("MissingParameter", "The request must contain the parameter cidrBlock")
        network = _check_subnet_cidr(ctx, vpc, params["CidrBlock"])
        zone = zone_for(ctx.region, params.get("AvailabilityZone"), params.get("AvailabilityZoneId"))
        subnet_id = SUBNET.new_id()
        body = _new_subnet_body(ctx, subnet_id, vpc.id, network, zone, params)
        record = ctx.tx.put(Record(SUBNET.kind, subnet_id, ctx.account, ctx.region, body, internal={"Allocated": []}))
        routing.associate_default_acl(ctx, vpc.internal["DefaultNetworkAclId"], subnet_id)
        return {"Subnet": present_subnet(record)}

    def describe_subnets(self, ctx: RequestContext,
                         params: shapes.DescribeSubnetsRequest) -> shapes.DescribeSubnetsResult:
        return describe(ctx, SUBNET, params, "SubnetIds", "Subnets", SUBNET_FILTERS, present_subnet)

    def delete_subnet(self, ctx: RequestContext, params: shapes.DeleteSubnetRequest) -> shapes.NoOutput:
        subnet = get(ctx, SUBNET, params["SubnetId"])
        if subnet.internal["Allocated"] or _subnet_users(ctx, subnet.id):
            raise Ec2Error("DependencyViolation",
                           f"The subnet '{subnet.id}' has dependencies and cannot be deleted.")
        routing.forget_subnet(ctx, subnet.id)
        ctx.tx.delete(SUBNET.kind, subnet.id)
        return {}

    def modify_subnet_attribute(self, ctx: RequestContext,
                                params: shapes.ModifySubnetAttributeRequest) -> shapes.NoOutput:
        subnet = get(ctx, SUBNET, params["SubnetId"])
        body = subnet.body
        for member in ("MapPublicIpOnLaunch", "AssignIpv6AddressOnCreation", "MapCustomerOwnedIpOnLaunch",
                       "EnableDns64"):
            if params.get(member) is not None:
                body[member] = bool(params[member].get("Value"))
        options = body["PrivateDnsNameOptionsOnLaunch"]
        if params.get("PrivateDnsHostnameTypeOnLaunch"):
            options["HostnameType"] = params["PrivateDnsHostnameTypeOnLaunch"]
        request: Mapping[str, Any] = params  # read by the member names below
        for member, field in (("EnableResourceNameDnsARecordOnLaunch", "EnableResourceNameDnsARecord"),
                              ("EnableResourceNameDnsAAAARecordOnLaunch", "EnableResourceNameDnsAAAARecord")):
            if request.get(member) is not None:
                options[field] = bool(request[member].get("Value"))
        if params.get("EnableLniAtDeviceIndex") is not None:
            body["EnableLniAtDeviceIndex"] = params["EnableLniAtDeviceIndex"]
        if params.get("DisableLniAtDeviceIndex") is not None:
            body.pop("EnableLniAtDeviceIndex", None)
        if params.get("CustomerOwnedIpv4Pool"):
            body["CustomerOwnedIpv4Pool"] = params["CustomerOwnedIpv4Pool"]
        ctx.tx.put(subnet)
        return {}

    # -- Region and account --
    def describe_availability_zones(
            self, ctx: RequestContext, params: shapes.DescribeAvailabilityZonesRequest
    ) -> shapes.DescribeAvailabilityZonesResult:
        zones = availability_zones(ctx.region)
        names, ids = params.get("ZoneNames") or [], params.get("ZoneIds") or []
        for wanted, known in ((names, {z["ZoneName"] for z in zones}), (ids, {z["ZoneId"] for z in zones})):
            unknown = [w for w in wanted if w not in known]
            if unknown:
                raise Ec2Error("InvalidParameterValue", f"Invalid availability zone: [{unknown[0]}]")
        if names or ids:
            zones = [z for z in zones if z["ZoneName"] in names or z["ZoneId"] in ids]
        return {"AvailabilityZones": [z for z in zones if matches(z, params.get("Filters"), AZ_FILTERS)]}

    def describe_account_attributes(
            self, ctx: RequestContext, params: shapes.DescribeAccountAttributesRequest
    ) -> shapes.DescribeAccountAttributesResult:
        names: Sequence[str] = params.get("AttributeNames") or list(ACCOUNT_ATTRIBUTES)
        return {"AccountAttributes": [
            {"AttributeName": n, "AttributeValues": [{"AttributeValue": v} for v in ACCOUNT_ATTRIBUTES[n]]}
            for n in names if n in ACCOUNT_ATTRIBUTES]}


# -- subnets ------------------------------------------------------------------------

def _check_subnet_cidr(ctx: RequestContext, vpc: Record, text: str) -> ipaddress.IPv4Network:
    network = parse_ipv4_cidr(text)
    if not size_allowed(network) or not network.subnet_of(vpc_network(vpc.body)):
        raise Ec2Error("InvalidSubnet.Range", f"The CIDR '{text}' is invalid.")
    for other in ctx.tx.list(SUBNET.kind):
        if other.body["VpcId"] == vpc.id and network.overlaps(ipaddress.IPv4Network(other.body["CidrBlock"])):
            raise Ec2Error("InvalidSubnet.Conflict", f"The CIDR '{text}' conflicts with another subnet")
    return network


def _new_subnet_body(ctx: RequestContext, subnet_id: str, vpc_id: str, network: ipaddress.IPv4Network,
                     zone: shapes.AvailabilityZone, params: Mapping[str, Any]) -> dict:
    return {
        "SubnetId": subnet_id, "SubnetArn": ctx.arn("ec2", f"subnet/{subnet_id}"), "VpcId": vpc_id,
        "OwnerId": ctx.account, "State": "available", "CidrBlock": str(network),
        "AvailabilityZone": zone["ZoneName"], "AvailabilityZoneId": zone["ZoneId"],
        "DefaultForAz": False, "MapPublicIpOnLaunch": False, "MapCustomerOwnedIpOnLaunch": False,
        "AssignIpv6AddressOnCreation": False, "Ipv6CidrBlockAssociationSet": [], "EnableDns64": False,
        "Ipv6Native": False, "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        "PrivateDnsNameOptionsOnLaunch": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                          "EnableResourceNameDnsAAAARecord": False},
        "Tags": tags_for(params, "subnet"),
    }


def present_subnet(record: Record) -> Any:
    network = ipaddress.IPv4Network(record.body["CidrBlock"])
    return {**record.body, "AvailableIpAddressCount": usable_count(network) - len(record.internal["Allocated"])}


def _subnet_users(ctx: RequestContext, subnet_id: str) -> list[str]:
    """Live resources other than interfaces placed in the subnet (endpoints list ``SubnetIds``)."""
    found = []
    for kind in KINDS.values():
        if kind.kind == SUBNET.kind:
            continue
        found += [r.id for r in ctx.tx.list(kind.kind) if not _dead(r.body)
                  and (r.body.get("SubnetId") == subnet_id or subnet_id in (r.body.get("SubnetIds") or []))]
    return found


SUBNET_FILTERS = {
    "subnet-id": lambda b: b["SubnetId"], "subnet-arn": lambda b: b["SubnetArn"], "vpc-id": lambda b: b["VpcId"],
    "cidr-block": lambda b: b["CidrBlock"], "cidr": lambda b: b["CidrBlock"], "cidrBlock": lambda b: b["CidrBlock"],
    "availability-zone": lambda b: b["AvailabilityZone"], "availabilityZone": lambda b: b["AvailabilityZone"],
    "availability-zone-id": lambda b: b["AvailabilityZoneId"],
    "availabilityZoneId": lambda b: b["AvailabilityZoneId"],
    "available-ip-address-count": lambda b: b["AvailableIpAddressCount"], "default-for-az": lambda b: b["DefaultForAz"],
    "defaultForAz": lambda b: b["DefaultForAz"], "map-public-ip-on-launch": lambda b: b["MapPublicIpOnLaunch"],
    "owner-id": lambda b: b["OwnerId"], "state": lambda b: b["State"],
    "ipv6-native": lambda b: b["Ipv6Native"],
    "ipv6-cidr-block-association.ipv6-cidr-block": lambda b: [],
    "ipv6-cidr-block-association.association-id": lambda b: [],
    "ipv6-cidr-block-association.state": lambda b: [],
}


def assign_fabric_blocks(store: Store) -> None:
    """Give fabric addresses to VPCs a state file holds from before VPCs got them at creation (at start)."""
    for vpc in store.view([VPC.kind]).of(VPC.kind):
        if ec2_records.VpcRecord(vpc).fabric_index is None:
            with store.transaction(vpc.account, vpc.region, "AssignFabricBlock") as tx:
                record = tx.get(VPC.kind, vpc.id)
                if record is not None:
                    record.internal[ec2_records.FABRIC_INDEX] = fabric.claim_block(tx, vpc.id)
                    tx.put(record)
