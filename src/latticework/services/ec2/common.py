"""What every EC2 operation shares: ids, errors, DryRun, filters, paging, tags.

Records
    EC2 resources are store records whose body is the resource in the model's
    output shape (``VpcId``, ``CidrBlock``, ``Tags``...), so Describe* calls
    answer bodies directly; what a kind keeps for itself (a VPC's default
    group, a subnet's allocated addresses...) is in the record's ``internal``
    fields, which no answer shows. Each kind has an id prefix (``vpc-``, ``subnet-``, ...)
    and ids are the prefix plus 17 lowercase hex characters; ``kinds`` lists
    every kind.

Filters
    ``Filter.N.Name`` / ``Value.M``: a resource matches when, for every filter,
    one of the filter's values matches one of the resource's values for that
    name (``*`` and ``?`` are wildcards, as in EC2). ``tag:<key>``, ``tag-key``
    and ``tag-value`` work for every kind from ``Tags``; the other names come
    from each kind's table of extractors. An unknown filter name is EC2's
    ``InvalidParameterValue``.

Paging
    ``MaxResults`` (where the model allows it) and an opaque ``NextToken``
    holding the offset into the filtered result (``api.paging``).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from latticework import formats
from latticework.api.context import RequestContext
from latticework.api.errors import ServiceError
from latticework.api.paging import Pager
from latticework.services import tagging
from latticework.store import Record


class Ec2Error(ServiceError):
    """An EC2 error: its code is the whole contract (``InvalidVpcID.NotFound``...)."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message, status=status, code=code)


def dry_run_guard(method: Callable) -> Callable:
    """``DryRun=true``: the call would have succeeded -> ``DryRunOperation`` (HTTP 412), nothing done."""

    @functools.wraps(method)
    def guarded(ctx: RequestContext, params: dict) -> dict:
        if params.get("DryRun"):
            raise Ec2Error("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", status=412)
        return method(ctx, params)

    return guarded


@dataclass(frozen=True)
class Ec2Kind:
    kind: str  # record kind
    prefix: str  # "vpc-"
    resource_type: str  # TagSpecification ResourceType, e.g. "vpc"
    not_found: str  # error code for a missing id, e.g. "InvalidVpcID.NotFound"
    noun: str  # for messages: "vpc ID"

    def new_id(self) -> str:
        return formats.new_id(self.prefix)

    def missing(self, id: str) -> Ec2Error:
        return Ec2Error(self.not_found, f"The {self.noun} '{id}' does not exist")


def get(ctx: RequestContext, kind: Ec2Kind, id: str, account: str | None = None) -> Record:
    """The caller's record ``id`` of ``kind``, or EC2's ``...NotFound`` error."""
    record = ctx.tx.get(kind.kind, id, account=account) if id else None
    if record is None:
        raise kind.missing(id)
    return record


# -- tags --------------------------------------------------------------------

def tags_for(params: Mapping[str, Any], resource_type: str) -> list[dict]:
    """Tags a create call asked for this resource type (``TagSpecification.N``)."""
    tags: list[dict] = []
    for spec in params.get("TagSpecifications") or []:
        if spec.get("ResourceType") == resource_type:
            tags.extend({"Key": t.get("Key"), "Value": t.get("Value", "")} for t in spec.get("Tags") or [])
    check_tags(tags)
    return tags


def check_tags(tags: list[dict]) -> None:
    for tag in tags:
        if not tag["Key"]:
            raise Ec2Error("InvalidParameterValue", "Tag keys must be specified and may not be empty")
        if tagging.reserved(tag["Key"]):
            raise Ec2Error("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")


def tag_dict(body: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in body.get("Tags") or []}


# -- filters -----------------------------------------------------------------

Extractor = Callable[[Mapping[str, Any]], Iterable[Any] | Any]


def _values(extracted: Any) -> list[str]:
    if extracted is None:
        return []
    if isinstance(extracted, (list, tuple, set)):
        return [_text(v) for v in extracted if v is not None]
    return [_text(extracted)]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@functools.cache
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def value_matches(pattern: str, actual: str) -> bool:
    if "*" in pattern or "?" in pattern:
        return bool(_wildcard(pattern).match(actual))
    return pattern == actual


def _extract(name: str, body: Mapping[str, Any], table: dict[str, Extractor]) -> list[str]:
    tags = tag_dict(body)
    if name.startswith("tag:"):
        key = name[4:]
        return [tags[key]] if key in tags else []
    if name == "tag-key":
        return list(tags)
    if name == "tag-value":
        return list(tags.values())
    if name not in table:
        raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
    return _values(table[name](body))


def matches(body: Mapping[str, Any], filters: Sequence[Mapping[str, Any]] | None, table: dict[str, Extractor]) -> bool:
    for flt in filters or []:
        actual = _extract(flt.get("Name") or "", body, table)
        if not any(value_matches(p, a) for p in flt.get("Values") or [] for a in actual):
            return False
    return True


# -- paging ------------------------------------------------------------------

PAGER = Pager(token="NextToken", next_token="NextToken", size="MaxResults", default=1000, maximum=1000,
              invalid=lambda: Ec2Error("InvalidNextToken", "The token is not valid"))
# page(items, params, key): one page of ``items`` under ``key``.
page = PAGER.slice


def describe(ctx: RequestContext, kind: Ec2Kind, params: Mapping[str, Any], ids_member: str, key: str,
             table: dict[str, Extractor], present: Callable[[Record], Any] | None = None) -> Any:
    """The usual ``Describe<Kind>s``: by ids (each must exist) and filters over what ``present`` shows
    (the body when not given), paged."""
    ids = params.get(ids_member) or []
    if ids:
        records = [get(ctx, kind, i) for i in dict.fromkeys(ids)]
    else:
        records = ctx.tx.list(kind.kind)
    show = present or (lambda r: r.body)
    items = [item for item in map(show, records) if matches(item, params.get("Filters"), table)]
    return page(items, params, key)
