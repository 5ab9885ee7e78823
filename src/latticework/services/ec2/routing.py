"""Route tables, routes, associations, network ACLs and AWS-managed prefix lists.

Route tables
    A ``routetable`` record holds the ``RouteTable`` shape: its ``Routes`` and
    its ``Associations`` (the main association of a VPC's main table, and one
    ``rtbassoc-`` association per explicitly associated subnet). Every table
    starts with the ``local`` route for the VPC's CIDR (origin
    ``CreateRouteTable``), which can be neither replaced nor deleted. Routes
    made with ``CreateRoute`` keep their target id as given (internet
    gateways, NAT gateways and the like are not modelled, so they are not
    checked). Replacing the main association moves the VPC's main table
    (internal ``MainRouteTableId`` of the VPC: the table a client without a
    subnet uses, see ``dataplane.awsservices.front``). Gateway VPC endpoints add one route per table toward their
    service's prefix list (``add_endpoint_route``) with the endpoint id as
    ``GatewayId``; the route-table API cannot remove those routes, only the
    endpoint can (``remove_endpoint_routes``).
    https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html

Network ACLs
    Each VPC has one default ACL (allow all, then the ``*`` deny rule 32767, in
    both directions); every subnet of the VPC is associated with it. Custom
    ACLs are not implemented.

Prefix lists
    AWS-managed prefix lists exist in every Region without being created:
    ``com.amazonaws.<region>.s3`` and ``.dynamodb`` (the gateway endpoint
    services), ``com.amazonaws.<region>.vpc-lattice`` (169.254.171.0/24) and
    ``com.amazonaws.<region>.ipv6.vpc-lattice`` (fd00:ec2:80::/64). Their ids
    are ``pl-`` plus 8 hex digits derived from Region and name, so they are
    stable across restarts and accounts. The S3 and DynamoDB CIDRs are a
    representative subset of AWS's published ranges, the same in every
    Region. ``DescribePrefixLists`` (the older API, for gateway endpoint
    services) shows only S3 and DynamoDB; ``DescribeManagedPrefixLists``
    shows all four.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any, Mapping, cast

from latticework.api.context import RequestContext
from latticework.services.ec2 import api_types as shapes
from latticework.services.ec2.common import Ec2Error, describe, get, matches, page, tags_for
from latticework.services.ec2.kinds import NETWORK_ACL, ROUTE_TABLE, SUBNET, VPC
from latticework.store import Record

TARGETS = ("GatewayId", "NatGatewayId", "TransitGatewayId", "LocalGatewayId", "CarrierGatewayId",
           "EgressOnlyInternetGatewayId", "InstanceId", "NetworkInterfaceId", "VpcPeeringConnectionId",
           "VpcEndpointId", "CoreNetworkArn", "OdbNetworkArn")
DESTINATIONS = ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId")


def _association_id(prefix: str) -> str:
    return prefix + ROUTE_TABLE.new_id()[4:]


# -- prefix lists ------------------------------------------------------------------

# (service suffix, address family, CIDRs)
MANAGED_LISTS = (
    ("s3", "IPv4", ["3.5.0.0/19", "16.182.0.0/16", "18.34.0.0/19", "52.216.0.0/15", "54.231.0.0/16"]),
    ("dynamodb", "IPv4", ["3.218.180.0/22", "3.218.184.0/22", "52.94.0.0/22", "52.119.224.0/20"]),
    ("vpc-lattice", "IPv4", ["169.254.171.0/24"]),
    ("ipv6.vpc-lattice", "IPv6", ["fd00:ec2:80::/64"]),
)
GATEWAY_SERVICES = {"s3", "dynamodb"}


def prefix_list_id(region: str, name: str) -> str:
    return "pl-" + hashlib.sha256(f"{region}/{name}".encode()).hexdigest()[:8]


@dataclass(frozen=True)
class ManagedPrefixList:
    shape: dict  # the ``ManagedPrefixList`` shape
    cidrs: tuple[str, ...]
    gateway: bool  # a gateway endpoint service's list (S3, DynamoDB): ``DescribePrefixLists`` shows it

    @property
    def id(self) -> str:
        return self.shape["PrefixListId"]

    def legacy(self) -> dict:
        """The ``PrefixList`` shape: id, name and ``Cidrs``."""
        return {"PrefixListId": self.id, "PrefixListName": self.shape["PrefixListName"], "Cidrs": list(self.cidrs)}


def managed_prefix_lists(ctx: RequestContext) -> list[ManagedPrefixList]:
    """The Region's AWS-managed prefix lists."""
    found = []
    for suffix, family, cidrs in MANAGED_LISTS:
        name = f"com.amazonaws.{ctx.region}.{suffix}"
        pl_id = prefix_list_id(ctx.region, name)
        shape = {"PrefixListId": pl_id, "PrefixListName": name, "AddressFamily": family,
                 "State": "create-complete", "Version": 1, "OwnerId": "AWS", "Tags": [],
                 "PrefixListArn": ctx.arn("ec2", f"prefix-list/{pl_id}", account="aws")}
        found.append(ManagedPrefixList(shape, tuple(cidrs), suffix in GATEWAY_SERVICES))
    return found


