"""What every VPC Lattice operation shares: ids, ARNs, identifiers, errors, paging, tags.

Resource kinds
    Each Lattice resource is a store ``Record`` of one ``Kind``: its record
    kind, id prefix, ARN path, and the ``resourceType`` string used in
    ``ResourceNotFoundException``/``ConflictException``. Ids are the prefix +
    17 lowercase hex characters (all observed AWS ids are hex).

Identifiers
    ``*Identifier`` members accept the id or the full ARN (Terraform sends
    both). ``resolve`` returns the record or raises AWS's 404. A resource of
    another account is only found through its ARN, and only by the operations
    that pass ``shared=True`` (reading it, or associating one's own VPC,
    service, network or endpoint with it), while a RAM share reaches the
    caller (``records.ram.shared_with``). A bare id always names the caller's
    own resource, so another account's id is not found, shared or not; so is
    an ARN that no share (or no longer a share) reaches: AWS answers an
    unshared resource the same way as a missing one.

Lifecycle
    Creates store ``CREATE_IN_PROGRESS`` and answer it; the dispatcher then
    hands the record to ``LatticeProvider.settle`` which makes it ``ACTIVE``
    (and deletes what is ``DELETE_IN_PROGRESS``) in the next transaction,
    before the client's next call is served.

Pagination
    ``nextToken`` is opaque to clients: base64 of the last item's ordering key
    (created revision, id) and a digest of the list's filters, so a token
    replayed against other filters is refused (``api.paging`` cuts the page).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from latticework import formats
from latticework.api.context import RequestContext
from latticework.api.paging import Pager
from latticework.services import tagging
from latticework.services.lattice.api_types import (
    ConflictException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ValidationException,
)
from latticework.records import lattice as stored
from latticework.records import ram
from latticework.records.lattice import forwarded_target_groups
from latticework.store import NameTaken, Record, register_links

SERVICE_CODE = "vpc-lattice"
# The partition token of generated names, observed constant in the aws partition.
SERVICE_DNS_TOKEN = "7d67968"
RESOURCE_DNS_TOKEN = "4232ccc"


@dataclass(frozen=True)
class Kind:
    kind: str  # record kind in the store
    prefix: str  # id prefix, e.g. "svc-"
    arn_path: str  # ARN resource part before the id, e.g. "service/"
    resource_type: str  # resourceType in error bodies

    def new_id(self) -> str:
        return formats.new_id(self.prefix)


SERVICE_NETWORK = Kind(stored.SERVICE_NETWORK, "sn-", "servicenetwork/", "SERVICE_NETWORK")
SERVICE = Kind(stored.SERVICE, "svc-", "service/", "SERVICE")
LISTENER = Kind(stored.LISTENER, "listener-", "listener/", "LISTENER")
RULE = Kind(stored.RULE, "rule-", "rule/", "RULE")
TARGET_GROUP = Kind(stored.TARGET_GROUP, "tg-", "targetgroup/", "TARGET_GROUP")
TARGET = Kind(stored.TARGET, "", "", "TARGET")
SN_VPC_ASSOCIATION = Kind(stored.SN_VPC_ASSOCIATION, "snva-", "servicenetworkvpcassociation/",
                          "SERVICE_NETWORK_VPC_ASSOCIATION")
SN_SERVICE_ASSOCIATION = Kind(stored.SN_SERVICE_ASSOCIATION, "snsa-", "servicenetworkserviceassociation/",
                              "SERVICE_NETWORK_SERVICE_ASSOCIATION")
SN_RESOURCE_ASSOCIATION = Kind(stored.SN_RESOURCE_ASSOCIATION, "snra-", "servicenetworkresourceassociation/",
                               "SERVICE_NETWORK_RESOURCE_ASSOCIATION")
RESOURCE_GATEWAY = Kind(stored.RESOURCE_GATEWAY, "rgw-", "resourcegateway/", "RESOURCE_GATEWAY")
RESOURCE_CONFIGURATION = Kind(stored.RESOURCE_CONFIGURATION, "rcfg-", "resourceconfiguration/",
                              "RESOURCE_CONFIGURATION")
# Ids of VPC endpoint associations are EC2's (``DescribeVpcEndpointAssociations``).
SN_ENDPOINT_ASSOCIATION = Kind(stored.SN_VPC_ENDPOINT_ASSOCIATION, "vpce-rsc-asc-", "",
                               "SERVICE_NETWORK_VPC_ENDPOINT_ASSOCIATION")
RESOURCE_ENDPOINT_ASSOCIATION = Kind(stored.RESOURCE_ENDPOINT_ASSOCIATION, "rea-", "resourceendpointassociation/",
                                     "RESOURCE_ENDPOINT_ASSOCIATION")
ACCESS_LOG_SUBSCRIPTION = Kind(stored.ACCESS_LOG_SUBSCRIPTION, "als-", "accesslogsubscription/",
                               "ACCESS_LOG_SUBSCRIPTION")
DOMAIN_VERIFICATION = Kind(stored.DOMAIN_VERIFICATION, "dv-", "domainverification/", "DOMAIN_VERIFICATION")
AUTH_POLICY = Kind(stored.AUTH_POLICY, "", "", "AUTH_POLICY")
RESOURCE_POLICY = Kind(stored.RESOURCE_POLICY, "", "", "RESOURCE_POLICY")

KINDS = {k.prefix: k for k in (
    SERVICE_NETWORK, SERVICE, LISTENER, RULE, TARGET_GROUP, SN_VPC_ASSOCIATION, SN_SERVICE_ASSOCIATION,
    SN_RESOURCE_ASSOCIATION, RESOURCE_GATEWAY, RESOURCE_CONFIGURATION, RESOURCE_ENDPOINT_ASSOCIATION,
    ACCESS_LOG_SUBSCRIPTION, DOMAIN_VERIFICATION,
)}


# -- ARNs and zones --------------------------------------------------------------

def kind_arn(ctx: RequestContext, kind: Kind, id: str) -> str:
    return ctx.arn(SERVICE_CODE, kind.arn_path + id)


def hosted_zone_id(region: str) -> str:
    """A stable Route 53-style zone id per region for generated names (AWS uses one zone per region)."""
    digest = hashlib.sha256(f"vpc-lattice-svcs.{region}".encode()).hexdigest().upper()
    return "Z" + "".join(c for c in digest if c.isalnum())[:20]


# -- identifiers -------------------------------------------------------------

def _id_from_identifier(identifier: str) -> tuple[str, str | None]:
    """(id, account or None) from an id or an ARN."""
    if identifier.startswith("arn:"):
        parts = identifier.split(":", 5)
        account = parts[4] if len(parts) > 4 else None
        return identifier.rsplit("/", 1)[-1], account
    return identifier, None


def not_found(kind: Kind, identifier: str, message: str | None = None) -> ResourceNotFoundException:
    name = kind.resource_type.replace("_", " ").lower()
    return ResourceNotFoundException(
        message or f"The {name} {identifier} was not found.",
        resourceId=identifier, resourceType=kind.resource_type,
    )


def org_path(ctx: RequestContext, account: str | None = None) -> str | None:
    """The organization path (``o-.../r-.../ou-.../``) of ``account`` (the caller's by default), for RAM."""
    found = ctx.directory.organization_of(account or ctx.account) if ctx.directory is not None else None
    return found[1] if found else None


def shared_with_caller(ctx: RequestContext, record: Record) -> bool:
    """Whether another account's ``record`` reaches the caller through an active RAM share."""
    assert record.arn is not None  # shareable kinds always have an ARN
    return ram.shared_with(ctx.tx, ctx.account, record.arn, org_path(ctx))


def usable(ctx: RequestContext, record: Record) -> bool:
    """The caller's own record, or one shared with it."""
    return record.account == ctx.account or shared_with_caller(ctx, record)


def resolve(ctx: RequestContext, kind: Kind, identifier: str, *, parent: str | None = None,
            visible: Callable[[Record], bool] | None = None, shared: bool = False) -> Record:
    """The record an ``*Identifier`` names (id or ARN) in the caller's account, or a 404.

    ``shared``: an ARN of another account names that account's record when a share reaches the caller."""
    id, account = _id_from_identifier(identifier)
    record = None
    if account in (None, ctx.account):
        record = ctx.tx.get(kind.kind, id)
    elif shared:
        record = ctx.tx.get(kind.kind, id, account=account)
        if record is not None and (record.arn != identifier or not shared_with_caller(ctx, record)):
            record = None
    if record is None or (parent is not None and record.parent != parent) or (visible and not visible(record)):
        raise not_found(kind, identifier)
    return record


def conflict(kind: Kind, id: str, message: str) -> ConflictException:
    return ConflictException(message, resourceId=id, resourceType=kind.resource_type)


def quota_exceeded(kind: Kind, quota_code: str | None, message: str,
                   resource_id: str | None = None) -> ServiceQuotaExceededException:
    return ServiceQuotaExceededException(
        message, resourceType=kind.resource_type, serviceCode=SERVICE_CODE, quotaCode=quota_code,
        resourceId=resource_id,
    )


def validation(message: str, *fields: tuple[str, str], reason: str = "fieldValidationFailed") -> ValidationException:
    """A ``ValidationException`` for a semantic rule the model cannot express."""
    return ValidationException(message, reason=reason,
                               fieldList=[{"name": n, "message": m} for n, m in fields] or None)


def insert(ctx: RequestContext, record: Record, kind: Kind) -> Record:
    """Store a new record; a duplicate name is AWS's ConflictException."""
    try:
        return ctx.tx.put(record)
    except NameTaken:
        raise conflict(kind, record.name or record.id,
                       f"A {kind.resource_type.replace('_', ' ').lower()} with the name {record.name} "
                       "already exists.") from None


def new_record(ctx: RequestContext, kind: Kind, body: dict, *, id: str | None = None, parent: str | None = None,
               name: str | None = None, arn_value: str | None = None, status: str | None = None,
               internal: dict | None = None) -> Record:
    """A new record of ``kind``: ``body`` (the API's members) gets id, ARN and timestamps; ``internal``
    holds what the provider keeps beside them."""
    id = id or kind.new_id()
    stamp = ctx.timestamp()
    body = {"id": id, "arn": arn_value or kind_arn(ctx, kind, id), "createdAt": stamp, "lastUpdatedAt": stamp,
            **body}
    return Record(kind=kind.kind, id=id, account=ctx.account, region=ctx.region, body=body, parent=parent,
                  name=name, arn=body["arn"], status=status, internal=dict(internal or {}))


def touch(ctx: RequestContext, record: Record, **changes: Any) -> Record:
    """Apply ``changes`` to the body, stamp ``lastUpdatedAt`` and store."""
    record.body.update({k: v for k, v in changes.items()})
    record.body = {k: v for k, v in record.body.items() if v is not None}
    record.body["lastUpdatedAt"] = ctx.timestamp()
    if "status" in changes:
        record.status = changes["status"]
    return ctx.tx.put(record)


def project(body: Mapping[str, Any], members: Iterable[str]) -> Any:
    """The members of ``body`` an output shape lists (``None``s dropped).

    Typed ``Any``: it is the caller's response (or summary) type, whose
    members come from a stored JSON body.
    """
    return {m: body[m] for m in members if body.get(m) is not None}


# -- pagination --------------------------------------------------------------

def _filters_digest(filters: dict) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:12]


