"""What every ELBv2 operation shares: errors, ARNs, lookups, tags, attributes, paging.

Records
    Load balancers are store records of kind ``loadbalancer`` (other families,
    such as VPC endpoint services, resolve them with ``tx.by_arn`` and read
    ``body["Type"]`` and ``body["AvailabilityZones"]``). Target groups and
    listeners are kinds ``elbv2-targetgroup`` and ``elbv2-listener`` (the bare
    names belong to VPC Lattice). Every body is the resource in the model's
    output shape plus ``Tags`` (``present`` keeps the shape's members); the
    record's internal fields hold its ``attributes``, a target group's
    registered ``targets`` and a load balancer's network ``interfaces``.
    Record ids are the 16 hex characters ending the ARN.

Names
    A load balancer's record name is ``<type>/<name>``: AWS keeps load balancer
    names unique per type (an ALB and an NLB may share one, which is why
    Terraform compares the type of a same-named load balancer before
    creating). Target group names are unique per account and Region.

Errors
    ELBv2's error codes differ from its shape names (``LoadBalancerNotFound``
    for ``LoadBalancerNotFoundException``); ``error`` builds a ``ServiceError``
    whose code and HTTP status come from the botocore model, so nothing is
    typed by hand but the message. ``ValidationError`` (400) is the one code
    outside the model.

Paging
    ``Marker``/``PageSize`` in, ``NextMarker`` out; the marker is an opaque
    base64 offset into the result (``api.paging``).
"""

from __future__ import annotations

import functools
import re
import secrets
from typing import Any, Callable, Mapping, Sequence

from botocore.model import StructureShape

from latticework.api.context import RequestContext
from latticework.api.errors import ServiceError
from latticework.api.models import service_model
from latticework.api.paging import Pager
from latticework.records import elbv2 as stored
from latticework.services import tagging
from latticework.store import Record

SIGNING_NAME = "elasticloadbalancing"
LOAD_BALANCER = stored.LOAD_BALANCER
TARGET_GROUP = stored.TARGET_GROUP
LISTENER = stored.LISTENER
MAX_TAGS = 50
# ARN path prefix per load balancer type.
TYPE_PATHS = {"application": "app", "network": "net", "gateway": "gwy"}


# -- errors ------------------------------------------------------------------

@functools.cache
def _error_shapes() -> dict[str, dict]:
    """Error code -> the shape's ``error`` metadata (code, httpStatusCode, senderFault)."""
    return {s.error_code: s.metadata.get("error", {}) for s in service_model("elbv2").error_shapes
            if isinstance(s, StructureShape)}  # all of them: error shapes are structures


def error(code: str, message: str) -> ServiceError:
    """An ELBv2 error by its wire code; status and fault side come from the model."""
    if code == "ValidationError":
        return ServiceError(message, status=400, code=code)
    meta = _error_shapes()[code]  # a KeyError here is a typo in our code, never the client's
    err = ServiceError(message, status=meta.get("httpStatusCode", 400), code=code)
    err.sender_fault = bool(meta.get("senderFault", False))
    return err


def validation(message: str) -> ServiceError:
    return error("ValidationError", message)


# -- ids and ARNs ------------------------------------------------------------

def new_id() -> str:
    return secrets.token_hex(8)


