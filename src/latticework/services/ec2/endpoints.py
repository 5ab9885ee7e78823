"""VPC endpoints: the consumer side of AWS PrivateLink.

A VPC endpoint (``vpce-``, record kind ``vpcendpoint``, in the consumer's
account) is a VPC's private way to a service. Its type decides what it takes
and what it builds (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpoint.html):

``Gateway`` (the default type)
    S3 or DynamoDB by name; ``RouteTableIds`` get a route from the service's
    AWS-managed prefix list to the endpoint (``routing.add_endpoint_route``),
    removed again when a table is dropped or the endpoint deleted. No subnets,
    no security groups, no DNS names.
``Interface``
    An AWS service of the catalogue (``aws_services``) or a provider's endpoint
    service (``endpoint_services``); one requester-managed network interface
    per subnet, at most one subnet per Availability Zone, and the security
    groups given (the VPC's ``default`` group when none). DNS names follow AWS:
    regional ``vpce-<id>-<8 chars>.<service>.<region>.vpce.amazonaws.com``, one
    zonal name per subnet's zone, then the private DNS name when enabled.
``GatewayLoadBalancer``
    A gateway-load-balancer endpoint service; exactly one subnet, no groups.
``Resource`` / ``Tunnel``
    A VPC Lattice resource configuration (``ResourceConfigurationArn``;
    ``Tunnel`` takes CIDR configurations, ``Resource`` the others). Creating
    one writes the Lattice ``rea`` record ``ListResourceEndpointAssociations``
    reads; deleting the endpoint removes it.
``ServiceNetwork``
    A VPC Lattice service network (``ServiceNetworkArn``); writes the ``snvea``
    record ``ListServiceNetworkVpcEndpointAssociations`` reads.

``DescribeVpcEndpointAssociations`` shows what Resource and ServiceNetwork
endpoints reach: the configuration or network itself, and for a network
endpoint each service and resource configuration associated with the
network (with ``<vpce>-<snra>.<rcfg>...`` DNS names), computed at read time.

States: endpoints to AWS services, Gateway, Resource and ServiceNetwork
endpoints are ``available`` at once; an endpoint to a provider's service is
``pendingAcceptance`` while the service requires acceptance, until the
provider accepts or rejects it (``endpoint_services``). Deleting removes the
record (Describe then answers ``InvalidVpcEndpointId.NotFound``), its
interfaces, routes and Lattice association records.

Private DNS: needs the VPC's ``enableDnsSupport`` and ``enableDnsHostnames``
and a name to use (an AWS service's, or a provider name in state
``verified``); one endpoint per VPC may hold a given private name. It defaults
to on when there is a name to use (AWS services, verified provider names,
Lattice endpoints), off otherwise, so an AWS-service endpoint in a VPC
without DNS hostnames fails unless ``PrivateDnsEnabled=false`` is given, as in
AWS.

Endpoint policies: Gateway endpoints and Interface endpoints to AWS services
that support them; JSON validated as an IAM policy (every statement names a
principal), at most 20,480 characters, ``InvalidPolicyDocument`` otherwise;
the default allows everything. Other endpoints refuse a policy.

Internal fields of an endpoint record: ``Suffix`` (of its DNS names),
``Label`` and ``Wildcard`` (its service's part of them), ``Interfaces``
(subnet id -> interface id), ``PrivateName`` (the private DNS name it would
use), ``ConnectionId`` (shown to the service's provider), ``AssociationId``
(of a Lattice endpoint's association), ``ReaId`` (its Lattice resource endpoint
association) and ``ServiceId`` (a provider's endpoint service).

Not modelled: ``SubnetConfigurations`` addresses (the subnet is used, the
address is allocated by the interface), IPv6 (the VPC work has no IPv6
blocks, so ``ipv6``/``dualstack`` fail on the subnets), cross-Region
``ServiceRegion``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any, Mapping, cast

from latticework import formats
from latticework.api.context import RequestContext
from latticework.policy.document import PolicyError, parse_policy
from latticework.services.ec2 import api_types as shapes
from latticework.records import lattice as lattice_records
from latticework.services.ec2 import aws_services, endpoint_services, interfaces, routing, security, vpcs
from latticework.services.ec2.common import Ec2Error, get, matches, page, tags_for
from latticework.services.ec2.endpoint_services import unsuccessful
from latticework.services.ec2.kinds import ENDPOINT, ROUTE_TABLE, ENDPOINT_SERVICE, SUBNET, VPC
from latticework.services.lattice import endpoints as lattice_endpoints
from latticework.services.lattice import common as lattice_common
from latticework.services.lattice.common import RESOURCE_DNS_TOKEN
from latticework.store import Record

MAX_POLICY = 20480
DEFAULT_POLICY = json.dumps({"Version": "2008-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})
TYPES = ("Interface", "Gateway", "GatewayLoadBalancer", "Resource", "ServiceNetwork", "Tunnel")
WITH_SUBNETS = ("Interface", "GatewayLoadBalancer", "Resource", "ServiceNetwork", "Tunnel")
WITH_GROUPS = ("Interface", "Resource", "ServiceNetwork", "Tunnel")
LATTICE_TYPES = ("Resource", "ServiceNetwork", "Tunnel")


def _invalid(message: str) -> Ec2Error:
    return Ec2Error("InvalidParameter", message)


def _zone_hash(*parts: str) -> str:
    """A stable Route 53-style hosted zone id."""
    return "Z" + hashlib.sha256("/".join(parts).encode()).hexdigest().upper()[:13]


# -- the target a create call names ------------------------------------------------------

class EndpointTarget:
    """What an endpoint connects to: an AWS service, a provider's endpoint service, or a Lattice object."""

    def __init__(self, aws: aws_services.AwsService | None = None, service: Record | None = None,
                 lattice: Record | None = None):
        self.aws, self.service, self.lattice = aws, service, lattice

    def types(self) -> tuple[str, ...]:
        if self.aws:
            return self.aws.types
        return tuple(t["ServiceType"] for t in self.service.body["ServiceType"]) if self.service else ()

    def private_name(self, region: str) -> str | None:
        if self.aws:
            return self.aws.private_dns_name(region)
        if self.service and endpoint_services.private_dns_verified(self.service):
            return self.service.body["PrivateDnsName"]
        return None

    def zones(self, region: str) -> list[str]:
        if self.service:
            return self.service.body["AvailabilityZones"]
        return [z["ZoneName"] for z in vpcs.availability_zones(region)]