def prefix_list_by_name(ctx: RequestContext, name: str) -> dict | None:
    """An AWS-managed prefix list in the ``PrefixList`` shape (id, name, ``Cidrs``) by name,
    e.g. ``com.amazonaws.us-east-1.s3``; None when there is none."""
    found = next((p for p in managed_prefix_lists(ctx) if p.shape["PrefixListName"] == name), None)
    return found.legacy() if found else None


def prefix_list_by_id(ctx: RequestContext, pl_id: str) -> dict | None:
    found = next((p for p in managed_prefix_lists(ctx) if p.id == pl_id), None)
    return found.legacy() if found else None


def _select_lists(ctx: RequestContext, params: Mapping[str, Any],
                  lists: list[ManagedPrefixList]) -> list[ManagedPrefixList]:
    ids = params.get("PrefixListIds") or []
    known = {p.id for p in lists}
    for pl_id in ids:
        if pl_id not in known:
            raise Ec2Error("InvalidPrefixListID.NotFound", f"The prefix list ID '{pl_id}' does not exist")
    return [p for p in lists if not ids or p.id in ids]


PREFIX_LIST_FILTERS = {"prefix-list-id": lambda p: p["PrefixListId"], "prefix-list-name": lambda p: p["PrefixListName"]}
MANAGED_FILTERS = {**PREFIX_LIST_FILTERS, "owner-id": lambda p: p["OwnerId"]}


# -- route tables ------------------------------------------------------------------

def _local_route(cidr: str) -> dict:
    return {"DestinationCidrBlock": cidr, "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"}


def _new_table(ctx: RequestContext, vpc: dict, tags: list[dict]) -> Record:
    table_id = ROUTE_TABLE.new_id()
    body = {"RouteTableId": table_id, "VpcId": vpc["VpcId"], "OwnerId": ctx.account,
            "Routes": [_local_route(vpc["CidrBlock"])], "Associations": [], "PropagatingVgws": [], "Tags": tags}
    return ctx.tx.put(Record(ROUTE_TABLE.kind, table_id, ctx.account, ctx.region, body))


def create_main_table(ctx: RequestContext, vpc_id: str, cidr: str) -> str:
    table = _new_table(ctx, {"VpcId": vpc_id, "CidrBlock": cidr}, [])
    table.body["Associations"].append({"Main": True, "RouteTableAssociationId": _association_id("rtbassoc-"),
                                       "RouteTableId": table.id, "AssociationState": {"State": "associated"}})
    ctx.tx.put(table)
    return table.id


def delete_vpc_tables(ctx: RequestContext, main_table_id: str, acl_id: str) -> None:
    ctx.tx.delete(ROUTE_TABLE.kind, main_table_id)
    ctx.tx.delete(NETWORK_ACL.kind, acl_id)


