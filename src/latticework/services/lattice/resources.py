"""Resource gateways and resource configurations: TCP resources offered through Lattice.

Resource gateway (``rgw-``)
    The entry point into the provider VPC: subnets (one ENI each), 0-5
    security groups, an address type (``IPV4`` by default), a fixed number of
    IPv4 addresses per ENI (16 by default, immutable) and how it resolves
    configuration domain names (``PUBLIC`` by default, or ``IN_VPC``;
    updatable). Names are unique per account and Region. It cannot be deleted
    while resource configurations use it; delete answers 200
    ``DELETE_IN_PROGRESS``.

Resource configuration (``rcfg-``)
    One of five types, fixed at create:

    ======  =========================  ==========================  ============
    type    gateway                    definition                  portRanges
    ======  =========================  ==========================  ============
    SINGLE  required                   ipResource | dnsResource    required
    GROUP   required                   optional (ip | dns)         optional
    CHILD   inherited from its GROUP   ipResource | dnsResource    required
    ARN     required, not ``IN_VPC``   arnResource                 refused
    CIDR    required, ``IN_VPC``       cidrResource                required
    ======  =========================  ==========================  ============

    ``protocol`` is ``TCP`` (default) or ``TCP_UDP`` for CIDR only; a CHILD
    takes its group's protocol, gateway and sharing flag, and brings its own
    port ranges and definition (Terraform's acceptance test
    ``TestAccVPCLatticeResourceConfiguration_parentChild`` creates a GROUP
    with only a protocol and a gateway, and a CHILD with port ranges and an
    IP resource). ``allowAssociationToShareableServiceNetwork`` (SINGLE,
    GROUP, ARN) defaults to true: the API reference's prose says false, but
    AWS answers true (``TestAccVPCLatticeResourceConfiguration_ipAddress``
    creates one without it and reads back true). IPv4 resource addresses must be private (RFC 1918 or
    100.64/10); CIDR ranges may not touch reserved ranges and ``0.0.0.0/0`` /
    ``::/0`` stand alone. A group holds at most 60 children; an account at most
    2,000 configurations per Region. ``customDomainName`` (not on GROUP) must
    lie within the group's ``groupDomain`` for children, and within the domain
    of ``domainVerificationIdentifier`` when one is given (a CHILD inherits its
    group's verification). Delete (204) is refused while the configuration is
    associated with a service network, or is a GROUP with children.

A gateway has one requester-managed network interface per subnet (internal
``Interfaces``), each with an address of its subnet and a fabric address
(``fabric``): the data plane binds the connections it opens to a resource to
one of these, so the resource sees them come from the gateway. Deleting the
gateway deletes them.

Decisions where AWS's behaviour is unpublished:

- ``vpcIdentifier`` and ``subnetIds`` are optional in the model (AWS-managed
  gateways have neither); a customer-created gateway without them is a
  ``ValidationException``.
- Resource gateways per VPC: the quota page says 500, the resource-gateway page
  100; we enforce 100. Values and codes of the quotas are in ``latticework.quotas``.
- GROUP definitions are optional; a GROUP may carry an IP or DNS definition.
- Type-rule violations are ``ValidationException``s; changing a gateway's DNS
  resolution so it no longer suits its configurations (CIDR needs ``IN_VPC``,
  ARN cannot use it) is a ``ConflictException``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable, Mapping

from latticework.api.context import RequestContext
from latticework.records import ram
from latticework.services.ec2 import interfaces
from latticework.services.lattice import api_types as shapes
from latticework.services.lattice import common, domains, vpcs
from latticework.services.lattice.associations import (
    account_of, id_of, join_group_networks, leave_networks, refuse_in_progress, resource_associations,
)
from latticework.services.lattice.common import (
    DOMAIN_VERIFICATION, RESOURCE_CONFIGURATION, RESOURCE_ENDPOINT_ASSOCIATION, RESOURCE_GATEWAY,
)
from latticework.services.lattice.quotas import check_quota
from latticework.store import Record

_RGW_CREATE = ("name", "id", "arn", "status", "vpcIdentifier", "subnetIds", "securityGroupIds", "ipAddressType",
               "ipv4AddressesPerEni", "resourceConfigDnsResolution")
_RGW_GET = ("name", "id", "arn", "status", "vpcId", "subnetIds", "serviceManaged", "managedBy", "securityGroupIds",
            "ipAddressType", "ipv4AddressesPerEni", "resourceConfigDnsResolution", "createdAt", "lastUpdatedAt")
_RGW_UPDATE = ("name", "id", "arn", "status", "vpcId", "subnetIds", "securityGroupIds", "ipAddressType",
               "resourceConfigDnsResolution")
_RGW_SUMMARY = _RGW_CREATE + ("createdAt", "lastUpdatedAt")
_RCFG_CREATE = ("id", "name", "arn", "resourceGatewayId", "resourceConfigurationGroupId", "type", "portRanges",
                "protocol", "status", "resourceConfigurationDefinition", "allowAssociationToShareableServiceNetwork",
                "createdAt", "failureReason", "customDomainName", "domainVerificationId", "groupDomain",
                "domainVerificationArn")
_RCFG_GET = _RCFG_CREATE + ("amazonManaged", "lastUpdatedAt", "domainVerificationStatus")
_RCFG_UPDATE = ("id", "name", "arn", "resourceGatewayId", "resourceConfigurationGroupId", "type", "portRanges",
                "allowAssociationToShareableServiceNetwork", "protocol", "status", "resourceConfigurationDefinition")
_RCFG_SUMMARY = ("id", "name", "arn", "resourceGatewayId", "resourceConfigurationGroupId", "type", "status",
                 "amazonManaged", "createdAt", "lastUpdatedAt", "customDomainName", "domainVerificationId",
                 "groupDomain")

# Which definition each type takes, which types need or refuse port ranges (GROUP may go either way),
# and which types may set the sharing flag.
_DEFINITIONS = {"SINGLE": ("ipResource", "dnsResource"), "GROUP": ("ipResource", "dnsResource"),
                "CHILD": ("ipResource", "dnsResource"), "ARN": ("arnResource",), "CIDR": ("cidrResource",)}
_NEEDS_PORTS = ("SINGLE", "CHILD", "CIDR")
_NO_PORTS = ("ARN",)
_SHARING_FLAG = ("SINGLE", "GROUP", "ARN")
_PRIVATE_V4 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12",
                                                      "192.168.0.0/16"))
_RESERVED_CIDRS = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "100.64.0.0/10", "224.0.0.0/4",
                                                          "fe80::/10", "ff00::/8"))
GATEWAY_INTERFACES = "Interfaces"  # internal: the gateway's network interface ids, one per subnet
_PORT_RANGE = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")


def _invalid(field: str, message: str):
    return common.validation(message, (field, message))


# -- resource gateways ---------------------------------------------------------

def _gateway_addresses(params: Mapping[str, Any]) -> dict:
    """Address type and IPv4 addresses per ENI (the latter means nothing to an IPv6-only gateway)."""
    address_type = params.get("ipAddressType", "IPV4")
    per_eni = params.get("ipv4AddressesPerEni")
    if address_type == "IPV6":
        if per_eni is not None:
            raise _invalid("ipv4AddressesPerEni", "ipv4AddressesPerEni does not apply to an IPV6 resource gateway.")
        return {"ipAddressType": address_type}
    return {"ipAddressType": address_type, "ipv4AddressesPerEni": per_eni or 16}


def _gateway_network(ctx: RequestContext, params: Mapping[str, Any]) -> dict:
    if not params.get("vpcIdentifier") or not params.get("subnetIds"):
        field = "vpcIdentifier" if not params.get("vpcIdentifier") else "subnetIds"
        raise _invalid(field, f"{field} is required to create a resource gateway.")
    vpc_id = vpcs.check_vpc(ctx, params["vpcIdentifier"])
    return {"vpcId": vpc_id, "vpcIdentifier": vpc_id,
            "subnetIds": vpcs.check_subnets(ctx, vpc_id, params["subnetIds"]),
            "securityGroupIds": vpcs.check_security_groups(ctx, vpc_id, params.get("securityGroupIds") or [])}


def _create_interfaces(ctx: RequestContext, gateway: Record) -> None:
    """One requester-managed interface per subnet, each with a fabric address: the resource sees its
    connections come from these (AWS: "traffic sourced from the gateway ENI IPs")."""
    groups = gateway.body["securityGroupIds"] or None
    gateway.internal[GATEWAY_INTERFACES] = [
        interfaces.create_interface(ctx, subnet_id, description=f"Resource Gateway Interface {gateway.id}",
                                    group_ids=groups, interface_type="interface",
                                    fabric_owner=gateway.id)["NetworkInterfaceId"]
        for subnet_id in gateway.body["subnetIds"]]


def _check_gateway_quota(ctx: RequestContext, vpc_id: str) -> None:
    in_vpc = sum(1 for g in ctx.tx.list(RESOURCE_GATEWAY.kind) if g.body["vpcId"] == vpc_id)
    check_quota(ctx, "resource-gateways-per-vpc", in_vpc, RESOURCE_GATEWAY, scope_id=vpc_id)


def _configurations_using(ctx: RequestContext, gateway_id: str) -> list[Record]:
    return [r for r in ctx.tx.list(RESOURCE_CONFIGURATION.kind) if r.body.get("resourceGatewayId") == gateway_id]


def _check_resolution_change(ctx: RequestContext, gateway: Record, resolution: str) -> None:
    """CIDR configurations need an ``IN_VPC`` gateway; ARN configurations cannot use one."""
    unsuited = "CIDR" if resolution == "PUBLIC" else "ARN"
    user = next((r for r in _configurations_using(ctx, gateway.id) if r.body["type"] == unsuited), None)
    if user is not None:
        raise common.conflict(RESOURCE_GATEWAY, gateway.id,
                              f"Resource gateway {gateway.id} cannot use {resolution} DNS resolution while "
                              f"{unsuited} resource configuration {user.id} uses it.")


# -- resource configurations: type rules ------------------------------------------------

def _check_ports(rc_type: str, ports: list[str] | None) -> None:
    if rc_type in _NEEDS_PORTS and not ports:
        raise _invalid("portRanges", f"portRanges is required for a {rc_type} resource configuration.")
    if rc_type in _NO_PORTS and ports:
        raise _invalid("portRanges", f"portRanges is not supported for a {rc_type} resource configuration.")
    for item in ports or []:
        found = _PORT_RANGE.fullmatch(item)
        low, high = (int(found.group(1)), int(found.group(2) or found.group(1))) if found else (0, 0)
        if not 1 <= low <= high <= 65535:
            raise _invalid("portRanges", f"{item} is not a valid port or port range (1-65535).")


def _check_ip(address: str, gateway: Record | None) -> None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise _invalid("resourceConfigurationDefinition.ipResource.ipAddress",
                       f"{address} is not a valid IP address.") from None
    private = any(ip in n for n in _PRIVATE_V4) if ip.version == 4 else not (
        ip.is_link_local or ip.is_multicast or ip.is_loopback or ip.is_unspecified)
    if not private:
        raise _invalid("resourceConfigurationDefinition.ipResource.ipAddress",
                       f"{address} is not a private IP address; only addresses inside the VPC are supported.")
    family = "IPV4" if ip.version == 4 else "IPV6"
    if gateway is not None and gateway.body["ipAddressType"] not in (family, "DUALSTACK"):
        raise _invalid("resourceConfigurationDefinition.ipResource.ipAddress",
                       f"An {family} address needs an {family} or DUALSTACK resource gateway.")


def _check_cidrs(ranges: list[str]) -> None:
    field = "resourceConfigurationDefinition.cidrResource.cidrRanges"
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for text in ranges:
        try:
            network = ipaddress.ip_network(text, strict=True) if "/" in text else None
        except ValueError:
            network = None
        if network is None:
            raise _invalid(field, f"{text} is not a valid CIDR range with a prefix length.")
        networks.append(network)
    for net in networks:
        if net.prefixlen == 0 and len(networks) > 1:
            raise _invalid(field, f"{net} must be the only range when it is used.")
        if net.prefixlen and any(net.overlaps(r) for r in _RESERVED_CIDRS if r.version == net.version):
            raise _invalid(field, f"{net} overlaps a reserved range.")


def _check_definition(rc_type: str, definition: Mapping[str, Any] | None, gateway: Record | None) -> None:
    if definition is None:
        if rc_type != "GROUP":
            raise _invalid("resourceConfigurationDefinition",
                           f"resourceConfigurationDefinition is required for a {rc_type} resource configuration.")
        return
    (member, value), = definition.items()
    if member not in _DEFINITIONS[rc_type]:
        raise _invalid("resourceConfigurationDefinition",
                       f"A {rc_type} resource configuration takes {' or '.join(_DEFINITIONS[rc_type])}, not {member}.")
    if member == "ipResource":
        _check_ip(value["ipAddress"], gateway)
    elif member == "cidrResource":
        _check_cidrs(value["cidrRanges"])
    elif member == "dnsResource" and value.get("ipAddressType") == "DUALSTACK":
        raise _invalid("resourceConfigurationDefinition.dnsResource.ipAddressType",
                       "DUALSTACK is not supported for a DNS resource.")


def _check_gateway_fits(rc_type: str, gateway: Record) -> None:
    resolution = gateway.body["resourceConfigDnsResolution"]
    if rc_type == "CIDR" and resolution != "IN_VPC":
        raise _invalid("resourceGatewayIdentifier", "A CIDR resource configuration requires a resource gateway "
                                                    "with IN_VPC DNS resolution.")
    if rc_type == "ARN" and resolution == "IN_VPC":
        raise _invalid("resourceGatewayIdentifier", "An ARN resource configuration cannot use a resource gateway "
                                                    "with IN_VPC DNS resolution.")


def _within(domain: str, parent: str) -> bool:
    domain, parent = domain.lower().rstrip("."), parent.lower().rstrip(".")
    return domain == parent or domain.endswith("." + parent)


# -- resource configurations: create --------------------------------------------

def _placement(ctx: RequestContext, params: Mapping[str, Any]) -> tuple[Record, Record | None]:
    """(gateway, group): a CHILD names its GROUP and inherits its gateway; others name a gateway."""
    rc_type = params["type"]
    if rc_type == "CHILD":
        if "resourceGatewayIdentifier" in params:
            raise _invalid("resourceGatewayIdentifier", "A CHILD resource configuration inherits its group's gateway.")
        if "resourceConfigurationGroupIdentifier" not in params:
            raise _invalid("resourceConfigurationGroupIdentifier",
                           "resourceConfigurationGroupIdentifier is required for a CHILD resource configuration.")
        group = common.resolve(ctx, RESOURCE_CONFIGURATION, params["resourceConfigurationGroupIdentifier"])
        if group.body["type"] != "GROUP":
            raise _invalid("resourceConfigurationGroupIdentifier", f"{group.id} is not a GROUP resource configuration.")
        gateway = ctx.tx.get(RESOURCE_GATEWAY.kind, group.body["resourceGatewayId"])
        assert gateway is not None  # a gateway cannot be deleted while configurations use it
        return gateway, group
    if "resourceConfigurationGroupIdentifier" in params:
        raise _invalid("resourceConfigurationGroupIdentifier",
                       "Only a CHILD resource configuration belongs to a group.")
    if "resourceGatewayIdentifier" not in params:
        raise _invalid("resourceGatewayIdentifier",
                       f"resourceGatewayIdentifier is required for a {rc_type} resource configuration.")
    return common.resolve(ctx, RESOURCE_GATEWAY, params["resourceGatewayIdentifier"]), None


def _protocol(params: Mapping[str, Any], group: Record | None) -> str:
    protocol = params.get("protocol") or (group.body["protocol"] if group else "TCP")
    if protocol == "TCP_UDP" and params["type"] != "CIDR":
        raise _invalid("protocol", "TCP_UDP is supported only for CIDR resource configurations.")
    if group is not None and protocol != group.body["protocol"]:
        raise _invalid("protocol", "A CHILD resource configuration uses its group's protocol.")
    return protocol


def _check_children_quota(ctx: RequestContext, group: Record) -> None:
    children = sum(1 for r in ctx.tx.list(RESOURCE_CONFIGURATION.kind)
                   if r.body.get("resourceConfigurationGroupId") == group.id)
    check_quota(ctx, "children-per-group", children, RESOURCE_CONFIGURATION, group.id)


def _domains(ctx: RequestContext, params: Mapping[str, Any], group: Record | None) -> dict:
    """customDomainName / groupDomain / verification, with their placement rules."""
    rc_type, custom, group_domain = params["type"], params.get("customDomainName"), params.get("groupDomain")
    if group_domain and rc_type != "GROUP":
        raise _invalid("groupDomain", "groupDomain is supported only for GROUP resource configurations.")
    if custom and rc_type == "GROUP":
        raise _invalid("customDomainName", "A GROUP resource configuration uses groupDomain, not customDomainName.")
    if custom and group is not None and group.body.get("groupDomain") and not _within(custom,
                                                                                     group.body["groupDomain"]):
        raise _invalid("customDomainName", f"{custom} is not within the group domain {group.body['groupDomain']}.")
    dv = _verification(ctx, params, custom or group_domain, group)
    return {"customDomainName": custom, "groupDomain": group_domain,
            "domainVerificationId": dv.id if dv else None, "domainVerificationArn": dv.arn if dv else None}


def _verification(ctx: RequestContext, params: Mapping[str, Any], domain: str | None,
                  group: Record | None) -> Record | None:
    if "domainVerificationIdentifier" not in params:
        inherited = group.body.get("domainVerificationId") if group else None
        return ctx.tx.get(DOMAIN_VERIFICATION.kind, inherited) if inherited else None
    dv = common.resolve(ctx, DOMAIN_VERIFICATION, params["domainVerificationIdentifier"])
    if not domain or not _within(domain, dv.body["domainName"]):
        raise _invalid("domainVerificationIdentifier",
                       f"Domain verification {dv.id} is for {dv.body['domainName']}, which does not cover "
                       f"{domain or 'a configuration without a custom domain name'}.")
    domains.refresh(ctx, dv.id)
    return dv


def _sharing_flag(params: Mapping[str, Any], group: Record | None) -> bool:
    if group is not None:
        return group.body["allowAssociationToShareableServiceNetwork"]
    if "allowAssociationToShareableServiceNetwork" in params and params["type"] not in _SHARING_FLAG:
        raise _invalid("allowAssociationToShareableServiceNetwork",
                       f"allowAssociationToShareableServiceNetwork is not supported for {params['type']}.")
    # AWS's default is true for the types that take the flag (see the module docstring).
    return params.get("allowAssociationToShareableServiceNetwork", params["type"] in _SHARING_FLAG)


def _configuration_body(ctx: RequestContext, params: Mapping[str, Any]) -> dict:
    rc_type = params["type"]
    gateway, group = _placement(ctx, params)
    if group is None:
        _check_gateway_fits(rc_type, gateway)
    else:
        _check_children_quota(ctx, group)
    _check_ports(rc_type, params.get("portRanges"))
    _check_definition(rc_type, params.get("resourceConfigurationDefinition"), gateway)
    return {"name": params["name"], "type": rc_type, "resourceGatewayId": gateway.id,
            "resourceConfigurationGroupId": group.id if group else None,
            "portRanges": params.get("portRanges"), "protocol": _protocol(params, group),
            "resourceConfigurationDefinition": params.get("resourceConfigurationDefinition"),
            "allowAssociationToShareableServiceNetwork": _sharing_flag(params, group),
            "amazonManaged": False, **_domains(ctx, params, group),
            "status": "CREATE_IN_PROGRESS", "tags": common.check_tags(params.get("tags"))}


def _configuration_view(ctx: RequestContext, rc: Record, members: tuple) -> Any:
    dv_id = rc.body.get("domainVerificationId")
    dv = ctx.tx.get(DOMAIN_VERIFICATION.kind, dv_id, account=rc.account) if dv_id else None
    return common.project({**rc.body, "domainVerificationStatus": dv.body["status"] if dv else None}, members)


class ResourceOps:
    delete_attachments: Callable[[RequestContext, Record], None]  # PolicyOps'

    # -- resource gateways ---------------------------------------------------------
    def create_resource_gateway(self, ctx: RequestContext,
                                params: shapes.CreateResourceGatewayRequest) -> shapes.CreateResourceGatewayResponse:
        network = _gateway_network(ctx, params)
        _check_gateway_quota(ctx, network["vpcId"])
        body = {"name": params["name"], **network, **_gateway_addresses(params),
                "resourceConfigDnsResolution": params.get("resourceConfigDnsResolution", "PUBLIC"),
                "serviceManaged": False, "status": "CREATE_IN_PROGRESS",
                "tags": common.check_tags(params.get("tags"))}
        record = common.new_record(ctx, RESOURCE_GATEWAY, body, name=params["name"], status="CREATE_IN_PROGRESS")
        _create_interfaces(ctx, record)
        common.insert(ctx, record, RESOURCE_GATEWAY)
        return common.project(record.body, _RGW_CREATE)

    def get_resource_gateway(self, ctx: RequestContext,
                             params: shapes.GetResourceGatewayRequest) -> shapes.GetResourceGatewayResponse:
        return common.project(common.resolve(ctx, RESOURCE_GATEWAY, params["resourceGatewayIdentifier"]).body, _RGW_GET)

    def update_resource_gateway(self, ctx: RequestContext,
                                params: shapes.UpdateResourceGatewayRequest) -> shapes.UpdateResourceGatewayResponse:
        gateway = common.resolve(ctx, RESOURCE_GATEWAY, params["resourceGatewayIdentifier"])
        refuse_in_progress(RESOURCE_GATEWAY, gateway, "update")
        changes: dict[str, Any] = {"status": "UPDATE_IN_PROGRESS"}
        if "securityGroupIds" in params:
            changes["securityGroupIds"] = vpcs.check_security_groups(ctx, gateway.body["vpcId"],
                                                                     params["securityGroupIds"])
        if "resourceConfigDnsResolution" in params:
            _check_resolution_change(ctx, gateway, params["resourceConfigDnsResolution"])
            changes["resourceConfigDnsResolution"] = params["resourceConfigDnsResolution"]
        common.touch(ctx, gateway, **changes)
        return common.project(gateway.body, _RGW_UPDATE)

    def delete_resource_gateway(self, ctx: RequestContext,
                                params: shapes.DeleteResourceGatewayRequest) -> shapes.DeleteResourceGatewayResponse:
        gateway = common.resolve(ctx, RESOURCE_GATEWAY, params["resourceGatewayIdentifier"])
        users = _configurations_using(ctx, gateway.id)
        if users:
            raise common.conflict(RESOURCE_GATEWAY, gateway.id,
                                  f"Resource gateway {gateway.id} is used by resource configuration {users[0].id}; "
                                  "delete its resource configurations first.")
        refuse_in_progress(RESOURCE_GATEWAY, gateway, "delete")
        for eni_id in gateway.internal.pop(GATEWAY_INTERFACES, []):
            interfaces.delete_interface(ctx, eni_id)
        common.touch(ctx, gateway, status="DELETE_IN_PROGRESS")
        return common.project(gateway.body, ("id", "arn", "name", "status"))

    def list_resource_gateways(self, ctx: RequestContext,
                               params: shapes.ListResourceGatewaysRequest) -> shapes.ListResourceGatewaysResponse:
        return common.list_kind(ctx, params, RESOURCE_GATEWAY, lambda r: common.project(r.body, _RGW_SUMMARY))

    # -- resource configurations ------------------------------------------------------
    def create_resource_configuration(
            self, ctx: RequestContext, params: shapes.CreateResourceConfigurationRequest
    ) -> shapes.CreateResourceConfigurationResponse:
        check_quota(ctx, "resource-configurations", ctx.tx.count(RESOURCE_CONFIGURATION.kind),
                    RESOURCE_CONFIGURATION)
        body = _configuration_body(ctx, params)
        record = common.new_record(ctx, RESOURCE_CONFIGURATION, body, name=params["name"], status="CREATE_IN_PROGRESS")
        common.insert(ctx, record, RESOURCE_CONFIGURATION)
        if record.body["resourceConfigurationGroupId"]:
            join_group_networks(ctx, record, record.body["resourceConfigurationGroupId"])
        return _configuration_view(ctx, record, _RCFG_CREATE)

    def get_resource_configuration(
            self, ctx: RequestContext, params: shapes.GetResourceConfigurationRequest
    ) -> shapes.GetResourceConfigurationResponse:
        rc = common.resolve(ctx, RESOURCE_CONFIGURATION, params["resourceConfigurationIdentifier"], shared=True)
        return _configuration_view(ctx, rc, _RCFG_GET)

    def update_resource_configuration(
            self, ctx: RequestContext, params: shapes.UpdateResourceConfigurationRequest
    ) -> shapes.UpdateResourceConfigurationResponse:
        rc = common.resolve(ctx, RESOURCE_CONFIGURATION, params["resourceConfigurationIdentifier"])
        rc_type = rc.body["type"]
        changes: dict[str, Any] = {"status": "UPDATE_IN_PROGRESS"}
        if "resourceConfigurationDefinition" in params:
            gateway = ctx.tx.get(RESOURCE_GATEWAY.kind, rc.body["resourceGatewayId"])
            _check_definition(rc_type, params["resourceConfigurationDefinition"], gateway)
            changes["resourceConfigurationDefinition"] = params["resourceConfigurationDefinition"]
        if "portRanges" in params:
            _check_ports(rc_type, params["portRanges"])
            changes["portRanges"] = params["portRanges"]
        if "allowAssociationToShareableServiceNetwork" in params:
            changes["allowAssociationToShareableServiceNetwork"] = self._updated_sharing_flag(ctx, rc, params)
        common.touch(ctx, rc, **changes)
        return common.project(rc.body, _RCFG_UPDATE)

    @staticmethod
    def _updated_sharing_flag(ctx: RequestContext, rc: Record, params: Mapping[str, Any]) -> bool:
        """The flag may not be turned off while the configuration sits in a shareable network."""
        allow = params["allowAssociationToShareableServiceNetwork"]
        if rc.body["type"] not in _SHARING_FLAG:
            raise _invalid("allowAssociationToShareableServiceNetwork",
                           f"allowAssociationToShareableServiceNetwork is not supported for {rc.body['type']}.")
        for assoc in resource_associations(ctx, rc.id) if not allow else ():
            assert assoc.parent is not None  # an association's parent is its service network
            owner = account_of(assoc.body["serviceNetworkArn"])
            sn = ctx.tx.get(common.SERVICE_NETWORK.kind, assoc.parent, account=owner)
            if sn is not None and sn.body["sharingConfig"]["enabled"]:
                raise _invalid("allowAssociationToShareableServiceNetwork",
                               f"Resource configuration {rc.id} is associated with shareable service network {sn.id}.")
        return allow

    def delete_resource_configuration(
            self, ctx: RequestContext, params: shapes.DeleteResourceConfigurationRequest
    ) -> shapes.DeleteResourceConfigurationResponse:
        rc = common.resolve(ctx, RESOURCE_CONFIGURATION, params["resourceConfigurationIdentifier"])
        self._check_deletable(ctx, rc)
        leave_networks(ctx, rc.id)  # only a CHILD's managed associations can remain here
        self.delete_attachments(ctx, rc)
        ctx.tx.delete(RESOURCE_CONFIGURATION.kind, rc.id)
        return {}

    @staticmethod
    def _check_deletable(ctx: RequestContext, rc: Record) -> None:
        owned = [a for a in resource_associations(ctx, rc.id) if not a.body["isManagedAssociation"]]
        if owned:
            raise common.conflict(RESOURCE_CONFIGURATION, rc.id,
                                  f"Resource configuration {rc.id} is associated with service network "
                                  f"{owned[0].body['serviceNetworkId']}; delete the association first.")
        if ctx.tx.list(RESOURCE_ENDPOINT_ASSOCIATION.kind, parent=rc.id, limit=1, all_accounts=True):
            raise common.conflict(RESOURCE_CONFIGURATION, rc.id,
                                  f"Resource configuration {rc.id} is connected to VPC endpoints.")
        if rc.body["type"] == "GROUP" and any(r.body.get("resourceConfigurationGroupId") == rc.id
                                              for r in ctx.tx.list(RESOURCE_CONFIGURATION.kind)):
            raise common.conflict(RESOURCE_CONFIGURATION, rc.id,
                                  f"Group resource configuration {rc.id} still has child resource configurations.")

    def list_resource_configurations(
            self, ctx: RequestContext, params: shapes.ListResourceConfigurationsRequest
    ) -> shapes.ListResourceConfigurationsResponse:
        given: Mapping[str, Any] = params  # read by the computed member names below
        wanted = {field: id_of(given[name]) for name, field in (
            ("resourceGatewayIdentifier", "resourceGatewayId"),
            ("resourceConfigurationGroupIdentifier", "resourceConfigurationGroupId"),
            ("domainVerificationIdentifier", "domainVerificationId")) if given.get(name)}
        return common.list_kind(ctx, params, RESOURCE_CONFIGURATION, lambda r: common.project(r.body, _RCFG_SUMMARY),
                                keep=lambda r: all(r.body.get(k) == v for k, v in wanted.items()), filters=wanted,
                                shared=ram.LATTICE_TYPES["resourceconfiguration"])