def _target(ctx: RequestContext, params: Mapping[str, Any], endpoint_type: str) -> EndpointTarget:
    if endpoint_type in LATTICE_TYPES:
        return EndpointTarget(lattice=_lattice_target(ctx, params, endpoint_type))
    name = params.get("ServiceName")
    if not name:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ServiceName")
    if params.get("ServiceRegion") and params["ServiceRegion"] != ctx.region:
        raise _invalid(f"Cross-Region endpoints (ServiceRegion {params['ServiceRegion']}) are not supported")
    target = EndpointTarget(aws=aws_services.find(ctx.region, name),
                    service=endpoint_services.service_by_name(ctx, name))
    if target.aws is None and target.service is None:
        raise endpoint_services.invalid_service_name(name)
    if endpoint_type not in target.types():
        raise _invalid(f"The Vpc Endpoint Service '{name}' does not support endpoint type {endpoint_type}")
    return target


def _lattice_target(ctx: RequestContext, params: Mapping[str, Any], endpoint_type: str) -> Record:
    member, kind = (("ServiceNetworkArn", lattice_records.SERVICE_NETWORK) if endpoint_type == "ServiceNetwork"
                    else ("ResourceConfigurationArn", lattice_records.RESOURCE_CONFIGURATION))
    arn = params.get(member)
    if not arn:
        raise Ec2Error("MissingParameter", f"The request must contain the parameter {member}")
    record = ctx.tx.by_arn(arn)
    # The caller's own networks and configurations, or another account's that a RAM share reaches it with.
    if record is None or record.kind != kind or not lattice_common.usable(ctx, record):
        raise _invalid(f"The {member} '{arn}' does not exist")
    if kind == lattice_records.RESOURCE_CONFIGURATION:
        rc_type = lattice_records.ResourceConfigurationRecord(record).type
        if (rc_type == "CIDR") != (endpoint_type == "Tunnel"):
            raise _invalid(f"Resource configuration {record.id} of type {rc_type} cannot be reached through a "
                           f"{endpoint_type} endpoint")
        if rc_type == "CHILD":
            raise _invalid(f"Resource configuration {record.id} is a CHILD; create the endpoint to its GROUP")
    return record


def _check_parameters(params: Mapping[str, Any], endpoint_type: str) -> None:
    """Which members each type takes (the table of the API reference)."""
    def refuse(member: str) -> None:
        if params.get(member):
            raise _invalid(f"{member} is not supported for {endpoint_type} VPC endpoints")

    if endpoint_type != "Gateway":
        refuse("RouteTableIds")
    if endpoint_type not in WITH_SUBNETS:
        refuse("SubnetIds")
        refuse("SubnetConfigurations")
    if endpoint_type not in WITH_GROUPS:
        refuse("SecurityGroupIds")
    if endpoint_type in ("Gateway", "GatewayLoadBalancer", "Tunnel"):
        if params.get("PrivateDnsEnabled"):
            raise _invalid(f"Private DNS is not supported for {endpoint_type} VPC endpoints")
    if endpoint_type in LATTICE_TYPES:
        refuse("ServiceName")
    if endpoint_type != "ServiceNetwork":
        refuse("ServiceNetworkArn")
    if endpoint_type not in ("Resource", "Tunnel"):
        refuse("ResourceConfigurationArn")


# -- subnets, groups, route tables -----------------------------------------------------------

def _subnet_ids(params: Mapping[str, Any], add_member: str = "SubnetIds") -> list[str]:
    ids = list(params.get(add_member) or [])
    ids += [c["SubnetId"] for c in params.get("SubnetConfigurations") or [] if c.get("SubnetId")]
    return list(dict.fromkeys(ids))


def _check_subnets(ctx: RequestContext, endpoint: dict, subnet_ids: list[str], target: EndpointTarget | None) -> None:
    """Each subnet exists in the VPC, one per zone, in a zone the service is offered in."""
    zones: dict[str, str] = {}
    for subnet_id in subnet_ids:
        subnet = get(ctx, SUBNET, subnet_id)
        if subnet.body["VpcId"] != endpoint["VpcId"]:
            raise _invalid("You have specified two resources that belong to different networks.")
        zones[subnet_id] = subnet.body["AvailabilityZone"]
    seen: dict[str, str] = {}
    for subnet_id in endpoint.get("SubnetIds", []) + subnet_ids:
        zone = zones.get(subnet_id) or _zone_of(ctx, subnet_id)
        if zone in seen and seen[zone] != subnet_id:
            raise Ec2Error("DuplicateSubnetsInSameZone", f"Found another VPC endpoint subnet in the availability "
                           f"zone of {subnet_id}. VPC endpoint subnets should be in different availability zones "
                           "supported by the VPC endpoint service.")
        seen[zone] = subnet_id
        if target is not None and target.service is not None and zone not in target.zones(ctx.region):
            raise _invalid(f"The VPC endpoint service {target.service.body['ServiceName']} does not support the "
                           f"availability zone of the subnet: {subnet_id}.")