def _find_association(ctx: RequestContext, association_id: str) -> tuple[Record, dict]:
    for table in ctx.tx.list(ROUTE_TABLE.kind):
        for assoc in table.body["Associations"]:
            if assoc["RouteTableAssociationId"] == association_id:
                return table, assoc
    raise Ec2Error("InvalidAssociationID.NotFound", f"The association ID '{association_id}' does not exist")


def _subnet_table(ctx: RequestContext, subnet_id: str) -> Record | None:
    return next((t for t in ctx.tx.list(ROUTE_TABLE.kind)
                 if any(a.get("SubnetId") == subnet_id for a in t.body["Associations"])), None)


def forget_subnet(ctx: RequestContext, subnet_id: str) -> None:
    """A deleted subnet leaves its route table and network ACL associations."""
    table = _subnet_table(ctx, subnet_id)
    if table is not None:
        table.body["Associations"] = [a for a in table.body["Associations"] if a.get("SubnetId") != subnet_id]
        ctx.tx.put(table)
    for acl in ctx.tx.list(NETWORK_ACL.kind):
        if any(a["SubnetId"] == subnet_id for a in acl.body["Associations"]):
            acl.body["Associations"] = [a for a in acl.body["Associations"] if a["SubnetId"] != subnet_id]
            ctx.tx.put(acl)


def _route_destination(route: dict) -> tuple[str, str]:
    return next((f, route[f]) for f in DESTINATIONS if route.get(f))


def _check_destination(params: Mapping[str, Any]) -> tuple[str, str]:
    given = [(f, params[f]) for f in DESTINATIONS if params.get(f)]
    if len(given) != 1:
        raise Ec2Error("InvalidParameterCombination" if given else "MissingParameter",
                       "Exactly one of destinationCidrBlock, destinationIpv6CidrBlock or destinationPrefixListId "
                       "must be specified.")
    field, value = given[0]
    if field != "DestinationPrefixListId":
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise Ec2Error("InvalidParameterValue", f"Value ({value}) for parameter destinationCidrBlock is "
                           "invalid. This is not a valid CIDR block.") from None
        value = str(network)
    return field, value


def _route_target(params: Mapping[str, Any]) -> dict:
    given = {f: params[f] for f in TARGETS if params.get(f)}
    if len(given) != 1:
        raise Ec2Error("InvalidParameterCombination" if given else "MissingParameter",
                       "The request must contain exactly one route target.")
    if "VpcEndpointId" in given:  # Gateway Load Balancer endpoints show as the route's gateway
        given = {"GatewayId": given["VpcEndpointId"]}
    return given


def _find_route(table: Record, field: str, value: str) -> dict | None:
    return next((r for r in table.body["Routes"] if r.get(field) == value), None)


def _is_endpoint_route(route: dict) -> bool:
    return str(route.get("GatewayId", "")).startswith("vpce-") and bool(route.get("DestinationPrefixListId"))


def add_endpoint_route(ctx: RequestContext, route_table_id: str, prefix_list_id: str, endpoint_id: str) -> None:
    """A gateway endpoint's route ``prefix list -> endpoint`` in a table (one per service per table)."""
    table = get(ctx, ROUTE_TABLE, route_table_id)
    held = _find_route(table, "DestinationPrefixListId", prefix_list_id)
    if held is not None and held.get("GatewayId") == endpoint_id:
        return
    if held is not None:
        raise Ec2Error("RouteAlreadyExists", f"route table {route_table_id} already has a route with destination-"
                       f"prefix-list-id {prefix_list_id}")
    table.body["Routes"].append({"DestinationPrefixListId": prefix_list_id, "GatewayId": endpoint_id,
                                 "Origin": "CreateRoute", "State": "active"})
    ctx.tx.put(table)


def remove_endpoint_routes(ctx: RequestContext, endpoint_id: str, route_table_ids=None) -> None:
    """Drop an endpoint's routes from the given tables (every table when None); missing tables are skipped."""
    tables = ctx.tx.list(ROUTE_TABLE.kind) if route_table_ids is None \
        else [t for t in (ctx.tx.get(ROUTE_TABLE.kind, i) for i in route_table_ids) if t is not None]
    for table in tables:
        kept = [r for r in table.body["Routes"] if r.get("GatewayId") != endpoint_id]
        if len(kept) != len(table.body["Routes"]):
            table.body["Routes"] = kept
            ctx.tx.put(table)


