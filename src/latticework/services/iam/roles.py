"""IAM roles: trust policies, session duration, description, tags.

A role is an ``iam-role`` record (``records.iam``). Its trust policy (``AssumeRolePolicyDocument``)
is checked when saved: IAM's grammar, ``sts:`` actions only, no ``Resource``, and every IAM user or
role it names as an ``AWS`` principal must exist, else ``MalformedPolicyDocument`` "Invalid principal
in policy" (Terraform retries on that message while a principal it just made propagates). Account
principals (``111122223333``, ``arn:aws:iam::111122223333:root``) are taken as written.

``MaxSessionDuration`` is 3600 to 43200 seconds (the model's range), 3600 unless given; ``AssumeRole``
may ask for up to that. A role with inline or attached policies cannot be deleted
(``DeleteConflict``). Instance profiles are not served: ``ListInstanceProfilesForRole`` answers an
empty list for a role that exists (what it truthfully holds), which is what Terraform reads before
deleting a role.
"""

from __future__ import annotations

import re

from latticework.api.context import RequestContext
from latticework.records import iam
from latticework.services.iam import api_types as shapes
from latticework.services.iam import common as c
from latticework.store import NameTaken, Record

DEFAULT_MAX_SESSION = 3600
_PRINCIPAL = re.compile(r"arn:aws:iam::(\d{12}):(user|role)(/.*/|/)([^/]+)")


def role_shape(record: Record, tags: bool = True) -> shapes.Role:
    body = {k: v for k, v in record.body.items() if tags or k != "Tags"}
    body["AssumeRolePolicyDocument"] = c.encoded(body["AssumeRolePolicyDocument"])
    if not body.get("Tags"):
        body.pop("Tags", None)
    return body  # type: ignore[return-value]


def _principal_exists(ctx: RequestContext, arn: str) -> bool:
    found = _PRINCIPAL.fullmatch(arn)
    if found is None:
        return True  # accounts, sessions, wildcards: nothing to look up
    account, kind, path, name = found.groups()
    record = c.find_in(ctx, iam.USER if kind == "user" else iam.ROLE, account, name)
    return record is not None and record.body.get("Path", "/") == path


def check_trust(ctx: RequestContext, document: str) -> None:
    raw = c.check_trust_policy(document)
    for principal in c.trust_principals(raw):
        if not _principal_exists(ctx, principal):
            raise c.malformed(f'Invalid principal in policy: "AWS":"{principal}"')


class RoleOps:
    def create_role(self, ctx: RequestContext, params: shapes.CreateRoleRequest) -> shapes.CreateRoleResponse:
        name, path, document = params["RoleName"], c.path_of(params), params["AssumeRolePolicyDocument"]
        check_trust(ctx, document)
        role_id = c.unique_id("AROA")
        body: dict = {"Path": path, "RoleName": name, "RoleId": role_id,
                      "Arn": c.iam_arn(ctx.account, f"role{path}{name}"), "CreateDate": ctx.timestamp(),
                      "AssumeRolePolicyDocument": document,
                      "MaxSessionDuration": params.get("MaxSessionDuration") or DEFAULT_MAX_SESSION,
                      "RoleLastUsed": {}}
        if params.get("Description"):
            body["Description"] = params["Description"]
        tags = c.clean_tags(params.get("Tags"), "Role")
        if tags:
            body["Tags"] = tags
        record = Record(iam.ROLE, role_id, ctx.account, iam.GLOBAL, body, name=name.lower(), arn=body["Arn"],
                        internal={"Policies": {}, "Attached": []})
        try:
            ctx.tx.put(record)
        except NameTaken:
            raise c.error("EntityAlreadyExists", f"Role with name {name} already exists.") from None
        return {"Role": role_shape(record)}

    def get_role(self, ctx: RequestContext, params: shapes.GetRoleRequest) -> shapes.GetRoleResponse:
        return {"Role": role_shape(c.require(ctx, iam.ROLE, params["RoleName"]))}

    def list_roles(self, ctx: RequestContext, params: shapes.ListRolesRequest) -> shapes.ListRolesResponse:
        # ListRoles leaves tags and RoleLastUsed out (https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListRoles.html).
        roles = c.with_path_prefix(ctx.tx.list(iam.ROLE), params)
        shown = [{k: v for k, v in role_shape(r, tags=False).items() if k != "RoleLastUsed"} for r in roles]
        return c.page(shown, params, "Roles")

    def delete_role(self, ctx: RequestContext, params: shapes.DeleteRoleRequest) -> shapes.NoOutput:
        record = c.require(ctx, iam.ROLE, params["RoleName"])
        if c.inline_policies(record):
            raise c.error("DeleteConflict", "Cannot delete entity, must delete policies first.")
        if c.attached(record):
            raise c.error("DeleteConflict", "Cannot delete entity, must detach all policies first.")
        ctx.tx.delete(iam.ROLE, record.id)
        return {}

    def update_role(self, ctx: RequestContext, params: shapes.UpdateRoleRequest) -> shapes.UpdateRoleResponse:
        record = c.require(ctx, iam.ROLE, params["RoleName"])
        if "Description" in params:
            _describe(record, params["Description"])
        if params.get("MaxSessionDuration"):
            record.body["MaxSessionDuration"] = params["MaxSessionDuration"]
        ctx.tx.put(record)
        return {}

    def update_role_description(self, ctx: RequestContext, params: shapes.UpdateRoleDescriptionRequest
                                ) -> shapes.UpdateRoleDescriptionResponse:
        record = c.require(ctx, iam.ROLE, params["RoleName"])
        _describe(record, params["Description"])
        ctx.tx.put(record)
        return {"Role": role_shape(record)}

    def update_assume_role_policy(self, ctx: RequestContext,
                                  params: shapes.UpdateAssumeRolePolicyRequest) -> shapes.NoOutput:
        record = c.require(ctx, iam.ROLE, params["RoleName"])
        check_trust(ctx, params["PolicyDocument"])
        record.body["AssumeRolePolicyDocument"] = params["PolicyDocument"]
        ctx.tx.put(record)
        return {}

    def list_instance_profiles_for_role(self, ctx: RequestContext, params: shapes.ListInstanceProfilesForRoleRequest
                                        ) -> shapes.ListInstanceProfilesForRoleResponse:
        c.require(ctx, iam.ROLE, params["RoleName"])
        return {"InstanceProfiles": [], "IsTruncated": False}


def _describe(record: Record, description: str) -> None:
    """An empty description removes it (GetRole then shows none)."""
    if description:
        record.body["Description"] = description
    else:
        record.body.pop("Description", None)