def _zone_of(ctx: RequestContext, subnet_id: str) -> str:
    subnet = ctx.tx.get(SUBNET.kind, subnet_id)
    return subnet.body["AvailabilityZone"] if subnet else ""


def _groups(ctx: RequestContext, vpc: Record, group_ids: list[str]) -> list[dict]:
    """``Groups`` for the ids given, or the VPC's default security group."""
    ids = group_ids or [vpc.internal["DefaultSecurityGroupId"]]
    return security.groups_in_vpc(ctx, ids, vpc.id)


def _check_route_tables(ctx: RequestContext, vpc_id: str, table_ids: list[str]) -> None:
    for table_id in table_ids:
        table = get(ctx, ROUTE_TABLE, table_id)
        if table.body["VpcId"] != vpc_id:
            raise _invalid("You have specified two resources that belong to different networks.")


def _prefix_list_id(ctx: RequestContext, service_name: str) -> str:
    found = routing.prefix_list_by_name(ctx, service_name)
    if found is None:
        raise endpoint_services.invalid_service_name(service_name)
    return found["PrefixListId"]


def _add_routes(ctx: RequestContext, endpoint: dict, table_ids: list[str]) -> None:
    _check_route_tables(ctx, endpoint["VpcId"], table_ids)
    prefix_list = _prefix_list_id(ctx, endpoint["ServiceName"])
    for table_id in table_ids:
        routing.add_endpoint_route(ctx, table_id, prefix_list, endpoint["VpcEndpointId"])


# -- network interfaces -----------------------------------------------------------------------

def _create_interfaces(ctx: RequestContext, endpoint: Record, subnet_ids: list[str]) -> None:
    body = endpoint.body
    kind = "gateway_load_balancer_endpoint" if body["VpcEndpointType"] == "GatewayLoadBalancer" \
        else "vpc_endpoint"
    # Gateway Load Balancer endpoints route packets, which the loopback fabric cannot carry: no fabric address.
    owner = None if body["VpcEndpointType"] == "GatewayLoadBalancer" else endpoint.id
    for subnet_id in subnet_ids:
        eni = interfaces.create_interface(
            ctx, subnet_id, description=f"VPC Endpoint Interface {body['VpcEndpointId']}",
            group_ids=[g["GroupId"] for g in body.get("Groups", [])], interface_type=kind,
            requester_managed=True, fabric_owner=owner)
        body["NetworkInterfaceIds"].append(eni["NetworkInterfaceId"])
        endpoint.internal["Interfaces"][subnet_id] = eni["NetworkInterfaceId"]
        body["SubnetIds"].append(subnet_id)


def _delete_interfaces(ctx: RequestContext, endpoint: Record, subnet_ids: list[str]) -> None:
    body = endpoint.body
    for subnet_id in subnet_ids:
        eni_id = endpoint.internal["Interfaces"].pop(subnet_id, None)
        if eni_id:
            interfaces.delete_interface(ctx, eni_id)
            body["NetworkInterfaceIds"].remove(eni_id)
        if subnet_id in body["SubnetIds"]:
            body["SubnetIds"].remove(subnet_id)


def _set_interface_groups(ctx: RequestContext, endpoint: dict) -> None:
    """Endpoint security groups are the groups of its interfaces."""
    for eni_id in endpoint["NetworkInterfaceIds"]:
        eni = ctx.tx.get("networkinterface", eni_id)
        if eni is not None:
            eni.body["Groups"] = list(endpoint["Groups"])
            ctx.tx.put(eni)


# -- policies ---------------------------------------------------------------------------------

def _supports_policy(endpoint: dict, target: EndpointTarget | None) -> bool:
    if endpoint["VpcEndpointType"] == "Gateway":
        return True
    return endpoint["VpcEndpointType"] == "Interface" and target is not None and target.aws is not None \
        and target.aws.policy_supported


def _check_policy(text: str) -> str:
    if len(text) > MAX_POLICY:
        raise Ec2Error("InvalidPolicyDocument", f"The Policy Document is not valid. Policies are limited to "
                       f"{MAX_POLICY} characters")
    try:
        parse_policy(text)
    except PolicyError as exc:
        raise Ec2Error("InvalidPolicyDocument", f"The Policy Document is not valid. {exc.message}") from None
    return text


# -- DNS ---------------------------------------------------------------------------------------

def _vpc_dns_ready(vpc: Record) -> bool:
    attributes = vpc.internal.get("Attributes") or {}
    return bool(attributes.get("EnableDnsSupport")) and bool(attributes.get("EnableDnsHostnames"))


def _check_private_dns(ctx: RequestContext, vpc: Record, endpoint: Record, target: EndpointTarget) -> None:
    name = _private_name(ctx, endpoint, target)
    service_name = endpoint.body.get("ServiceName")
    if target.service is not None and not target.service.body.get("PrivateDnsName"):
        raise _invalid(f"Private DNS can't be enabled because the service {service_name} does not "
                       "provide a private DNS name.")
    if target.service is not None and name is None:
        raise _invalid(f"Private DNS can't be enabled because the private DNS name of the service "
                       f"{service_name} is not verified.")
    if not _vpc_dns_ready(vpc):
        raise _invalid("Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes "
                       f"set to true for {vpc.id}")
    for other in ctx.tx.list(ENDPOINT.kind):
        if other.id != endpoint.id and other.body["VpcId"] == vpc.id \
                and other.body.get("PrivateDnsEnabled") and name is not None \
                and other.internal.get("PrivateName") == name:
            raise _invalid(f"private-dns-enabled cannot be set because there is already a conflicting DNS domain "
                           f"for {name} in the VPC {vpc.id}")