_ARN = re.compile(r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:(loadbalancer|targetgroup|listener)/.+$")


def arn_kind(value: str) -> str | None:
    """``loadbalancer``/``targetgroup``/``listener`` for a well-formed ELBv2 ARN, else None."""
    found = _ARN.match(value or "")
    return found.group(1) if found else None


def _owned(ctx: RequestContext, record: Record | None, kind: str) -> Record | None:
    """The record if it is of ``kind`` and belongs to the caller's account and Region."""
    if record is None or record.kind != kind or record.account != ctx.account or record.region != ctx.region:
        return None
    return record


def find(ctx: RequestContext, kind: str, value: str) -> Record | None:
    return _owned(ctx, ctx.tx.by_arn(value), kind) if value else None


NOT_FOUND = {
    LOAD_BALANCER: ("LoadBalancerNotFound", "Load balancer '{}' not found"),
    TARGET_GROUP: ("TargetGroupNotFound", "Target groups '{}' not found"),
    LISTENER: ("ListenerNotFound", "Listener '{}' not found"),
}
ARN_WORD = {LOAD_BALANCER: "loadbalancer", TARGET_GROUP: "targetgroup", LISTENER: "listener"}
ARN_NOUN = {LOAD_BALANCER: "load balancer", TARGET_GROUP: "target group", LISTENER: "listener"}


def check_arn(kind: str, value: str) -> None:
    """A malformed ARN is a ``ValidationError`` before any lookup."""
    if arn_kind(value) != ARN_WORD[kind]:
        raise validation(f"'{value}' is not a valid {ARN_NOUN[kind]} ARN")


def require(ctx: RequestContext, kind: str, value: str) -> Record:
    """The caller's record behind an ARN, or the kind's ``...NotFound`` error."""
    check_arn(kind, value)
    record = find(ctx, kind, value)
    if record is None:
        code, message = NOT_FOUND[kind]
        raise error(code, message.format(value))
    return record


def present(record: Record, shape_name: str) -> Any:
    """The body limited to the members of the model's output shape (typed ``Any``: that shape's type)."""
    shape = service_model("elbv2").shape_for(shape_name)
    assert isinstance(shape, StructureShape)  # an output shape
    members = shape.members
    return {k: v for k, v in record.body.items() if k in members and v is not None}


# -- tags --------------------------------------------------------------------

def clean_tags(tags: Sequence[Mapping[str, Any]] | None) -> list[dict]:
    """Tags of a request: keys unique, ``aws:`` reserved, at most 50."""
    out: dict[str, dict] = {}
    for tag in tags or []:
        key = tag["Key"]
        if key in out:
            raise error("DuplicateTagKeys", f"Tag key '{key}' is duplicated")
        if tagging.reserved(key):
            raise validation("Tag keys starting with 'aws:' are reserved for internal use")
        out[key] = {"Key": key, "Value": tag.get("Value", "")}
    if len(out) > MAX_TAGS:
        raise error("TooManyTags", f"The quota for the number of tags per resource ({MAX_TAGS}) would be exceeded")
    return list(out.values())


# -- attributes --------------------------------------------------------------

def merge_attributes(current: dict[str, str], changes: Sequence[Mapping[str, Any]],
                     check: Callable[[str, str], None]) -> dict:
    """Apply ``[{Key, Value}]`` to ``current`` after ``check(key, value)`` accepts each."""
    merged = dict(current)
    for item in changes:
        key, value = item.get("Key", ""), item.get("Value", "")
        check(key, value)
        merged[key] = value
    return merged


def as_list(attributes: dict[str, str]) -> list[Any]:
    """``[{Key, Value}]``: the caller's ``*Attribute`` list."""
    return [{"Key": k, "Value": v} for k, v in attributes.items()]


def check_bool(key: str, value: str) -> None:
    if value not in ("true", "false"):
        raise validation(f"The value of attribute '{key}' must be 'true' or 'false'")


def check_int(key: str, value: str, low: int, high: int) -> None:
    if not re.fullmatch(r"\d+", value or "") or not low <= int(value) <= high:
        raise validation(f"The value of attribute '{key}' must be an integer between {low} and {high}")


def check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise validation(f"The value of attribute '{key}' must be one of: {', '.join(choices)}")


# -- names and paging --------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")


def check_name(name: str, noun: str) -> None:
    """1-32 alphanumerics and hyphens, not starting or ending with a hyphen."""
    if len(name) > 32:
        raise validation(f"{noun} name cannot be longer than '32' characters")
    if name.startswith("-") or name.endswith("-"):
        raise validation(f"{noun} name '{name}' cannot begin or end with '-' character")
    if not _NAME.match(name):
        raise validation(f"{noun} name '{name}' can only contain characters that are alphanumeric "
                         "characters or hyphens(-)")


PAGER = Pager(token="Marker", next_token="NextMarker", size="PageSize", default=400,
              invalid=lambda: validation("The marker is not valid"))
# page(items, params, key): one page of ``items`` under ``key``.
page = PAGER.slice