PAGER = Pager(token="nextToken", next_token="nextToken", size="maxResults", default=100,
              invalid=lambda: validation("Invalid nextToken", ("nextToken", "The token is not valid for this request"),
                                         reason="other"))


def _decode_token(token: str, digest: str) -> tuple[int, str]:
    raw = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
    if raw["f"] != digest:
        raise ValueError("the token was issued for other filters")
    return int(raw["r"]), str(raw["i"])


def _encode_token(position: tuple[int, str], digest: str) -> str:
    raw = json.dumps({"r": position[0], "i": position[1], "f": digest}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _position(record: Record) -> tuple[int, str]:
    return record.created_rev, record.id


def paginate(ctx: RequestContext, params: Mapping[str, Any],
             fetch: Callable[[tuple[int, str] | None, int], list[Record]],
             summarize: Callable[[Record], Any], filters: dict | None = None,
             keep: Callable[[Record], bool] | None = None) -> Any:
    """One page of a List*: ``fetch(after, limit)`` yields records in order; ``keep`` filters them.

    Typed ``Any``: it is the caller's ``List*Response`` (``items``, ``nextToken``).
    """
    digest = _filters_digest(filters or {})
    return PAGER.scan(params, "items", fetch, _position, summarize,
                      encode=lambda position: _encode_token(position, digest),
                      decode=lambda token: _decode_token(token, digest), keep=keep)


def list_kind(ctx: RequestContext, params: Mapping[str, Any], kind: Kind, summarize: Callable[[Record], Any], *,
              parent: str | None = None, keep: Callable[[Record], bool] | None = None,
              filters: dict | None = None, shared: str | None = None) -> Any:
    """Paginate the caller's records of ``kind`` (optionally under ``parent``); with ``shared`` (a RAM
    resource type), also the records of that type other accounts share with the caller, in the same order."""
    if shared is None:
        return paginate(
            ctx, params,
            lambda after, limit: ctx.tx.list(kind.kind, parent=parent, after=after, limit=limit),
            summarize, filters={"kind": kind.kind, "parent": parent, **(filters or {})}, keep=keep,
        )
    arns = set(ram.resources_shared_with(ctx.tx, ctx.account, shared, org_path(ctx)))

    def mine_or_shared(record: Record) -> bool:
        return (record.account == ctx.account or record.arn in arns) and (keep is None or keep(record))

    return paginate(
        ctx, params,
        lambda after, limit: ctx.tx.list(kind.kind, parent=parent, after=after, limit=limit,
                                         all_accounts=bool(arns)),
        summarize, filters={"kind": kind.kind, "parent": parent, **(filters or {})}, keep=mine_or_shared,
    )


# -- tags --------------------------------------------------------------------

def check_tags(tags: dict[str, str] | None) -> dict[str, str]:
    """Tags as given at create time; keys may not use the reserved ``aws:`` prefix."""
    tags = tags or {}
    reserved = [k for k in tags if tagging.reserved(k)]
    if reserved:
        raise validation("Tag keys starting with 'aws:' are reserved for AWS use.",
                         ("tags", f"Tag key {reserved[0]} uses the reserved prefix aws:"))
    return dict(tags)


# -- cross-family queries ----------------------------------------------------
# Rule records (the listener's default rule included) keep their action in
# API shape, with every forward target group normalised to its id:
#   body["action"] = {"forward": {"targetGroups": [{"targetGroupIdentifier": "tg-...", "weight": N}]}}
# and body["serviceId"], body["serviceArn"], body["listenerId"].

register_links(RULE.kind, lambda body: forwarded_target_groups(body.get("action")))


def rules_forwarding_to(ctx: RequestContext, tg_id: str) -> list[Record]:
    """Rule records (default rules included) of the caller that forward to ``tg_id`` (read-only)."""
    return ctx.tx.linked(RULE.kind, tg_id)


def services_using_target_group(ctx: RequestContext, tg_id: str) -> list[str]:
    """ARNs of the services whose listeners or rules forward to ``tg_id`` (sorted, unique)."""
    return sorted({r.body["serviceArn"] for r in rules_forwarding_to(ctx, tg_id)})
