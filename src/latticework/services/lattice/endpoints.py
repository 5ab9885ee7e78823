"""The Lattice side of VPC endpoints of type ``ServiceNetwork`` and ``Resource``.

EC2 owns the endpoint (``CreateVpcEndpoint``, record kind ``vpcendpoint``).
An endpoint to a service network or a resource configuration also shows on
the Lattice side, and those records are this family's:

- ``snvea``, parent = the service network, listed by
  ``ListServiceNetworkVpcEndpointAssociations``; its id is the association id
  EC2 shows in ``DescribeVpcEndpointAssociations`` (``vpce-rsc-asc-...``);
- ``rea``, parent = the resource configuration, listed by
  ``ListResourceEndpointAssociations``; a Lattice id and ARN of its own.

EC2's endpoint code calls these functions in its own transaction; nothing
outside this family writes these records.
"""

from __future__ import annotations

from latticework.api.context import RequestContext
from latticework.services.lattice.associations import sync_resource_hosts
from latticework.services.lattice.common import (
    RESOURCE_CONFIGURATION, RESOURCE_ENDPOINT_ASSOCIATION, SN_ENDPOINT_ASSOCIATION, kind_arn,
)
from latticework.store import Record

_PAYERS = {"vpc-endpoint-account": "VpcEndpointAccount", "resource-gateway-account": "ResourceGatewayAccount"}


def add_network_endpoint(ctx: RequestContext, network: Record, association_id: str, endpoint_id: str,
                         vpc_id: str, created_at: str) -> None:
    """Record the caller's endpoint ``endpoint_id`` in ``vpc_id`` to service ``network``."""
    body = {"id": association_id, "vpcEndpointId": endpoint_id, "vpcId": vpc_id, "vpcEndpointOwnerId": ctx.account,
            "state": "AVAILABLE", "serviceNetworkArn": network.arn, "createdAt": created_at}
    ctx.tx.put(Record(SN_ENDPOINT_ASSOCIATION.kind, association_id, ctx.account, ctx.region, body, parent=network.id))
    sync_resource_hosts(ctx, network.id)  # the endpoint's addresses of the network's resources


def add_resource_endpoint(ctx: RequestContext, configuration: Record, endpoint_id: str, created_at: str) -> str:
    """Record the caller's endpoint ``endpoint_id`` to resource ``configuration``; answer the association id."""
    id = RESOURCE_ENDPOINT_ASSOCIATION.new_id()
    arn = kind_arn(ctx, RESOURCE_ENDPOINT_ASSOCIATION, id)
    body = {"id": id, "arn": arn,
            "resourceConfigurationId": configuration.id, "resourceConfigurationArn": configuration.arn,
            "resourceConfigurationName": configuration.body.get("name"), "vpcEndpointId": endpoint_id,
            "vpcEndpointOwner": ctx.account, "createdBy": ctx.account, "createdAt": created_at,
            "payerResponsibility": [_payer("vpc-endpoint-account")]}
    ctx.tx.put(Record(RESOURCE_ENDPOINT_ASSOCIATION.kind, id, ctx.account, ctx.region, body, parent=configuration.id,
                      arn=arn))
    return id


def remove_endpoint(ctx: RequestContext, association_id: str | None) -> None:
    """Drop the Lattice record of the caller's endpoint (either kind; nothing when already gone)."""
    for kind in (SN_ENDPOINT_ASSOCIATION, RESOURCE_ENDPOINT_ASSOCIATION):
        if association_id and ctx.tx.get(kind.kind, association_id) is not None:
            ctx.tx.delete(kind.kind, association_id)


def set_resource_endpoint_payer(ctx: RequestContext, association_id: str | None, account: str,
                                payer_type: str) -> None:
    """Mirror who pays the resource gateway's charges (EC2's ``PayerResponsibilityType``) on the association."""
    rea = ctx.tx.get(RESOURCE_ENDPOINT_ASSOCIATION.kind, association_id, account=account) if association_id else None
    if rea is not None and payer_type in _PAYERS:
        rea.body["payerResponsibility"] = [_payer(payer_type)]
        ctx.tx.put(rea)


def endpoint_account_for_own_resource(ctx: RequestContext, endpoint_id: str) -> str | None:
    """The account of endpoint ``endpoint_id`` when it reaches one of the caller's resource configurations."""
    for rea in ctx.tx.list(RESOURCE_ENDPOINT_ASSOCIATION.kind, all_accounts=True):
        owned = rea.parent is not None and ctx.tx.get(RESOURCE_CONFIGURATION.kind, rea.parent) is not None
        if rea.body.get("vpcEndpointId") == endpoint_id and owned:
            return rea.account
    return None


def _payer(payer_type: str) -> dict:
    return {"scope": "ResourceGatewayCharges", "payerResponsibilityType": _PAYERS[payer_type]}
