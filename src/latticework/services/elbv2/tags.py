"""AddTags, RemoveTags and DescribeTags over load balancers, target groups and listeners.

Each ARN names its kind (``loadbalancer/``, ``targetgroup/``, ``listener/``);
a missing resource answers that kind's ``...NotFound``. A resource holds at
most 50 tags (``TooManyTags``); a request repeating a key is
``DuplicateTagKeys``.
"""

from __future__ import annotations

from latticework.api.context import RequestContext
from latticework.services import tagging
from latticework.services.elbv2 import api_types as shapes
from latticework.store import Record
from latticework.services.elbv2 import common as c

KIND_OF_WORD = {"loadbalancer": c.LOAD_BALANCER, "targetgroup": c.TARGET_GROUP, "listener": c.LISTENER}


def _resource(ctx: RequestContext, value: str) -> Record:
    word = c.arn_kind(value)
    if word is None:
        raise c.validation(f"'{value}' is not a valid resource ARN")
    return c.require(ctx, KIND_OF_WORD[word], value)


class TagOps:
    def add_tags(self, ctx: RequestContext, params: shapes.AddTagsInput) -> shapes.AddTagsOutput:
        new = c.clean_tags(params["Tags"])
        for value in params["ResourceArns"]:
            record = _resource(ctx, value)
            tagging.add(ctx, record, new, c.MAX_TAGS, lambda: c.error(
                "TooManyTags", f"The quota for the number of tags per resource ({c.MAX_TAGS}) would be exceeded "
                f"for '{value}'"))
        return {}

    def remove_tags(self, ctx: RequestContext, params: shapes.RemoveTagsInput) -> shapes.RemoveTagsOutput:
        doomed = set(params["TagKeys"])
        for value in params["ResourceArns"]:
            record = _resource(ctx, value)
            record.body["Tags"] = [t for t in record.body.get("Tags") or [] if t["Key"] not in doomed]
            ctx.tx.put(record)
        return {}

    def describe_tags(self, ctx: RequestContext, params: shapes.DescribeTagsInput) -> shapes.DescribeTagsOutput:
        if len(params["ResourceArns"]) > 20:
            raise c.validation("At most 20 resource ARNs can be described at once")
        return {"TagDescriptions": [{"ResourceArn": value, "Tags": _resource(ctx, value).body.get("Tags") or []}
                                    for value in params["ResourceArns"]]}