def _private_name(ctx: RequestContext, endpoint: Record, target: EndpointTarget | None) -> str | None:
    if target is None:
        return endpoint.internal.get("PrivateName")
    if target.lattice is not None:
        return target.lattice.body.get("customDomainName")
    return target.private_name(ctx.region)


def _service_label(endpoint: dict, target: EndpointTarget | None) -> str:
    if target is not None and target.aws is not None:
        return target.aws.dns_label()
    return endpoint["ServiceName"].rsplit(".", 1)[-1]


def _dns_entries(ctx: RequestContext, endpoint: Record) -> list[dict]:
    body = endpoint.body
    endpoint_type = body["VpcEndpointType"]
    if endpoint_type in ("Gateway", "ServiceNetwork", "Tunnel"):
        return []
    if endpoint_type == "Resource":
        rc_id = body["ResourceConfigurationArn"].rsplit("/", 1)[-1]
        entries = [{"DnsName": f"{endpoint.id}.{rc_id}.{RESOURCE_DNS_TOKEN}.vpc-lattice-rsc."
                               f"{ctx.region}.on.aws", "HostedZoneId": _zone_hash("vpc-lattice-rsc", ctx.region)}]
    else:
        entries = _interface_entries(ctx, endpoint)
    private_name = endpoint.internal.get("PrivateName")
    if body.get("PrivateDnsEnabled") and private_name:
        entries.append({"DnsName": private_name, "HostedZoneId": _zone_hash("private", endpoint.id)})
    return entries


def _interface_entries(ctx: RequestContext, endpoint: Record) -> list[dict]:
    internal = endpoint.internal
    wildcard = "*." if internal.get("Wildcard") else ""
    base = f"{endpoint.id}-{internal['Suffix']}"
    tail = f"{internal['Label']}.{ctx.region}.vpce.amazonaws.com"
    zone = _zone_hash("vpce", ctx.region)
    entries = [{"DnsName": f"{wildcard}{base}.{tail}", "HostedZoneId": zone}]
    zones = sorted({_zone_of(ctx, s) for s in endpoint.body["SubnetIds"]} - {""})
    entries += [{"DnsName": f"{wildcard}{base}-{z}.{tail}", "HostedZoneId": zone} for z in zones]
    return entries


# -- Lattice association records -----------------------------------------------------------------

def _write_lattice_records(ctx: RequestContext, endpoint: Record, target: Record) -> None:
    body = endpoint.body
    if target.kind == lattice_records.SERVICE_NETWORK:
        lattice_endpoints.add_network_endpoint(ctx, target, endpoint.internal["AssociationId"], endpoint.id,
                                               body["VpcId"], body["CreationTimestamp"])
    else:
        endpoint.internal["ReaId"] = lattice_endpoints.add_resource_endpoint(ctx, target, endpoint.id,
                                                                             body["CreationTimestamp"])


def _delete_lattice_records(ctx: RequestContext, endpoint: Record) -> None:
    lattice_endpoints.remove_endpoint(ctx, endpoint.internal.get("ReaId") or endpoint.internal["AssociationId"])


# -- create ------------------------------------------------------------------------------------------

def _new_endpoint(ctx: RequestContext, params: Mapping[str, Any], endpoint_type: str, vpc: Record,
                  target: EndpointTarget) -> Record:
    endpoint_id = ENDPOINT.new_id()
    body = {
        "VpcEndpointId": endpoint_id, "VpcEndpointType": endpoint_type, "VpcId": vpc.id, "State": "available",
        "RouteTableIds": [], "SubnetIds": [], "Groups": [], "NetworkInterfaceIds": [], "DnsEntries": [],
        "RequesterManaged": False, "CreationTimestamp": ctx.timestamp(), "Tags": tags_for(params, "vpc-endpoint"),
        "OwnerId": ctx.account, "PrivateDnsEnabled": False,
    }
    internal: dict[str, Any] = {"Suffix": secrets.token_hex(4), "Interfaces": {},
                                "ConnectionId": formats.new_id("vpce-con-"),
                                "AssociationId": formats.new_id("vpce-rsc-asc-")}
    if target.lattice is not None:
        member = "ServiceNetworkArn" if endpoint_type == "ServiceNetwork" else "ResourceConfigurationArn"
        body[member] = target.lattice.arn
    else:
        body["ServiceName"] = params["ServiceName"]
        internal["Label"] = _service_label(body, target)
        internal["Wildcard"] = bool((target.private_name(ctx.region) or "").startswith("*.")) \
            and target.aws is not None
    if params.get("ServiceRegion"):
        body["ServiceRegion"] = params["ServiceRegion"]
    if target.service is not None:
        internal["ServiceId"] = target.service.id
        # Acceptance applies to the provider's own account too (Terraform's auto_accept exists for that case).
        if target.service.body["AcceptanceRequired"]:
            body["State"] = "pendingAcceptance"
    if endpoint_type in LATTICE_TYPES:
        body["PayerResponsibilities"] = [{"Scope": "vpc-endpoint-charges", "PayerResponsibilityType":
                                          "vpc-endpoint-account"}]
    return Record(ENDPOINT.kind, endpoint_id, ctx.account, ctx.region, body, internal=internal,
                  parent=target.service.id if target.service else None,
                  arn=ctx.arn("ec2", f"vpc-endpoint/{endpoint_id}"))


