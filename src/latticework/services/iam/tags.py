"""Tags of users, roles and customer managed policies: Tag/Untag/List{User,Role,Policy}Tags.

Tags live in the resource's body (``Tags: [{"Key", "Value"}]``, IAM's shape). Keys are unique
whatever their case (tagging ``env`` when ``Env`` is there replaces it); ``aws:`` keys are AWS's;
at most 50 per resource.
"""

from __future__ import annotations

from typing import Any

from latticework.api.context import RequestContext
from latticework.records import iam
from latticework.services.iam import api_types as shapes
from latticework.services.iam import common as c
from latticework.store import Record


def _policy(ctx: RequestContext, arn: str) -> Record:
    record = c.customer_policy(ctx, arn)
    if record is None:
        raise c.no_such_entity(f"Policy {arn} was not found.")
    return record


def _tags(record: Record, params: Any) -> Any:
    return c.page(list(record.body.get("Tags") or []), params, "Tags")


class TagOps:
    def tag_user(self, ctx: RequestContext, params: shapes.TagUserRequest) -> shapes.NoOutput:
        c.add_tags(ctx, c.require(ctx, iam.USER, params["UserName"]), params["Tags"], "User")
        return {}

    def untag_user(self, ctx: RequestContext, params: shapes.UntagUserRequest) -> shapes.NoOutput:
        c.remove_tags(ctx, c.require(ctx, iam.USER, params["UserName"]), params["TagKeys"])
        return {}

    def list_user_tags(self, ctx: RequestContext, params: shapes.ListUserTagsRequest) -> shapes.ListUserTagsResponse:
        return _tags(c.require(ctx, iam.USER, params["UserName"]), params)

    def tag_role(self, ctx: RequestContext, params: shapes.TagRoleRequest) -> shapes.NoOutput:
        c.add_tags(ctx, c.require(ctx, iam.ROLE, params["RoleName"]), params["Tags"], "Role")
        return {}

    def untag_role(self, ctx: RequestContext, params: shapes.UntagRoleRequest) -> shapes.NoOutput:
        c.remove_tags(ctx, c.require(ctx, iam.ROLE, params["RoleName"]), params["TagKeys"])
        return {}

    def list_role_tags(self, ctx: RequestContext, params: shapes.ListRoleTagsRequest) -> shapes.ListRoleTagsResponse:
        return _tags(c.require(ctx, iam.ROLE, params["RoleName"]), params)

    def tag_policy(self, ctx: RequestContext, params: shapes.TagPolicyRequest) -> shapes.NoOutput:
        c.add_tags(ctx, _policy(ctx, params["PolicyArn"]), params["Tags"], "Policy")
        return {}

    def untag_policy(self, ctx: RequestContext, params: shapes.UntagPolicyRequest) -> shapes.NoOutput:
        c.remove_tags(ctx, _policy(ctx, params["PolicyArn"]), params["TagKeys"])
        return {}

    def list_policy_tags(self, ctx: RequestContext,
                         params: shapes.ListPolicyTagsRequest) -> shapes.ListPolicyTagsResponse:
        return _tags(_policy(ctx, params["PolicyArn"]), params)
