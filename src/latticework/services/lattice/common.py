"""What every VPC Lattice operation shares: ids, ARNs, identifiers, errors, paging, tags.

Resource kinds
    Each Lattice resource is a store ``Record`` of one ``Kind``: its record
    kind, id prefix, ARN path, and the ``resourceType`` string used in
    ``ResourceNotFoundException``/``ConflictException``. Ids are the prefix +
    17 lowercase hex characters (all observed AWS ids are hex).

Identifiers
    ``*Identifier`` members accept the id or the full ARN (Terraform sends
    both). ``resolve`` returns the record or raises AWS's 404. A resource of
    another account is only found through its ARN (sharing arrives later; for
    now an ARN of another account is not found, as AWS answers for an
    unshared one).

Lifecycle
    Creates store ``CREATE_IN_PROGRESS`` and answer it; the dispatcher then
    hands the record to ``LatticeProvider.settle`` which makes it ``ACTIVE``
    (and deletes what is ``DELETE_IN_PROGRESS``) in the next transaction,
    before the client's next call is served.

Pagination
    ``nextToken`` is opaque to clients: base64 of the last item's ordering key
    (created revision, id) and a digest of the list's filters, so a token
    replayed against other filters is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from latticework.api.context import RequestContext
from latticework.services.lattice.api_types import (
    ConflictException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ValidationException,
)
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
        return self.prefix + secrets.token_hex(9)[:17]


SERVICE_NETWORK = Kind("servicenetwork", "sn-", "servicenetwork/", "SERVICE_NETWORK")
SERVICE = Kind("service", "svc-", "service/", "SERVICE")
LISTENER = Kind("listener", "listener-", "listener/", "LISTENER")
RULE = Kind("rule", "rule-", "rule/", "RULE")
TARGET_GROUP = Kind("targetgroup", "tg-", "targetgroup/", "TARGET_GROUP")
TARGET = Kind("target", "", "", "TARGET")
SN_VPC_ASSOCIATION = Kind("snva", "snva-", "servicenetworkvpcassociation/", "SERVICE_NETWORK_VPC_ASSOCIATION")
SN_SERVICE_ASSOCIATION = Kind("snsa", "snsa-", "servicenetworkserviceassociation/",
                              "SERVICE_NETWORK_SERVICE_ASSOCIATION")
SN_RESOURCE_ASSOCIATION = Kind("snra", "snra-", "servicenetworkresourceassociation/",
                               "SERVICE_NETWORK_RESOURCE_ASSOCIATION")
RESOURCE_GATEWAY = Kind("resourcegateway", "rgw-", "resourcegateway/", "RESOURCE_GATEWAY")
RESOURCE_CONFIGURATION = Kind("resourceconfiguration", "rcfg-", "resourceconfiguration/", "RESOURCE_CONFIGURATION")
RESOURCE_ENDPOINT_ASSOCIATION = Kind("rea", "rea-", "resourceendpointassociation/",
                                     "RESOURCE_ENDPOINT_ASSOCIATION")
ACCESS_LOG_SUBSCRIPTION = Kind("accesslogsubscription", "als-", "accesslogsubscription/",
                               "ACCESS_LOG_SUBSCRIPTION")
DOMAIN_VERIFICATION = Kind("domainverification", "dv-", "domainverification/", "DOMAIN_VERIFICATION")
AUTH_POLICY = Kind("authpolicy", "", "", "AUTH_POLICY")
RESOURCE_POLICY = Kind("resourcepolicy", "", "", "RESOURCE_POLICY")

KINDS = {k.prefix: k for k in (
    SERVICE_NETWORK, SERVICE, LISTENER, RULE, TARGET_GROUP, SN_VPC_ASSOCIATION, SN_SERVICE_ASSOCIATION,
    SN_RESOURCE_ASSOCIATION, RESOURCE_GATEWAY, RESOURCE_CONFIGURATION, RESOURCE_ENDPOINT_ASSOCIATION,
    ACCESS_LOG_SUBSCRIPTION, DOMAIN_VERIFICATION,
)}


# -- ids, ARNs, time -----------------------------------------------------------

def arn(ctx: RequestContext, path: str, account: str | None = None) -> str:
    return f"arn:{ctx.partition}:vpc-lattice:{ctx.region}:{account or ctx.account}:{path}"


def kind_arn(ctx: RequestContext, kind: Kind, id: str) -> str:
    return arn(ctx, kind.arn_path + id)


def now(ctx: RequestContext) -> str:
    """The call's timestamp as stored in bodies (ISO-8601, UTC, milliseconds)."""
    return ctx.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def resolve(ctx: RequestContext, kind: Kind, identifier: str, *, parent: str | None = None,
            visible: Callable[[Record], bool] | None = None) -> Record:
    """The record an ``*Identifier`` names (id or ARN) in the caller's account, or a 404."""
    id, account = _id_from_identifier(identifier)
    record = None
    if account in (None, ctx.account):
        record = ctx.tx.get(kind.kind, id)
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
               name: str | None = None, arn_value: str | None = None, status: str | None = None) -> Record:
    id = id or kind.new_id()
    stamp = now(ctx)
    body = {"id": id, "arn": arn_value or kind_arn(ctx, kind, id), "createdAt": stamp, "lastUpdatedAt": stamp,
            **body}
    return Record(kind=kind.kind, id=id, account=ctx.account, region=ctx.region, body=body, parent=parent,
                  name=name, arn=body["arn"], status=status)