def _ip_options(ctx: RequestContext, body: dict, params: Mapping[str, Any], target: EndpointTarget) -> None:
    ip_type = params.get("IpAddressType") or "ipv4"
    if ip_type != "ipv4":
        if target.service is not None and "ipv6" not in target.service.body["SupportedIpAddressTypes"]:
            raise _invalid(f"The VPC endpoint service {body.get('ServiceName')} does not support IP address "
                           f"type {ip_type}")
        raise _invalid(f"IP address type {ip_type} requires subnets with IPv6 CIDR blocks")
    body["IpAddressType"] = ip_type
    options = params.get("DnsOptions") or {}
    record_type = options.get("DnsRecordIpType") or ip_type
    if record_type in ("ipv6", "dualstack"):
        raise _invalid(f"DNS record IP type {record_type} is not compatible with IP address type {ip_type}")
    dns = {"DnsRecordIpType": record_type}
    if body["VpcEndpointType"] == "Interface":
        dns["PrivateDnsOnlyForInboundResolverEndpoint"] = bool(options.get("PrivateDnsOnlyForInboundResolverEndpoint"))
    if body["VpcEndpointType"] in ("Resource", "ServiceNetwork"):
        dns.update(_lattice_dns_options(options))
    body["DnsOptions"] = dns


def _lattice_dns_options(options: dict) -> dict:
    preference = options.get("PrivateDnsPreference") or "VERIFIED_DOMAINS_ONLY"
    domains = options.get("PrivateDnsSpecifiedDomains") or []
    allowed = ("VERIFIED_DOMAINS_ONLY", "ALL_DOMAINS", "VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS",
               "SPECIFIED_DOMAINS_ONLY")
    if preference not in allowed:
        raise Ec2Error("InvalidParameterValue", f"Invalid PrivateDnsPreference '{preference}'")
    if bool(domains) != ("SPECIFIED" in preference) or len(domains) > 10:
        raise _invalid("PrivateDnsSpecifiedDomains (up to 10) must be given exactly with a SPECIFIED_DOMAINS "
                       "preference")
    out = {"PrivateDnsPreference": preference}
    if domains:
        out["PrivateDnsSpecifiedDomains"] = list(domains)
    return out


def _check_inbound_resolver_only(ctx: RequestContext, body: dict, target: EndpointTarget) -> None:
    """``PrivateDnsOnlyForInboundResolverEndpoint``: S3 interface endpoints with private DNS and an S3 gateway."""
    if not body.get("DnsOptions", {}).get("PrivateDnsOnlyForInboundResolverEndpoint"):
        return
    if target.aws is None or target.aws.short != "s3" or not body["PrivateDnsEnabled"]:
        raise _invalid("PrivateDnsOnlyForInboundResolverEndpoint is supported only for S3 interface endpoints "
                       "with private DNS enabled")
    gateway = any(e.body["VpcId"] == body["VpcId"] and e.body["VpcEndpointType"] == "Gateway"
                  and e.body.get("ServiceName") == body["ServiceName"] for e in ctx.tx.list(ENDPOINT.kind))
    if not gateway:
        raise _invalid(f"To set PrivateDnsOnlyForInboundResolverEndpoint to true, the VPC {body['VpcId']} must have "
                       "a Gateway endpoint for the service.")


def _set_private_dns(ctx: RequestContext, vpc: Record, endpoint: Record, target: EndpointTarget,
                     wanted: bool | None) -> None:
    if endpoint.body["VpcEndpointType"] in ("Gateway", "GatewayLoadBalancer", "Tunnel"):
        return
    endpoint.internal["PrivateName"] = _private_name(ctx, endpoint, target)
    if wanted is None:
        # AWS's default is on where there is a name to use (see the module docstring).
        wanted = target.aws is not None or target.lattice is not None or endpoint.internal["PrivateName"] is not None
    if wanted:
        _check_private_dns(ctx, vpc, endpoint, target)
    endpoint.body["PrivateDnsEnabled"] = bool(wanted)


