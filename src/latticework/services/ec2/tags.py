"""CreateTags, DeleteTags and DescribeTags over every EC2 kind Latticework holds."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from latticework.api.context import RequestContext
from latticework.services.ec2 import api_types as shapes
from latticework.services import tagging
from latticework.services.ec2.common import Ec2Error, check_tags, page, value_matches
from latticework.services.ec2.kinds import KINDS, kind_of_id

MAX_TAGS = 50


def _record(ctx: RequestContext, resource_id: str):
    kind = kind_of_id(resource_id)
    record = ctx.tx.get(kind.kind, resource_id) if kind else None
    if record is None:
        if kind is None:
            raise Ec2Error("InvalidID", f"The ID '{resource_id}' is not valid")
        raise kind.missing(resource_id)
    return kind, record


class TagOps:
    def create_tags(self, ctx: RequestContext, params: shapes.CreateTagsRequest) -> shapes.NoOutput:
        new = [{"Key": t.get("Key"), "Value": t.get("Value", "")} for t in params.get("Tags") or []]
        check_tags(new)
        for resource_id in params["Resources"]:
            _, record = _record(ctx, resource_id)
            tagging.add(ctx, record, new, MAX_TAGS, lambda: Ec2Error(
                "TagLimitExceeded", f"The maximum number of tags ({MAX_TAGS}) for {resource_id} would be exceeded"))
        return {}

    def delete_tags(self, ctx: RequestContext, params: shapes.DeleteTagsRequest) -> shapes.NoOutput:
        # Without a Value the key goes whatever its value; with one, only on a match.
        doomed = params.get("Tags") or []
        for resource_id in params["Resources"]:
            _, record = _record(ctx, resource_id)
            record.body["Tags"] = [t for t in record.body.get("Tags") or [] if not _doomed(t, doomed)]
            ctx.tx.put(record)
        return {}

    def describe_tags(self, ctx: RequestContext, params: shapes.DescribeTagsRequest) -> shapes.DescribeTagsResult:
        rows = []
        for kind in KINDS.values():
            for record in ctx.tx.list(kind.kind):
                for tag in record.body.get("Tags") or []:
                    rows.append({"ResourceId": record.id, "ResourceType": kind.resource_type,
                                 "Key": tag["Key"], "Value": tag.get("Value", "")})
        fields = {"resource-id": "ResourceId", "resource-type": "ResourceType", "key": "Key", "value": "Value"}
        for flt in params.get("Filters") or []:
            if flt.get("Name") not in fields:
                raise Ec2Error("InvalidParameterValue", f"The filter '{flt.get('Name')}' is invalid")
            rows = [r for r in rows if any(value_matches(v, r[fields[flt["Name"]]]) for v in flt.get("Values") or [])]
        return page(rows, params, "Tags")


def _doomed(tag: dict, doomed: Sequence[Mapping[str, Any]]) -> bool:
    return any(d["Key"] == tag["Key"] and ("Value" not in d or d["Value"] == tag.get("Value", "")) for d in doomed)