def touch(ctx: RequestContext, record: Record, **changes: Any) -> Record:
    """Apply ``changes`` to the body, stamp ``lastUpdatedAt`` and store."""
    record.body.update({k: v for k, v in changes.items()})
    record.body = {k: v for k, v in record.body.items() if v is not None}
    record.body["lastUpdatedAt"] = now(ctx)
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


def _decode_token(token: str, digest: str) -> tuple[int, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        if raw["f"] != digest:
            raise ValueError
        return int(raw["r"]), str(raw["i"])
    except (ValueError, KeyError, TypeError):
        raise validation("Invalid nextToken", ("nextToken", "The token is not valid for this request"),
                         reason="other") from None


def _encode_token(record: Record, digest: str) -> str:
    raw = json.dumps({"r": record.created_rev, "i": record.id, "f": digest}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def paginate(ctx: RequestContext, params: Mapping[str, Any],
             fetch: Callable[[tuple[int, str] | None, int], list[Record]],
             summarize: Callable[[Record], Any], filters: dict | None = None,
             keep: Callable[[Record], bool] | None = None) -> Any:
    """One page of a List*: ``fetch(after, limit)`` yields records in order; ``keep`` filters them.

    Typed ``Any``: it is the caller's ``List*Response`` (``items``, ``nextToken``).
    """
    limit = params.get("maxResults") or 100
    digest = _filters_digest(filters or {})
    after = _decode_token(params["nextToken"], digest) if params.get("nextToken") else None
    page: list[Record] = []
    while len(page) <= limit:
        batch = fetch(after, limit + 1)
        page.extend(r for r in batch if keep is None or keep(r))
        if len(batch) < limit + 1:
            break
        after = (batch[-1].created_rev, batch[-1].id)
    result: dict[str, Any] = {"items": [summarize(r) for r in page[:limit]]}
    if len(page) > limit:
        result["nextToken"] = _encode_token(page[limit - 1], digest)
    return result


def list_kind(ctx: RequestContext, params: Mapping[str, Any], kind: Kind, summarize: Callable[[Record], Any], *,
              parent: str | None = None, keep: Callable[[Record], bool] | None = None,
              filters: dict | None = None) -> Any:
    """Paginate the caller's records of ``kind`` (optionally under ``parent``)."""
    return paginate(
        ctx, params,
        lambda after, limit: ctx.tx.list(kind.kind, parent=parent, after=after, limit=limit),
        summarize, filters={"kind": kind.kind, "parent": parent, **(filters or {})}, keep=keep,
    )


# -- tags --------------------------------------------------------------------

def check_tags(tags: dict[str, str] | None) -> dict[str, str]:
    """Tags as given at create time; keys may not use the reserved ``aws:`` prefix."""
    tags = tags or {}
    reserved = [k for k in tags if k.lower().startswith("aws:")]
    if reserved:
        raise validation("Tag keys starting with 'aws:' are reserved for AWS use.",
                         ("tags", f"Tag key {reserved[0]} uses the reserved prefix aws:"))
    return dict(tags)


# -- cross-family queries ----------------------------------------------------
# Rule records (the listener's default rule included) keep their action in
# API shape, with every forward target group normalised to its id:
#   body["action"] = {"forward": {"targetGroups": [{"targetGroupIdentifier": "tg-...", "weight": N}]}}
# and body["serviceId"], body["serviceArn"], body["listenerId"].

def forwarded_target_groups(action: dict | None) -> list[str]:
    """Target group ids a rule action forwards to."""
    forward = (action or {}).get("forward") or {}
    return [tg["targetGroupIdentifier"] for tg in forward.get("targetGroups", [])]


register_links(RULE.kind, lambda body: forwarded_target_groups(body.get("action")))


def rules_forwarding_to(ctx: RequestContext, tg_id: str) -> list[Record]:
    """Rule records (default rules included) of the caller that forward to ``tg_id`` (read-only)."""
    return ctx.tx.linked(RULE.kind, tg_id)


def services_using_target_group(ctx: RequestContext, tg_id: str) -> list[str]:
    """ARNs of the services whose listeners or rules forward to ``tg_id`` (sorted, unique)."""
    return sorted({r.body["serviceArn"] for r in rules_forwarding_to(ctx, tg_id)})
