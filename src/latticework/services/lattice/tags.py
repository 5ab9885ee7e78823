"""Tags on any Lattice resource, by ARN.

Every taggable record keeps its tags in ``body["tags"]``; these operations
find the record by ARN in the caller's account (an unknown ARN is AWS's 404)
and merge or remove keys. A resource holds at most 200 tags.
"""

from __future__ import annotations

from latticework.api.context import RequestContext
from latticework.services.lattice import api_types as shapes
from latticework.services.lattice import common
from latticework.services.lattice.api_types import ResourceNotFoundException
from latticework.store import Record

MAX_TAGS = 200


def _taggable(ctx: RequestContext, resource_arn: str) -> Record:
    record = ctx.tx.by_arn(resource_arn)
    if record is None or record.account != ctx.account or record.region != ctx.region or "tags" not in record.body:
        raise ResourceNotFoundException(f"Resource {resource_arn} not found.", resourceId=resource_arn,
                                        resourceType="RESOURCE")
    return record


class TagOps:
    def list_tags_for_resource(self, ctx: RequestContext,
                               params: shapes.ListTagsForResourceRequest) -> shapes.ListTagsForResourceResponse:
        return {"tags": _taggable(ctx, params["resourceArn"]).body["tags"]}

    def tag_resource(self, ctx: RequestContext, params: shapes.TagResourceRequest) -> shapes.TagResourceResponse:
        record = _taggable(ctx, params["resourceArn"])
        tags = {**record.body["tags"], **common.check_tags(params["tags"])}
        if len(tags) > MAX_TAGS:
            raise common.validation(f"A resource can have at most {MAX_TAGS} tags.",
                                    ("tags", f"Member must have at most {MAX_TAGS} entries"))
        record.body["tags"] = tags
        ctx.tx.put(record)
        return {}

    def untag_resource(self, ctx: RequestContext, params: shapes.UntagResourceRequest) -> shapes.UntagResourceResponse:
        record = _taggable(ctx, params["resourceArn"])
        record.body["tags"] = {k: v for k, v in record.body["tags"].items() if k not in set(params["tagKeys"])}
        ctx.tx.put(record)
        return {}
