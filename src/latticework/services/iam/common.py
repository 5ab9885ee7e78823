"""What every IAM operation shares: errors, ids, ARNs, lookups by name, policy documents, tags, paging.

Errors
    IAM's error codes differ from its shape names (``NoSuchEntity`` for ``NoSuchEntityException``);
    ``error`` builds a ``ServiceError`` whose HTTP status and fault side come from the botocore model.
    ``ValidationError`` (400) is the one code outside the model.

Names
    IAM names are unique per account whatever their case, and found whatever the case they are asked
    in (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-names):
    records are filed under the lower-cased name (``records.iam``); answers show the name as created.

Policy documents
    IAM answers documents URL-encoded (RFC 3986), as AWS does; the SDKs decode them
    (boto3 into a dict, Terraform with ``url.QueryUnescape``). Documents are stored as sent.
    Identity-based documents are checked with ``policy.parse_policy``; a ``Principal`` in one is
    refused, and so is a ``Resource`` in a trust policy, with AWS's messages.
"""

from __future__ import annotations

import functools
import json
import secrets
import string
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

from botocore.model import StructureShape

from latticework.api.context import RequestContext
from latticework.api.errors import ServiceError
from latticework.api.models import service_model
from latticework.api.paging import Pager
from latticework.policy import PolicyError, parse_policy
from latticework.records import iam
from latticework.records.iam_managed import ACCOUNT as AWS_ACCOUNT, ManagedPolicy, aws_policy
from latticework.services import tagging
from latticework.store import Record

MAX_TAGS = 50
# Quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
MAX_KEYS_PER_USER = 2
MAX_POLICY_VERSIONS = 5
MAX_MANAGED_POLICY_SIZE = 6144  # characters, whitespace not counted
MAX_ROLE_INLINE_SIZE = 10240  # all of a role's inline policies together
MAX_USER_INLINE_SIZE = 2048
MAX_ATTACHED_POLICIES = 10  # managed policies per user or role


# -- errors ------------------------------------------------------------------

@functools.cache
def _error_shapes() -> dict[str, dict]:
    """Error code -> the shape's ``error`` metadata (code, httpStatusCode, senderFault)."""
    return {s.error_code: s.metadata.get("error", {}) for s in service_model("iam").error_shapes
            if isinstance(s, StructureShape)}


def error(code: str, message: str) -> ServiceError:
    """An IAM error by its wire code; status and fault side come from the model."""
    if code == "ValidationError":
        return ServiceError(message, status=400, code=code)
    meta = _error_shapes()[code]  # a KeyError here is a typo in our code, never the client's
    err = ServiceError(message, status=meta.get("httpStatusCode", 400), code=code)
    err.sender_fault = bool(meta.get("senderFault", False))
    return err


def no_such_entity(message: str) -> ServiceError:
    return error("NoSuchEntity", message)


def malformed(message: str) -> ServiceError:
    return error("MalformedPolicyDocument", message)


# -- ids and ARNs ------------------------------------------------------------

_ID_ALPHABET = string.ascii_uppercase + "234567"  # AWS's unique ids and key ids are base32-like, upper case


def unique_id(prefix: str, length: int = 21) -> str:
    """``AIDA...``/``AROA...``/``ANPA...`` (21 characters), ``AKIA...``/``ASIA...`` (20)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length - len(prefix)))


def secret_key() -> str:
    """A 40-character secret access key, of the characters AWS's hold."""
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(secrets.choice(alphabet) for _ in range(40))


def iam_arn(account: str, resource: str) -> str:
    """IAM ARNs name no Region (IAM is global)."""
    return f"arn:aws:iam::{account}:{resource}"


def path_of(params: Mapping[str, Any]) -> str:
    return params.get("Path") or "/"


# -- lookups -----------------------------------------------------------------

NOUNS = {iam.USER: "user", iam.ROLE: "role"}


def find(ctx: RequestContext, kind: str, name: str) -> Record | None:
    """The caller's user or role of this name (any case)."""
    return ctx.tx.by_name(kind, name.lower())


def require(ctx: RequestContext, kind: str, name: str) -> Record:
    record = find(ctx, kind, name)
    if record is None:
        raise no_such_entity(f"The {NOUNS[kind]} with name {name} cannot be found.")
    return record


def find_in(ctx: RequestContext, kind: str, account: str, name: str) -> Record | None:
    """A user or role of another account (cross-account role assumption), by name."""
    wanted = name.lower()
    return next((r for r in ctx.tx.list(kind, account=account) if r.name == wanted), None)


# -- managed policies -------------------------------------------------------

def customer_policy(ctx: RequestContext, arn: str) -> Record | None:
    record = ctx.tx.by_arn(arn)
    if record is None or record.kind != iam.POLICY or record.account != ctx.account:
        return None
    return record


def managed(ctx: RequestContext, arn: str) -> Record | ManagedPolicy | None:
    """A customer managed policy of the caller's account, or an AWS managed one."""
    return aws_policy(arn) or customer_policy(ctx, arn)


def is_aws_managed(arn: str) -> bool:
    return arn.split(":")[4:5] == [AWS_ACCOUNT]