class EndpointOps:
    def create_vpc_endpoint(self, ctx: RequestContext,
                            params: shapes.CreateVpcEndpointRequest) -> shapes.CreateVpcEndpointResult:
        endpoint_type = params.get("VpcEndpointType") or "Gateway"
        _check_parameters(params, endpoint_type)
        vpc = get(ctx, VPC, params["VpcId"])
        target = _target(ctx, params, endpoint_type)
        record = _new_endpoint(ctx, params, endpoint_type, vpc, target)
        body = record.body
        if endpoint_type != "Gateway":
            _ip_options(ctx, body, params, target)
        _set_private_dns(ctx, vpc, record, target, params.get("PrivateDnsEnabled"))
        _check_inbound_resolver_only(ctx, body, target)
        _set_policy(body, target, params.get("PolicyDocument"))
        subnet_ids = _subnet_ids(params)
        self._attach(ctx, vpc, record, target, params, subnet_ids)
        body["DnsEntries"] = _dns_entries(ctx, record)
        if target.lattice is not None:
            _write_lattice_records(ctx, record, target.lattice)  # first: it records the rea id in the record
        ctx.tx.put(record)
        if target.service is not None:
            endpoint_services.notify(ctx, record, target.service, "Connect")
        result: shapes.CreateVpcEndpointResult = {"VpcEndpoint": cast(shapes.VpcEndpoint, body)}
        if params.get("ClientToken"):
            result["ClientToken"] = params["ClientToken"]
        return result

    def _attach(self, ctx: RequestContext, vpc: Record, endpoint: Record, target: EndpointTarget,
                params: Mapping[str, Any], subnet_ids: list[str]) -> None:
        body = endpoint.body
        endpoint_type = body["VpcEndpointType"]
        if endpoint_type == "Gateway":
            tables = list(dict.fromkeys(params.get("RouteTableIds") or []))
            _add_routes(ctx, body, tables)
            body["RouteTableIds"] = tables
            return
        if endpoint_type == "GatewayLoadBalancer" and len(subnet_ids) != 1:
            raise _invalid("A Gateway Load Balancer endpoint takes exactly one subnet")
        if endpoint_type in WITH_GROUPS:
            body["Groups"] = _groups(ctx, vpc, list(params.get("SecurityGroupIds") or []))
        _check_subnets(ctx, body, subnet_ids, target)
        _create_interfaces(ctx, endpoint, subnet_ids)

    def describe_vpc_endpoints(self, ctx: RequestContext,
                               params: shapes.DescribeVpcEndpointsRequest) -> shapes.DescribeVpcEndpointsResult:
        ids = params.get("VpcEndpointIds") or []
        records = [get(ctx, ENDPOINT, i) for i in dict.fromkeys(ids)] if ids else ctx.tx.list(ENDPOINT.kind)
        items = [r.body for r in records if matches(r.body, params.get("Filters"), _ENDPOINT_TABLE)]
        return page(items, params, "VpcEndpoints")

    def modify_vpc_endpoint(self, ctx: RequestContext,
                            params: shapes.ModifyVpcEndpointRequest) -> shapes.ModifyVpcEndpointResult:
        record = get(ctx, ENDPOINT, params["VpcEndpointId"])
        body = record.body
        vpc = get(ctx, VPC, body["VpcId"])
        target = _current_target(ctx, record)
        _check_modify_members(params, body["VpcEndpointType"])
        _modify_policy(body, target, params)
        _modify_route_tables(ctx, body, params)
        _modify_subnets(ctx, record, params, target)
        _modify_groups(ctx, vpc, body, params)
        if params.get("IpAddressType") is not None or params.get("DnsOptions") is not None:
            _ip_options(ctx, body, {"IpAddressType": params.get("IpAddressType") or body.get("IpAddressType"),
                                    "DnsOptions": {**body.get("DnsOptions", {}), **(params.get("DnsOptions") or {})}},
                        target or EndpointTarget())
        if params.get("PrivateDnsEnabled") is not None and target is not None:
            _set_private_dns(ctx, vpc, record, target, params["PrivateDnsEnabled"])
        body["DnsEntries"] = _dns_entries(ctx, record)
        ctx.tx.put(record)
        return {"Return": True}

    def delete_vpc_endpoints(self, ctx: RequestContext,
                             params: shapes.DeleteVpcEndpointsRequest) -> shapes.DeleteVpcEndpointsResult:
        failed: list[shapes.UnsuccessfulItem] = []
        for endpoint_id in dict.fromkeys(params["VpcEndpointIds"]):
            record = ctx.tx.get(ENDPOINT.kind, endpoint_id)
            if record is None:
                failed.append(unsuccessful(endpoint_id, ENDPOINT.not_found, ENDPOINT.missing(endpoint_id).message))
                continue
            _delete_endpoint(ctx, record)
        return {"Unsuccessful": failed}

    def describe_vpc_endpoint_associations(
            self, ctx: RequestContext, params: shapes.DescribeVpcEndpointAssociationsRequest
    ) -> shapes.DescribeVpcEndpointAssociationsResult:
        ids = params.get("VpcEndpointIds") or []
        records = [get(ctx, ENDPOINT, i) for i in dict.fromkeys(ids)] if ids else ctx.tx.list(ENDPOINT.kind)
        items = [a for r in records if r.body["VpcEndpointType"] in LATTICE_TYPES
                 for a in _associations(ctx, r)]
        items = [a for a in items if matches(a, params.get("Filters"), _ASSOCIATION_TABLE)]
        return page(items, params, "VpcEndpointAssociations")

    def modify_vpc_endpoint_payer_responsibility(
            self, ctx: RequestContext, params: shapes.ModifyVpcEndpointPayerResponsibilityRequest
    ) -> shapes.ModifyVpcEndpointPayerResponsibilityResult:
        record = _payer_endpoint(ctx, params)
        entries = [e for e in record.body.get("PayerResponsibilities") or [] if e["Scope"] != params["Scope"]]
        entries.append({"Scope": params["Scope"], "PayerResponsibilityType": params["PayerResponsibility"]})
        record.body["PayerResponsibilities"] = entries
        ctx.tx.put(record)
        _sync_rea_payer(ctx, record)
        return {"VpcEndpointId": record.id, "PayerResponsibilities": entries}


# -- presenting ------------------------------------------------------------------------------------

_ENDPOINT_TABLE = {
    "ip-address-type": lambda b: b.get("IpAddressType"), "service-name": lambda b: b.get("ServiceName"),
    "service-region": lambda b: b.get("ServiceRegion"), "vpc-id": lambda b: b["VpcId"],
    "vpc-endpoint-id": lambda b: b["VpcEndpointId"], "vpc-endpoint-state": lambda b: b["State"],
    "vpc-endpoint-type": lambda b: b["VpcEndpointType"],
}
_ASSOCIATION_TABLE = {
    "vpc-endpoint-id": lambda a: a["VpcEndpointId"],
    "associated-resource-accessibility": lambda a: a.get("AssociatedResourceAccessibility"),
    "association-id": lambda a: a["Id"], "associated-resource-id": lambda a: a.get("AssociatedResourceArn"),
    "service-network-arn": lambda a: a.get("ServiceNetworkArn"),
    "resource-configuration-group-arn": lambda a: a.get("ResourceConfigurationGroupArn"),
}