ROUTE_TABLE_FILTERS = {
    "route-table-id": lambda b: b["RouteTableId"], "vpc-id": lambda b: b["VpcId"],
    "owner-id": lambda b: b["OwnerId"],
    "association.main": lambda b: [a["Main"] for a in b["Associations"] if a.get("Main")] or [False],
    "association.subnet-id": lambda b: [a.get("SubnetId") for a in b["Associations"]],
    "association.route-table-association-id": lambda b: [a["RouteTableAssociationId"] for a in b["Associations"]],
    "association.route-table-id": lambda b: [a["RouteTableId"] for a in b["Associations"]],
    "association.gateway-id": lambda b: [a.get("GatewayId") for a in b["Associations"]],
    "route.destination-cidr-block": lambda b: [r.get("DestinationCidrBlock") for r in b["Routes"]],
    "route.destination-ipv6-cidr-block": lambda b: [r.get("DestinationIpv6CidrBlock") for r in b["Routes"]],
    "route.destination-prefix-list-id": lambda b: [r.get("DestinationPrefixListId") for r in b["Routes"]],
    "route.gateway-id": lambda b: [r.get("GatewayId") for r in b["Routes"]],
    "route.nat-gateway-id": lambda b: [r.get("NatGatewayId") for r in b["Routes"]],
    "route.transit-gateway-id": lambda b: [r.get("TransitGatewayId") for r in b["Routes"]],
    "route.vpc-peering-connection-id": lambda b: [r.get("VpcPeeringConnectionId") for r in b["Routes"]],
    "route.instance-id": lambda b: [r.get("InstanceId") for r in b["Routes"]],
    "route.origin": lambda b: [r.get("Origin") for r in b["Routes"]],
    "route.state": lambda b: [r.get("State") for r in b["Routes"]],
}


# -- network ACLs -------------------------------------------------------------------

def _default_entries() -> list[dict]:
    return [{"RuleNumber": number, "Protocol": "-1", "RuleAction": action, "Egress": egress,
             "CidrBlock": "0.0.0.0/0"}
            for egress in (True, False) for number, action in ((100, "allow"), (32767, "deny"))]


def create_default_acl(ctx: RequestContext, vpc_id: str) -> str:
    acl_id = NETWORK_ACL.new_id()
    body = {"NetworkAclId": acl_id, "VpcId": vpc_id, "IsDefault": True, "OwnerId": ctx.account,
            "Entries": _default_entries(), "Associations": [], "Tags": []}
    ctx.tx.put(Record(NETWORK_ACL.kind, acl_id, ctx.account, ctx.region, body))
    return acl_id


def associate_default_acl(ctx: RequestContext, acl_id: str, subnet_id: str) -> None:
    acl = get(ctx, NETWORK_ACL, acl_id)
    acl.body["Associations"].append({"NetworkAclAssociationId": _association_id("aclassoc-"),
                                     "NetworkAclId": acl_id, "SubnetId": subnet_id})
    ctx.tx.put(acl)


ACL_FILTERS = {
    "network-acl-id": lambda b: b["NetworkAclId"], "vpc-id": lambda b: b["VpcId"], "default": lambda b: b["IsDefault"],
    "owner-id": lambda b: b["OwnerId"],
    "association.association-id": lambda b: [a["NetworkAclAssociationId"] for a in b["Associations"]],
    "association.network-acl-id": lambda b: [a["NetworkAclId"] for a in b["Associations"]],
    "association.subnet-id": lambda b: [a["SubnetId"] for a in b["Associations"]],
    "entry.cidr": lambda b: [e.get("CidrBlock") for e in b["Entries"]],
    "entry.egress": lambda b: [e["Egress"] for e in b["Entries"]],
    "entry.protocol": lambda b: [e["Protocol"] for e in b["Entries"]],
    "entry.rule-action": lambda b: [e["RuleAction"] for e in b["Entries"]],
    "entry.rule-number": lambda b: [e["RuleNumber"] for e in b["Entries"]],
}


