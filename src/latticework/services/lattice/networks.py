"""Service networks: the logical boundary that VPCs and services join.

A service network has no lifecycle status (AWS answers it ``ACTIVE`` at once);
it cannot be deleted while any service, VPC, resource-configuration or
VPC-endpoint association references it, and deleting it removes its auth
policy, resource policy and access-log subscriptions.

Shared networks (RAM) appear in a consumer's ``ListServiceNetworks`` beside its
own, each with its owner's ARN and the same counts its owner sees (the API
reference: "The account ID in the ARN shows which account owns the service
network"); ``GetServiceNetwork`` answers them by ARN (``common.resolve``).
"""

from __future__ import annotations

from typing import Callable

from latticework.api.context import RequestContext
from latticework.records import ram
from latticework.services.lattice import api_types as shapes
from latticework.services.lattice import common
from latticework.services.lattice.common import (
    SERVICE_NETWORK, SN_RESOURCE_ASSOCIATION, SN_SERVICE_ASSOCIATION, SN_VPC_ASSOCIATION,
)
from latticework.services.lattice.quotas import check_quota
from latticework.store import Record

# Blocking associations for DeleteServiceNetwork, with the words AWS uses.
_DEPENDENTS = ((SN_SERVICE_ASSOCIATION, "services"), (SN_VPC_ASSOCIATION, "VPCs"),
               (SN_RESOURCE_ASSOCIATION, "resource configurations"))


def _count(ctx: RequestContext, sn: Record, kind) -> int:
    # Associations of every account count: a VPC owner's association lives in its own account.
    return ctx.tx.count(kind.kind, parent=sn.id, all_accounts=True)


def _counts(ctx: RequestContext, sn: Record) -> dict:
    return {"numberOfAssociatedVPCs": _count(ctx, sn, SN_VPC_ASSOCIATION),
            "numberOfAssociatedServices": _count(ctx, sn, SN_SERVICE_ASSOCIATION)}


class ServiceNetworkOps:
    sn_endpoint_associations: Callable[[RequestContext, Record], list[Record]]  # AssociationOps'
    delete_attachments: Callable[[RequestContext, Record], None]  # PolicyOps'

    def create_service_network(self, ctx: RequestContext,
                               params: shapes.CreateServiceNetworkRequest) -> shapes.CreateServiceNetworkResponse:
        check_quota(ctx, "service-networks", ctx.tx.count(SERVICE_NETWORK.kind), SERVICE_NETWORK)
        body = {
            "name": params["name"],
            "authType": params.get("authType", "NONE"),
            # Default of sharingConfig.enabled is undocumented; AWS answers true.
            "sharingConfig": {"enabled": params.get("sharingConfig", {}).get("enabled", True)},
            "tags": common.check_tags(params.get("tags")),
        }
        record = common.new_record(ctx, SERVICE_NETWORK, body, name=params["name"])
        common.insert(ctx, record, SERVICE_NETWORK)
        return common.project(record.body, ("id", "name", "arn", "sharingConfig", "authType"))

    def get_service_network(self, ctx: RequestContext,
                            params: shapes.GetServiceNetworkRequest) -> shapes.GetServiceNetworkResponse:
        sn = common.resolve(ctx, SERVICE_NETWORK, params["serviceNetworkIdentifier"], shared=True)
        return {**common.project(sn.body, ("id", "name", "arn", "createdAt", "lastUpdatedAt", "authType",
                                           "sharingConfig")), **_counts(ctx, sn)}

    def update_service_network(self, ctx: RequestContext,
                               params: shapes.UpdateServiceNetworkRequest) -> shapes.UpdateServiceNetworkResponse:
        sn = common.resolve(ctx, SERVICE_NETWORK, params["serviceNetworkIdentifier"])
        common.touch(ctx, sn, authType=params["authType"])
        return common.project(sn.body, ("id", "name", "arn", "authType"))

    def delete_service_network(self, ctx: RequestContext,
                               params: shapes.DeleteServiceNetworkRequest) -> shapes.DeleteServiceNetworkResponse:
        sn = common.resolve(ctx, SERVICE_NETWORK, params["serviceNetworkIdentifier"])
        for kind, words in _DEPENDENTS:
            if ctx.tx.list(kind.kind, parent=sn.id, limit=1, all_accounts=True):
                raise common.conflict(SERVICE_NETWORK, sn.id,
                                      f"Service network {sn.id} cannot be deleted while it is associated with "
                                      f"{words}. Delete the associations first.")
        if self.sn_endpoint_associations(ctx, sn):
            raise common.conflict(SERVICE_NETWORK, sn.id,
                                  f"Service network {sn.id} cannot be deleted while VPC endpoints are connected to it.")
        self.delete_attachments(ctx, sn)
        ctx.tx.delete(SERVICE_NETWORK.kind, sn.id)
        return {}

    def list_service_networks(self, ctx: RequestContext,
                              params: shapes.ListServiceNetworksRequest) -> shapes.ListServiceNetworksResponse:
        def summarize(sn: Record) -> dict:
            return {**common.project(sn.body, ("id", "name", "arn", "createdAt", "lastUpdatedAt")),
                    **_counts(ctx, sn),
                    "numberOfAssociatedResourceConfigurations": _count(ctx, sn, SN_RESOURCE_ASSOCIATION)}

        return common.list_kind(ctx, params, SERVICE_NETWORK, summarize, shared=ram.LATTICE_TYPES["servicenetwork"])