def _associations(ctx: RequestContext, record: Record) -> list[dict]:
    """What a Resource or ServiceNetwork endpoint reaches (computed from the Lattice records)."""
    endpoint = record.body
    if endpoint["VpcEndpointType"] != "ServiceNetwork":
        return [_resource_association(ctx, record)]
    found = ctx.tx.by_arn(endpoint["ServiceNetworkArn"])
    if found is None:
        return []
    sn = lattice_records.ServiceNetworkRecord(found)
    base = {"VpcEndpointId": endpoint["VpcEndpointId"], "ServiceNetworkArn": found.arn,
            "ServiceNetworkName": sn.name, "AssociatedResourceAccessibility": "Accessible", "Tags": []}
    items = [{**base, "Id": record.internal["AssociationId"], "AssociatedResourceArn": found.arn}]
    for assoc in ctx.tx.list(lattice_records.SN_SERVICE_ASSOCIATION, parent=sn.id, all_accounts=True):
        items.append({**base, **_service_member(endpoint, lattice_records.ServiceAssociationRecord(assoc))})
    for assoc in ctx.tx.list(lattice_records.SN_RESOURCE_ASSOCIATION, parent=sn.id, all_accounts=True):
        items.append({**base, **_resource_member(ctx, endpoint, lattice_records.ResourceAssociationRecord(assoc))})
    return items


def _resource_association(ctx: RequestContext, record: Record) -> dict:
    endpoint = record.body
    found = ctx.tx.by_arn(endpoint["ResourceConfigurationArn"])
    item = {"Id": record.internal["AssociationId"], "VpcEndpointId": endpoint["VpcEndpointId"],
            "AssociatedResourceAccessibility": "Accessible",
            "AssociatedResourceArn": endpoint["ResourceConfigurationArn"], "Tags": []}
    if endpoint["DnsEntries"]:
        item["DnsEntry"] = endpoint["DnsEntries"][0]
    rc = lattice_records.ResourceConfigurationRecord(found) if found is not None else None
    if rc is not None and endpoint.get("PrivateDnsEnabled") and rc.custom_domain:
        item["PrivateDnsEntry"] = {"DnsName": rc.custom_domain}
    if rc is not None and rc.group_id:
        item["ResourceConfigurationGroupArn"] = rc.arn.rsplit("/", 1)[0] + "/" + rc.group_id
    return item


def _member_id(endpoint: dict, association_id: str) -> str:
    digest = hashlib.sha256(f"{endpoint['VpcEndpointId']}/{association_id}".encode()).hexdigest()
    return "vpce-rsc-asc-" + digest[:17]


def _service_member(endpoint: dict, assoc: lattice_records.ServiceAssociationRecord) -> dict:
    item: dict[str, Any] = {"Id": _member_id(endpoint, assoc.id), "AssociatedResourceArn": assoc.service_arn}
    if assoc.dns_name:  # the service's name through this endpoint, in the zone of the service's generated name
        name = lattice_records.endpoint_service_name(endpoint["VpcEndpointId"], assoc.id, assoc.dns_name)
        item["DnsEntry"] = {"DnsName": name, "HostedZoneId": assoc.hosted_zone_id}
    return item


def _resource_member(ctx: RequestContext, endpoint: dict, assoc: lattice_records.ResourceAssociationRecord) -> dict:
    item: dict[str, Any] = {"Id": _member_id(endpoint, assoc.id),
                            "AssociatedResourceArn": assoc.resource_configuration_arn}
    if assoc.dns_name:
        name = lattice_records.endpoint_resource_name(endpoint["VpcEndpointId"], assoc.dns_name)
        item["DnsEntry"] = {"DnsName": name, "HostedZoneId": _zone_hash("vpc-lattice-rsc", ctx.region)}
    if assoc.private_dns_name and endpoint.get("PrivateDnsEnabled"):
        item["PrivateDnsEntry"] = {"DnsName": assoc.private_dns_name}
    return item


# -- modify helpers --------------------------------------------------------------------------------

def _current_target(ctx: RequestContext, endpoint: Record) -> EndpointTarget | None:
    body = endpoint.body
    if body["VpcEndpointType"] in LATTICE_TYPES:
        arn = body.get("ServiceNetworkArn") or body.get("ResourceConfigurationArn")
        found = ctx.tx.by_arn(arn) if arn else None
        return EndpointTarget(lattice=found) if found is not None else None
    service_id = endpoint.internal.get("ServiceId")
    service = ctx.tx.get(ENDPOINT_SERVICE.kind, service_id,
                         account=_service_account(ctx, service_id)) if service_id else None
    aws = aws_services.find(ctx.region, body.get("ServiceName", ""))
    return EndpointTarget(aws=aws, service=service) if (aws or service) else None


def _service_account(ctx: RequestContext, service_id: str) -> str | None:
    found = next((s for s in ctx.tx.list(ENDPOINT_SERVICE.kind, all_accounts=True) if s.id == service_id), None)
    return found.account if found else None


def _check_modify_members(params: Mapping[str, Any], endpoint_type: str) -> None:
    if endpoint_type != "Gateway" and (params.get("AddRouteTableIds") or params.get("RemoveRouteTableIds")):
        raise _invalid("Route tables are supported for Gateway VPC endpoints only")
    if endpoint_type not in WITH_SUBNETS and (params.get("AddSubnetIds") or params.get("RemoveSubnetIds")
                                              or params.get("SubnetConfigurations")):
        raise _invalid(f"Subnets are not supported for {endpoint_type} VPC endpoints")
    if endpoint_type not in WITH_GROUPS and (params.get("AddSecurityGroupIds") or params.get("RemoveSecurityGroupIds")):
        raise _invalid(f"Security groups are not supported for {endpoint_type} VPC endpoints")
    if endpoint_type in ("Gateway", "GatewayLoadBalancer", "Tunnel") and params.get("PrivateDnsEnabled"):
        raise _invalid(f"Private DNS is not supported for {endpoint_type} VPC endpoints")