class RoutingOps:
    # -- route tables --
    def create_route_table(self, ctx: RequestContext,
                           params: shapes.CreateRouteTableRequest) -> shapes.CreateRouteTableResult:
        vpc = get(ctx, VPC, params["VpcId"])
        table = _new_table(ctx, vpc.body, tags_for(params, "route-table"))
        return {"RouteTable": cast(shapes.RouteTable, table.body)}  # the stored body is the RouteTable shape

    def describe_route_tables(self, ctx: RequestContext,
                              params: shapes.DescribeRouteTablesRequest) -> shapes.DescribeRouteTablesResult:
        return describe(ctx, ROUTE_TABLE, params, "RouteTableIds", "RouteTables", ROUTE_TABLE_FILTERS)

    def delete_route_table(self, ctx: RequestContext, params: shapes.DeleteRouteTableRequest) -> shapes.NoOutput:
        table = get(ctx, ROUTE_TABLE, params["RouteTableId"])
        if table.body["Associations"]:
            raise Ec2Error("DependencyViolation",
                           f"The routeTable '{table.id}' has dependencies and cannot be deleted.")
        ctx.tx.delete(ROUTE_TABLE.kind, table.id)
        return {}

    def associate_route_table(self, ctx: RequestContext,
                              params: shapes.AssociateRouteTableRequest) -> shapes.AssociateRouteTableResult:
        table = get(ctx, ROUTE_TABLE, params["RouteTableId"])
        if params.get("GatewayId") or not params.get("SubnetId"):
            raise Ec2Error("InvalidParameterValue", "Only subnet associations are supported by Latticework")
        subnet = get(ctx, SUBNET, params["SubnetId"])
        if subnet.body["VpcId"] != table.body["VpcId"]:
            raise Ec2Error("InvalidParameterValue", f"route table {table.id} and subnet {subnet.id} belong to "
                           "different networks")
        if _subnet_table(ctx, subnet.id) is not None:
            raise Ec2Error("Resource.AlreadyAssociated",
                           f"the specified association for route table {table.id} conflicts with an existing "
                           "association")
        assoc_id = _association_id("rtbassoc-")
        table.body["Associations"].append({"Main": False, "RouteTableAssociationId": assoc_id,
                                           "RouteTableId": table.id, "SubnetId": subnet.id,
                                           "AssociationState": {"State": "associated"}})
        ctx.tx.put(table)
        return {"AssociationId": assoc_id, "AssociationState": {"State": "associated"}}

    def disassociate_route_table(self, ctx: RequestContext,
                                 params: shapes.DisassociateRouteTableRequest) -> shapes.NoOutput:
        table, assoc = _find_association(ctx, params["AssociationId"])
        if assoc.get("Main"):
            raise Ec2Error("InvalidParameterValue", f"cannot disassociate the main route table association "
                           f"{assoc['RouteTableAssociationId']}")
        table.body["Associations"].remove(assoc)
        ctx.tx.put(table)
        return {}

    def replace_route_table_association(
            self, ctx: RequestContext, params: shapes.ReplaceRouteTableAssociationRequest
    ) -> shapes.ReplaceRouteTableAssociationResult:
        old_table, assoc = _find_association(ctx, params["AssociationId"])
        new_table = get(ctx, ROUTE_TABLE, params["RouteTableId"])
        if new_table.body["VpcId"] != old_table.body["VpcId"]:
            raise Ec2Error("InvalidParameterValue", f"route table {new_table.id} belongs to a different network")
        old_table.body["Associations"].remove(assoc)
        ctx.tx.put(old_table)
        new_table = get(ctx, ROUTE_TABLE, new_table.id)  # may be the same table, re-read after the write
        moved = {**assoc, "RouteTableId": new_table.id, "RouteTableAssociationId": _association_id("rtbassoc-")}
        new_table.body["Associations"].append(moved)
        ctx.tx.put(new_table)
        if assoc.get("Main"):  # the VPC's main table moved: its subnet-less clients now route by the new one
            vpc = get(ctx, VPC, new_table.body["VpcId"])
            vpc.internal["MainRouteTableId"] = new_table.id
            ctx.tx.put(vpc)
        return {"NewAssociationId": moved["RouteTableAssociationId"], "AssociationState": {"State": "associated"}}

    def create_route(self, ctx: RequestContext, params: shapes.CreateRouteRequest) -> shapes.CreateRouteResult:
        table = get(ctx, ROUTE_TABLE, params["RouteTableId"])
        field, value = _check_destination(params)
        if field == "DestinationPrefixListId" and prefix_list_by_id(ctx, value) is None:
            raise Ec2Error("InvalidPrefixListID.NotFound", f"The prefix list ID '{value}' does not exist")
        if _find_route(table, field, value) is not None:
            raise Ec2Error("RouteAlreadyExists", f"The route identified by {value} already exists.")
        table.body["Routes"].append({field: value, **_route_target(params), "Origin": "CreateRoute",
                                     "State": "active"})
        ctx.tx.put(table)
        return {"Return": True}

    def delete_route(self, ctx: RequestContext, params: shapes.DeleteRouteRequest) -> shapes.NoOutput:
        table = get(ctx, ROUTE_TABLE, params["RouteTableId"])
        field, value = _check_destination(params)
        route = _find_route(table, field, value)
        if route is None:
            noun = {"DestinationCidrBlock": "destination-cidr-block",
                    "DestinationIpv6CidrBlock": "destination-ipv6-cidr-block"}.get(field, "destination-prefix-list-id")
            raise Ec2Error("InvalidRoute.NotFound", f"no route with {noun} {value} in route table {table.id}")
        if route.get("GatewayId") == "local":
            raise Ec2Error("InvalidParameterValue", f"cannot remove local route {value} in route table {table.id}")
        if _is_endpoint_route(route):
            raise Ec2Error("InvalidParameterValue", f"route {value} in route table {table.id} belongs to VPC "
                           f"endpoint {route['GatewayId']}; modify the endpoint's route tables instead")
        table.body["Routes"].remove(route)
        ctx.tx.put(table)
        return {}

    # -- network ACLs --
    def describe_network_acls(self, ctx: RequestContext,
                              params: shapes.DescribeNetworkAclsRequest) -> shapes.DescribeNetworkAclsResult:
        return describe(ctx, NETWORK_ACL, params, "NetworkAclIds", "NetworkAcls", ACL_FILTERS)

    # -- prefix lists --
    def describe_prefix_lists(self, ctx: RequestContext,
                              params: shapes.DescribePrefixListsRequest) -> shapes.DescribePrefixListsResult:
        lists = [p for p in managed_prefix_lists(ctx) if p.gateway]
        chosen = [p.legacy() for p in _select_lists(ctx, params, lists)
                  if matches(p.shape, params.get("Filters"), PREFIX_LIST_FILTERS)]
        return page(chosen, params, "PrefixLists")

    def describe_managed_prefix_lists(
            self, ctx: RequestContext, params: shapes.DescribeManagedPrefixListsRequest
    ) -> shapes.DescribeManagedPrefixListsResult:
        chosen = [p.shape for p in _select_lists(ctx, params, managed_prefix_lists(ctx))
                  if matches(p.shape, params.get("Filters"), MANAGED_FILTERS)]
        return page(chosen, params, "PrefixLists")

    def get_managed_prefix_list_entries(
            self, ctx: RequestContext, params: shapes.GetManagedPrefixListEntriesRequest
    ) -> shapes.GetManagedPrefixListEntriesResult:
        [pl] = _select_lists(ctx, {"PrefixListIds": [params["PrefixListId"]]}, managed_prefix_lists(ctx))
        return page([{"Cidr": c} for c in pl.cidrs], params, "Entries")
