"""Domain verifications: proving ownership of a custom domain for resource configurations.

``StartDomainVerification`` answers ``PENDING`` and a TXT record
(``txtMethodConfig``) the owner publishes in public DNS; AWS then polls DNS
and moves the verification to ``VERIFIED`` (or ``VERIFICATION_TIMED_OUT``).

Decisions where AWS's behaviour is unpublished:

- The TXT record's format is not documented. We answer the name
  ``_lattice-<16 hex>.<domain>`` and the value ``vpc-lattice:<32 hex>``
  (PrivateLink's analogous flow uses ``_<prefix>`` names and ``vpce:<random>``
  values).
- Latticework has no public DNS to poll. As for endpoint services' private
  DNS names (``services.ec2.endpoint_services``), "public DNS" is the local
  file ``public-dns.txt`` in the state directory (``$LATTICEWORK_PUBLIC_DNS``
  names another): a line ``<txtMethodConfig.name> TXT "<txtMethodConfig.value>"``
  publishes the record. AWS polls; here the record is looked up when a write
  relies on the verification (``refresh``): creating a resource configuration
  that names it, associating such a configuration with a service network,
  and creating or updating a service-network VPC association whose network
  offers one. Found, the verification turns ``VERIFIED`` (with
  ``lastVerifiedTime``) for good; not found, it stays ``PENDING`` (it is never
  reported ``VERIFIED`` without proof, and never times out). ``PENDING`` is a
  verification status, not a lifecycle transition, so the record carries no
  framework status and is never settled.
- A second verification of the same domain name in an account and Region is a
  ``ConflictException`` (the only conflict the operation can sensibly have).
- The quota of 5 per Region answers ``ServiceQuotaExceededException`` (402)
  with the code of ``latticework.quotas``.
- Deleting a verification leaves resource configurations that reference it in
  place; their ``domainVerificationStatus`` is then no longer reported.
"""

from __future__ import annotations

import secrets

from latticework.api.context import RequestContext
from latticework.services.ec2 import endpoint_services
from latticework.services.lattice import api_types as shapes
from latticework.services.lattice import common
from latticework.services.lattice.common import DOMAIN_VERIFICATION
from latticework.services.lattice.quotas import check_quota
from latticework.store import Record

_START = ("id", "arn", "domainName", "status", "txtMethodConfig")
_GET = _START + ("createdAt", "lastVerifiedTime", "tags")


def _txt_record(domain: str) -> dict:
    return {"name": f"_lattice-{secrets.token_hex(8)}.{domain.rstrip('.')}",
            "value": f"vpc-lattice:{secrets.token_hex(16)}"}


def _check_quota(ctx: RequestContext) -> None:
    check_quota(ctx, "domain-verifications", ctx.tx.count(DOMAIN_VERIFICATION.kind), DOMAIN_VERIFICATION)


def _insert(ctx: RequestContext, record: Record) -> Record:
    assert record.name is not None  # a verification is named by its domain
    existing = ctx.tx.by_name(DOMAIN_VERIFICATION.kind, record.name)
    if existing is not None:
        raise common.conflict(DOMAIN_VERIFICATION, existing.id,
                              f"A domain verification for {record.name} already exists ({existing.id}).")
    return common.insert(ctx, record, DOMAIN_VERIFICATION)


def refresh(ctx: RequestContext, dv_id: str | None, account: str | None = None) -> None:
    """Turn a ``PENDING`` verification ``VERIFIED`` once its TXT record is published (see the module docstring)."""
    record = ctx.tx.get(DOMAIN_VERIFICATION.kind, dv_id, account=account) if dv_id else None
    if record is None or record.body["status"] != "PENDING":
        return
    txt = record.body["txtMethodConfig"]
    if endpoint_services.published_txt(ctx, txt["name"], txt["value"]):
        record.body.update(status="VERIFIED", lastVerifiedTime=ctx.timestamp())
        ctx.tx.put(record)


class DomainVerificationOps:
    def start_domain_verification(
            self, ctx: RequestContext, params: shapes.StartDomainVerificationRequest
    ) -> shapes.StartDomainVerificationResponse:
        domain = params["domainName"].lower().rstrip(".")
        _check_quota(ctx)
        body = {"domainName": params["domainName"], "status": "PENDING", "txtMethodConfig": _txt_record(domain),
                "tags": common.check_tags(params.get("tags"))}
        record = common.new_record(ctx, DOMAIN_VERIFICATION, body, name=domain)
        _insert(ctx, record)
        return common.project(record.body, _START)

    def get_domain_verification(self, ctx: RequestContext,
                                params: shapes.GetDomainVerificationRequest) -> shapes.GetDomainVerificationResponse:
        record = common.resolve(ctx, DOMAIN_VERIFICATION, params["domainVerificationIdentifier"])
        return common.project(record.body, _GET)

    def delete_domain_verification(
            self, ctx: RequestContext, params: shapes.DeleteDomainVerificationRequest
    ) -> shapes.DeleteDomainVerificationResponse:
        record = common.resolve(ctx, DOMAIN_VERIFICATION, params["domainVerificationIdentifier"])
        ctx.tx.delete(DOMAIN_VERIFICATION.kind, record.id)
        return {}

    def list_domain_verifications(
            self, ctx: RequestContext, params: shapes.ListDomainVerificationsRequest
    ) -> shapes.ListDomainVerificationsResponse:
        return common.list_kind(ctx, params, DOMAIN_VERIFICATION, lambda r: common.project(r.body, _GET))
