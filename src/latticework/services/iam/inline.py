"""Inline policies of users and roles: Put/Get/Delete/List{User,Role}Policy.

An inline policy lives in its user's or role's record (``internal["Policies"]``: name -> document),
so it goes with it. Putting a name again replaces the document. The documents of one principal
together are limited in size, not counting whitespace: 10,240 characters for a role, 2,048 for a
user (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-entity-length).
"""

from __future__ import annotations

from typing import Any

from latticework.api.context import RequestContext
from latticework.records import iam
from latticework.services.iam import api_types as shapes
from latticework.services.iam import common as c
from latticework.store import Record

LIMITS = {iam.USER: c.MAX_USER_INLINE_SIZE, iam.ROLE: c.MAX_ROLE_INLINE_SIZE}
NAME_MEMBER = {iam.USER: "UserName", iam.ROLE: "RoleName"}


def _put(ctx: RequestContext, kind: str, params: Any) -> None:
    principal = c.require(ctx, kind, params[NAME_MEMBER[kind]])
    document = params["PolicyDocument"]
    c.check_identity_policy(document)
    policies = c.inline_policies(principal)
    policies[params["PolicyName"]] = document
    total = sum(c.size_without_whitespace(d) for d in policies.values())
    if total > LIMITS[kind]:
        noun = c.NOUNS[kind]
        raise c.error("LimitExceeded", f"Maximum policy size of {LIMITS[kind]} bytes exceeded for {noun} "
                      f"{principal.body[NAME_MEMBER[kind]]}")
    ctx.tx.put(principal)


def _document(ctx: RequestContext, kind: str, params: Any) -> tuple[Record, str]:
    principal = c.require(ctx, kind, params[NAME_MEMBER[kind]])
    name = params["PolicyName"]
    document = c.inline_policies(principal).get(name)
    if document is None:
        raise c.no_such_entity(f"The {c.NOUNS[kind]} policy with name {name} cannot be found.")
    return principal, document


def _get(ctx: RequestContext, kind: str, params: Any) -> Any:
    principal, document = _document(ctx, kind, params)
    member = NAME_MEMBER[kind]
    return {member: principal.body[member], "PolicyName": params["PolicyName"],
            "PolicyDocument": c.encoded(document)}


def _delete(ctx: RequestContext, kind: str, params: Any) -> None:
    principal, _ = _document(ctx, kind, params)
    del c.inline_policies(principal)[params["PolicyName"]]
    ctx.tx.put(principal)


def _list(ctx: RequestContext, kind: str, params: Any) -> Any:
    principal = c.require(ctx, kind, params[NAME_MEMBER[kind]])
    return c.page(sorted(c.inline_policies(principal)), params, "PolicyNames")


class InlinePolicyOps:
    def put_user_policy(self, ctx: RequestContext, params: shapes.PutUserPolicyRequest) -> shapes.NoOutput:
        _put(ctx, iam.USER, params)
        return {}

    def get_user_policy(self, ctx: RequestContext, params: shapes.GetUserPolicyRequest
                        ) -> shapes.GetUserPolicyResponse:
        return _get(ctx, iam.USER, params)

    def delete_user_policy(self, ctx: RequestContext, params: shapes.DeleteUserPolicyRequest) -> shapes.NoOutput:
        _delete(ctx, iam.USER, params)
        return {}

    def list_user_policies(self, ctx: RequestContext, params: shapes.ListUserPoliciesRequest
                           ) -> shapes.ListUserPoliciesResponse:
        return _list(ctx, iam.USER, params)

    def put_role_policy(self, ctx: RequestContext, params: shapes.PutRolePolicyRequest) -> shapes.NoOutput:
        _put(ctx, iam.ROLE, params)
        return {}

    def get_role_policy(self, ctx: RequestContext, params: shapes.GetRolePolicyRequest
                        ) -> shapes.GetRolePolicyResponse:
        return _get(ctx, iam.ROLE, params)

    def delete_role_policy(self, ctx: RequestContext, params: shapes.DeleteRolePolicyRequest) -> shapes.NoOutput:
        _delete(ctx, iam.ROLE, params)
        return {}

    def list_role_policies(self, ctx: RequestContext, params: shapes.ListRolePoliciesRequest
                           ) -> shapes.ListRolePoliciesResponse:
        return _list(ctx, iam.ROLE, params)