# -- policy documents --------------------------------------------------------

def encoded(document: str) -> str:
    """A document as IAM answers it: URL-encoded."""
    return quote(document, safe="")


def _json(document: str) -> Any:
    try:
        return json.loads(document)
    except ValueError:
        raise malformed("This policy contains invalid Json") from None


def check_identity_policy(document: str) -> None:
    """An identity-based policy (inline, managed, session): IAM's grammar, and no principal."""
    statements = _statements(_json(document))
    if any(isinstance(s, dict) and ("Principal" in s or "NotPrincipal" in s) for s in statements):
        raise malformed("Policy document should not specify a principal.")
    try:
        parse_policy(document, require_principal=False)
    except PolicyError as exc:
        raise malformed(exc.message) from None


def check_trust_policy(document: str) -> Any:
    """A role's trust policy: principals, ``sts:`` actions, no resource. Returns the parsed JSON."""
    raw = _json(document)
    statements = _statements(raw)
    for statement in statements:
        if isinstance(statement, dict) and ("Resource" in statement or "NotResource" in statement):
            raise malformed("Has prohibited field Resource")
        for action in _strings(statement.get("Action") if isinstance(statement, dict) else None):
            if not action.lower().startswith("sts:"):
                raise malformed("AssumeRole policy may only specify STS AssumeRole actions.")
    try:
        # The grammar is the one resource policies share; trust policies name no resource, the role is it.
        parse_policy(json.dumps(_with_resource(raw)), require_principal=True)
    except PolicyError as exc:
        raise malformed(exc.message) from None
    return raw


def _statements(raw: Any) -> list:
    if not isinstance(raw, dict):
        raise malformed("Syntax errors in policy.")
    statements = raw.get("Statement")
    return statements if isinstance(statements, list) else [statements]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _with_resource(raw: dict) -> dict:
    statements = raw.get("Statement")
    listed = statements if isinstance(statements, list) else [statements]
    return {**raw, "Statement": [{**s, "Resource": "*"} if isinstance(s, dict) else s for s in listed]}


def size_without_whitespace(document: str) -> int:
    return sum(1 for c in document if not c.isspace())


def trust_principals(raw: Any) -> list[str]:
    """Every ``AWS`` principal a trust policy names (for the existence check IAM makes when saving)."""
    found = []
    for statement in _statements(raw):
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if isinstance(principal, dict):
            found += _strings(principal.get("AWS"))
    return found


# -- tags ---------------------------------------------------------------------

def clean_tags(tags: Sequence[Mapping[str, Any]] | None, noun: str) -> list[dict]:
    """Tags of a request: ``aws:`` keys reserved, keys unique whatever their case, at most 50."""
    out: dict[str, dict] = {}
    for tag in tags or []:
        key = tag["Key"]
        if tagging.reserved(key):
            raise error("InvalidInput", f"{noun} tag keys cannot start with aws:")
        if key.lower() in out:
            raise error("InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        out[key.lower()] = {"Key": key, "Value": tag.get("Value", "")}
    if len(out) > MAX_TAGS:
        raise error("LimitExceeded", f"Cannot exceed quota for TagsPerResource: {MAX_TAGS}")
    return list(out.values())


def add_tags(ctx: RequestContext, record: Record, tags: Sequence[Mapping[str, Any]], noun: str) -> None:
    """Add tags to a record (a key already there, in any case, takes the new value)."""
    merged = {t["Key"].lower(): t for t in record.body.get("Tags") or []}
    merged.update({t["Key"].lower(): t for t in clean_tags(tags, noun)})
    if len(merged) > MAX_TAGS:
        raise error("LimitExceeded", f"Cannot exceed quota for TagsPerResource: {MAX_TAGS}")
    record.body["Tags"] = list(merged.values())
    ctx.tx.put(record)


def remove_tags(ctx: RequestContext, record: Record, keys: Iterable[str]) -> None:
    doomed = {k.lower() for k in keys}
    record.body["Tags"] = [t for t in record.body.get("Tags") or [] if t["Key"].lower() not in doomed]
    ctx.tx.put(record)


# -- paging -------------------------------------------------------------------

PAGER = Pager(token="Marker", next_token="Marker", size="MaxItems", default=100,
              invalid=lambda: error("ValidationError", "Invalid Marker."))


def page(items: Sequence[Any], params: Mapping[str, Any], key: str) -> Any:
    """One page of ``items`` under ``key``, with ``IsTruncated`` (and ``Marker`` when it is)."""
    result = PAGER.slice(items, params, key)
    result["IsTruncated"] = "Marker" in result
    return result


def with_path_prefix(records: Iterable[Record], params: Mapping[str, Any]) -> list[Record]:
    prefix = params.get("PathPrefix") or "/"
    return [r for r in records if r.body.get("Path", "/").startswith(prefix)]


# -- principals' policies ---------------------------------------------------------------

def inline_policies(record: Record) -> dict[str, str]:
    return record.internal.setdefault("Policies", {})


def attached(record: Record) -> list[str]:
    return record.internal.setdefault("Attached", [])