def _set_policy(body: dict, target: EndpointTarget | None, text: str | None) -> None:
    if not _supports_policy(body, target):
        if text:
            raise _invalid("This VPC endpoint does not support endpoint policies")
        return
    body["PolicyDocument"] = _check_policy(text) if text else DEFAULT_POLICY


def _modify_policy(body: dict, target: EndpointTarget | None, params: Mapping[str, Any]) -> None:
    if params.get("ResetPolicy") and params.get("PolicyDocument"):
        raise Ec2Error("InvalidParameterCombination", "ResetPolicy and PolicyDocument cannot be combined")
    if params.get("ResetPolicy"):
        _set_policy(body, target, None)
    elif params.get("PolicyDocument"):
        _set_policy(body, target, params["PolicyDocument"])


def _modify_route_tables(ctx: RequestContext, body: dict, params: Mapping[str, Any]) -> None:
    remove = [t for t in params.get("RemoveRouteTableIds") or [] if t in body["RouteTableIds"]]
    add = [t for t in dict.fromkeys(params.get("AddRouteTableIds") or []) if t not in body["RouteTableIds"]]
    if remove:
        routing.remove_endpoint_routes(ctx, body["VpcEndpointId"], remove)
        body["RouteTableIds"] = [t for t in body["RouteTableIds"] if t not in remove]
    if add:
        _add_routes(ctx, body, add)
        body["RouteTableIds"] += add


def _modify_subnets(ctx: RequestContext, endpoint: Record, params: Mapping[str, Any],
                    target: EndpointTarget | None) -> None:
    body = endpoint.body
    remove = [s for s in params.get("RemoveSubnetIds") or [] if s in body["SubnetIds"]]
    if remove:
        _delete_interfaces(ctx, endpoint, remove)
    add = [s for s in _subnet_ids(params, "AddSubnetIds") if s not in body["SubnetIds"]]
    if add:
        if body["VpcEndpointType"] == "GatewayLoadBalancer" and len(body["SubnetIds"]) + len(add) != 1:
            raise _invalid("A Gateway Load Balancer endpoint takes exactly one subnet")
        _check_subnets(ctx, body, add, target)
        _create_interfaces(ctx, endpoint, add)


def _modify_groups(ctx: RequestContext, vpc: Record, body: dict, params: Mapping[str, Any]) -> None:
    add, remove = params.get("AddSecurityGroupIds") or [], params.get("RemoveSecurityGroupIds") or []
    if not add and not remove:
        return
    current = [g["GroupId"] for g in body["Groups"]]
    for group_id in remove:
        if group_id not in current:
            raise Ec2Error("InvalidGroup.NotFound", f"The security group '{group_id}' is not associated with "
                           f"{body['VpcEndpointId']}")
    kept = [g for g in current if g not in remove] + [g for g in add if g not in current]
    if not kept:
        raise _invalid("A VPC endpoint must keep at least one security group")
    body["Groups"] = security.groups_in_vpc(ctx, kept, vpc.id)
    _set_interface_groups(ctx, body)


# -- delete and payer helpers ------------------------------------------------------------------------

def _delete_endpoint(ctx: RequestContext, record: Record) -> None:
    body = record.body
    if body["VpcEndpointType"] == "Gateway":
        routing.remove_endpoint_routes(ctx, record.id, body["RouteTableIds"])
    _delete_interfaces(ctx, record, list(body["SubnetIds"]))
    if body["VpcEndpointType"] in LATTICE_TYPES:
        _delete_lattice_records(ctx, record)
    service = _current_target(ctx, record)
    if record.internal.get("ServiceId") and service is not None and service.service is not None:
        body["State"] = "deleted"
        endpoint_services.notify(ctx, record, service.service, "Delete")
    ctx.tx.delete(ENDPOINT.kind, record.id)


def _payer_endpoint(ctx: RequestContext, params: Mapping[str, Any]) -> Record:
    """The endpoint whose charges move: the caller's own, or one connected to the caller's service."""
    endpoint_id = params["VpcEndpointId"]
    own = ctx.tx.get(ENDPOINT.kind, endpoint_id)
    if own is not None:
        return own
    if params.get("ServiceId"):
        service = get(ctx, ENDPOINT_SERVICE, params["ServiceId"])
        found = next((e for e in endpoint_services.connections(ctx, service) if e.id == endpoint_id), None)
        if found is not None:
            return found
    account = lattice_endpoints.endpoint_account_for_own_resource(ctx, endpoint_id)
    found = ctx.tx.get(ENDPOINT.kind, endpoint_id, account=account) if account else None
    if found is not None:
        return found
    raise ENDPOINT.missing(endpoint_id)


def _sync_rea_payer(ctx: RequestContext, endpoint: Record) -> None:
    """Mirror the resource-gateway charge payer on the Lattice association."""
    entry = next((e for e in endpoint.body["PayerResponsibilities"] if e["Scope"] == "resource-gateway-charges"),
                 None)
    if entry is not None:
        lattice_endpoints.set_resource_endpoint_payer(ctx, endpoint.internal.get("ReaId"), endpoint.account,
                                                      entry["PayerResponsibilityType"])
