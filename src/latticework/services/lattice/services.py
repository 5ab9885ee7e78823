"""Lattice services: the unit clients call, reached through its listeners.

A service is created ``CREATE_IN_PROGRESS`` and settles ``ACTIVE``; deleting
it answers ``DELETE_IN_PROGRESS`` and the record is then gone (a ``GetService``
answers 404, which is what Terraform waits for).

Fields
    ``name`` is unique per account and Region (the store's name index gives
    the ``ConflictException``). ``customDomainName`` is set only at create
    time; ``certificateArn``, ``authType`` (default ``NONE``) and
    ``idleTimeoutSeconds`` (default 60, the documented default, always
    answered so a read-back matches what AWS reports) are the only members
    ``UpdateService`` changes.

Generated name
    ``dnsEntry.domainName`` is ``<name>-<17-char id suffix>.<token>.
    vpc-lattice-svcs.<region>.on.aws`` (token ``7d67968`` in the aws
    partition, as observed) with the Region's hosted zone id, e.g.
    https://docs.aws.amazon.com/cli/latest/reference/vpc-lattice/get-service.html

Delete
    Refused (``ConflictException``) while any service-network association,
    of any account, references the service. Otherwise it removes the
    service's listeners and their rules, its auth policy, resource policy and
    access-log subscriptions (``delete_attachments``), then marks it
    ``DELETE_IN_PROGRESS``.

Shared services (RAM) appear in a consumer's ``ListServices`` with their
owner's ARN, and ``GetService`` answers them by ARN.
"""

from __future__ import annotations

from typing import Callable, Final

from latticework.api.context import RequestContext
from latticework.records import ram
from latticework.services.lattice import api_types as shapes
from latticework.services.lattice import common
from latticework.services.lattice.common import LISTENER, RULE, SERVICE, SN_SERVICE_ASSOCIATION
from latticework.services.lattice.quotas import check_quota
from latticework.store import Record

DEFAULT_IDLE_TIMEOUT = 60

_CREATE_MEMBERS = ("id", "arn", "name", "customDomainName", "certificateArn", "status", "authType",
                   "idleTimeoutSeconds", "dnsEntry")
_GET_MEMBERS = ("id", "name", "arn", "createdAt", "lastUpdatedAt", "dnsEntry", "customDomainName",
                "certificateArn", "status", "authType", "idleTimeoutSeconds", "failureCode", "failureMessage")
_UPDATE_MEMBERS = ("id", "arn", "name", "customDomainName", "certificateArn", "authType", "idleTimeoutSeconds")
_SUMMARY_MEMBERS = ("id", "name", "arn", "createdAt", "lastUpdatedAt", "dnsEntry", "customDomainName", "status")
_UPDATABLE: Final = ("certificateArn", "authType", "idleTimeoutSeconds")


def dns_entry(ctx: RequestContext, name: str, service_id: str) -> dict:
    """The generated, publicly resolvable name of a service."""
    suffix = service_id[len(SERVICE.prefix):]
    return {"domainName": f"{name}-{suffix}.{common.SERVICE_DNS_TOKEN}.vpc-lattice-svcs.{ctx.region}.on.aws",
            "hostedZoneId": common.hosted_zone_id(ctx.region)}


def service_associations(ctx: RequestContext, service: Record) -> list[Record]:
    """Service-network associations (of any account) that reference ``service``."""
    return [a for a in ctx.tx.list(SN_SERVICE_ASSOCIATION.kind, all_accounts=True)
            if a.body.get("serviceId") == service.id]


def delete_listener_tree(ctx: RequestContext, listener: Record) -> None:
    """Remove a listener and every rule under it (its default rule included)."""
    for rule in ctx.tx.list(RULE.kind, parent=listener.id):
        ctx.tx.delete(RULE.kind, rule.id)
    ctx.tx.delete(LISTENER.kind, listener.id)


class ServiceOps:
    delete_attachments: Callable[[RequestContext, Record], None]  # PolicyOps'

    def create_service(self, ctx: RequestContext, params: shapes.CreateServiceRequest) -> shapes.CreateServiceResponse:
        check_quota(ctx, "services", ctx.tx.count(SERVICE.kind), SERVICE)
        id = SERVICE.new_id()
        body = {
            "name": params["name"],
            "customDomainName": params.get("customDomainName"),
            "certificateArn": params.get("certificateArn"),
            "authType": params.get("authType", "NONE"),
            "idleTimeoutSeconds": params.get("idleTimeoutSeconds", DEFAULT_IDLE_TIMEOUT),
            "dnsEntry": dns_entry(ctx, params["name"], id),
            "status": "CREATE_IN_PROGRESS",
            "tags": common.check_tags(params.get("tags")),
        }
        body = {k: v for k, v in body.items() if v is not None}
        record = common.new_record(ctx, SERVICE, body, id=id, name=params["name"], status="CREATE_IN_PROGRESS")
        common.insert(ctx, record, SERVICE)
        return common.project(record.body, _CREATE_MEMBERS)

    def get_service(self, ctx: RequestContext, params: shapes.GetServiceRequest) -> shapes.GetServiceResponse:
        service = common.resolve(ctx, SERVICE, params["serviceIdentifier"], shared=True)
        return common.project(service.body, _GET_MEMBERS)

    def update_service(self, ctx: RequestContext, params: shapes.UpdateServiceRequest) -> shapes.UpdateServiceResponse:
        service = common.resolve(ctx, SERVICE, params["serviceIdentifier"])
        common.touch(ctx, service, **{k: params[k] for k in _UPDATABLE if k in params})
        return common.project(service.body, _UPDATE_MEMBERS)

    def delete_service(self, ctx: RequestContext, params: shapes.DeleteServiceRequest) -> shapes.DeleteServiceResponse:
        service = common.resolve(ctx, SERVICE, params["serviceIdentifier"])
        if service_associations(ctx, service):
            raise common.conflict(SERVICE, service.id,
                                  f"Service {service.id} cannot be deleted while it is associated with a service "
                                  "network. Delete the service network service associations first.")
        for listener in ctx.tx.list(LISTENER.kind, parent=service.id):
            delete_listener_tree(ctx, listener)
        self.delete_attachments(ctx, service)
        common.touch(ctx, service, status="DELETE_IN_PROGRESS")
        return common.project(service.body, ("id", "arn", "name", "status"))

    def list_services(self, ctx: RequestContext, params: shapes.ListServicesRequest) -> shapes.ListServicesResponse:
        return common.list_kind(ctx, params, SERVICE, lambda s: common.project(s.body, _SUMMARY_MEMBERS),
                                shared=ram.LATTICE_TYPES["service"])
