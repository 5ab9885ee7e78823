"""Managed policies (customer and AWS managed), their versions, and attaching them to users and roles.

A customer managed policy is an ``iam-policy`` record holding up to five versions; the default
version is the one that counts. AWS managed policies (``records.iam_managed``) exist in every account,
read-only: they can be read, listed (``Scope`` ``AWS``/``All``) and attached, never changed.

What AWS refuses, refused the same way
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicy.html and neighbours): a sixth
version (``LimitExceeded``), deleting the default version or a policy still attached or still holding
other versions (``DeleteConflict``), attaching a policy that does not exist (``NoSuchEntity``), more
than 10 managed policies on one user or role (``LimitExceeded``). ``AttachmentCount`` counts the
users and roles of the caller's account the policy is attached to.
"""

from __future__ import annotations

from typing import Any, Iterable

from latticework.api.context import RequestContext
from latticework.records import iam
from latticework.records.iam_managed import POLICIES as AWS_POLICIES, ManagedPolicy
from latticework.services.iam import api_types as shapes
from latticework.services.iam import common as c
from latticework.store import NameTaken, Record


def _holders(ctx: RequestContext, arn: str) -> list[Record]:
    """The caller's users and roles the policy is attached to."""
    return [r for kind in (iam.USER, iam.ROLE) for r in ctx.tx.list(kind) if arn in c.attached(r)]


def _aws_shape(policy: ManagedPolicy, count: int) -> dict:
    return {"PolicyName": policy.name, "PolicyId": policy.policy_id, "Arn": policy.arn, "Path": policy.path,
            "DefaultVersionId": policy.version, "AttachmentCount": count, "PermissionsBoundaryUsageCount": 0,
            "IsAttachable": True, "Description": policy.description, "CreateDate": policy.created,
            "UpdateDate": policy.updated}


def _shape(ctx: RequestContext, policy: Record | ManagedPolicy, full: bool = True) -> Any:
    """The ``Policy`` shape; ``full`` for GetPolicy/CreatePolicy (ListPolicies leaves description and tags out)."""
    if isinstance(policy, ManagedPolicy):
        shown = _aws_shape(policy, len(_holders(ctx, policy.arn)))
    else:
        shown = {**policy.body, "AttachmentCount": len(_holders(ctx, policy.arn or ""))}
    if not full:
        shown.pop("Description", None)
        shown.pop("Tags", None)
    elif not shown.get("Tags"):
        shown.pop("Tags", None)
    return shown


def _require(ctx: RequestContext, arn: str) -> Record | ManagedPolicy:
    found = c.managed(ctx, arn)
    if found is None:
        raise c.no_such_entity(f"Policy {arn} was not found.")
    return found


def _require_customer(ctx: RequestContext, arn: str) -> Record:
    found = _require(ctx, arn)
    if isinstance(found, ManagedPolicy):
        raise c.error("InvalidInput", f"ARN {arn} is not valid: AWS managed policies cannot be changed.")
    return found


def _check_document(document: str) -> None:
    c.check_identity_policy(document)
    if c.size_without_whitespace(document) > c.MAX_MANAGED_POLICY_SIZE:
        raise c.error("LimitExceeded", f"Cannot exceed quota for PolicySize: {c.MAX_MANAGED_POLICY_SIZE}")


def _versions(policy: Record) -> list[dict]:
    return policy.internal.setdefault("Versions", [])


def _version_shape(policy: Record | ManagedPolicy, version: dict) -> Any:
    default = policy.version if isinstance(policy, ManagedPolicy) else policy.body["DefaultVersionId"]
    return {"Document": c.encoded(version["Document"]), "VersionId": version["VersionId"],
            "IsDefaultVersion": version["VersionId"] == default, "CreateDate": version["CreateDate"]}


def _all_versions(policy: Record | ManagedPolicy) -> list[dict]:
    if isinstance(policy, ManagedPolicy):
        return [{"VersionId": policy.version, "Document": policy.document, "CreateDate": policy.updated}]
    return _versions(policy)


def _find_version(policy: Record | ManagedPolicy, arn: str, version_id: str) -> dict:
    found = next((v for v in _all_versions(policy) if v["VersionId"] == version_id), None)
    if found is None:
        raise c.no_such_entity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
    return found


class ManagedPolicyOps:
    def create_policy(self, ctx: RequestContext, params: shapes.CreatePolicyRequest) -> shapes.CreatePolicyResponse:
        name, path, document = params["PolicyName"], c.path_of(params), params["PolicyDocument"]
        _check_document(document)
        policy_id, now = c.unique_id("ANPA"), ctx.timestamp()
        body: dict = {"PolicyName": name, "PolicyId": policy_id, "Arn": c.iam_arn(ctx.account, f"policy{path}{name}"),
                      "Path": path, "DefaultVersionId": "v1", "PermissionsBoundaryUsageCount": 0,
                      "IsAttachable": True, "CreateDate": now, "UpdateDate": now}
        if params.get("Description"):
            body["Description"] = params["Description"]
        tags = c.clean_tags(params.get("Tags"), "Policy")
        if tags:
            body["Tags"] = tags
        internal = {"Versions": [{"VersionId": "v1", "Document": document, "CreateDate": now}], "NextVersion": 2}
        record = Record(iam.POLICY, policy_id, ctx.account, iam.GLOBAL, body, name=name.lower(), arn=body["Arn"],
                        internal=internal)
        try:
            ctx.tx.put(record)
        except NameTaken:
            raise c.error("EntityAlreadyExists",
                          f"A policy called {name} already exists. Duplicate names are not allowed.") from None
        return {"Policy": _shape(ctx, record)}

    def get_policy(self, ctx: RequestContext, params: shapes.GetPolicyRequest) -> shapes.GetPolicyResponse:
        return {"Policy": _shape(ctx, _require(ctx, params["PolicyArn"]))}

    def list_policies(self, ctx: RequestContext, params: shapes.ListPoliciesRequest) -> shapes.ListPoliciesResponse:
        scope = params.get("Scope") or "All"
        found: list[Record | ManagedPolicy] = []
        if scope in ("All", "AWS"):
            found += AWS_POLICIES
        if scope in ("All", "Local"):
            found += ctx.tx.list(iam.POLICY)
        shown = [_shape(ctx, p, full=False) for p in found]
        prefix = params.get("PathPrefix") or "/"
        shown = [p for p in shown if p["Path"].startswith(prefix)
                 and (not params.get("OnlyAttached") or p["AttachmentCount"] > 0)]
        return c.page(shown, params, "Policies")

    def delete_policy(self, ctx: RequestContext, params: shapes.DeletePolicyRequest) -> shapes.NoOutput:
        policy = _require_customer(ctx, params["PolicyArn"])
        if _holders(ctx, params["PolicyArn"]):
            raise c.error("DeleteConflict", "Cannot delete a policy attached to entities.")
        if len(_versions(policy)) > 1:
            raise c.error("DeleteConflict", "This policy has more than one version. Before you delete a policy, you "
                          "must delete the policy's versions. The default version is deleted with the policy.")
        ctx.tx.delete(iam.POLICY, policy.id)
        return {}

    # -- versions -------------------------------------------------------------------------

    def create_policy_version(self, ctx: RequestContext, params: shapes.CreatePolicyVersionRequest
                              ) -> shapes.CreatePolicyVersionResponse:
        policy = _require_customer(ctx, params["PolicyArn"])
        _check_document(params["PolicyDocument"])
        versions = _versions(policy)
        if len(versions) >= c.MAX_POLICY_VERSIONS:
            raise c.error("LimitExceeded", "A managed policy can have up to 5 versions. Before you create a new "
                          "version, you must delete an existing version.")
        number = policy.internal.get("NextVersion", len(versions) + 1)
        version = {"VersionId": f"v{number}", "Document": params["PolicyDocument"], "CreateDate": ctx.timestamp()}
        versions.append(version)
        policy.internal["NextVersion"] = number + 1
        if params.get("SetAsDefault"):
            policy.body["DefaultVersionId"] = version["VersionId"]
        policy.body["UpdateDate"] = version["CreateDate"]
        ctx.tx.put(policy)
        return {"PolicyVersion": _version_shape(policy, version)}

    def get_policy_version(self, ctx: RequestContext, params: shapes.GetPolicyVersionRequest
                           ) -> shapes.GetPolicyVersionResponse:
        policy = _require(ctx, params["PolicyArn"])
        return {"PolicyVersion": _version_shape(policy, _find_version(policy, params["PolicyArn"],
                                                                      params["VersionId"]))}

    def list_policy_versions(self, ctx: RequestContext, params: shapes.ListPolicyVersionsRequest
                             ) -> shapes.ListPolicyVersionsResponse:
        policy = _require(ctx, params["PolicyArn"])
        # Listed versions carry no document (https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListPolicyVersions.html).
        shown = [{k: v for k, v in _version_shape(policy, version).items() if k != "Document"}
                 for version in reversed(_all_versions(policy))]
        return c.page(shown, params, "Versions")

    def delete_policy_version(self, ctx: RequestContext, params: shapes.DeletePolicyVersionRequest) -> shapes.NoOutput:
        policy = _require_customer(ctx, params["PolicyArn"])
        version = _find_version(policy, params["PolicyArn"], params["VersionId"])
        if version["VersionId"] == policy.body["DefaultVersionId"]:
            raise c.error("DeleteConflict", "Cannot delete the default version of a policy.")
        policy.internal["Versions"] = [v for v in _versions(policy) if v is not version]
        ctx.tx.put(policy)
        return {}

    def set_default_policy_version(self, ctx: RequestContext,
                                   params: shapes.SetDefaultPolicyVersionRequest) -> shapes.NoOutput:
        policy = _require_customer(ctx, params["PolicyArn"])
        version = _find_version(policy, params["PolicyArn"], params["VersionId"])
        policy.body["DefaultVersionId"] = version["VersionId"]
        ctx.tx.put(policy)
        return {}

    # -- attachments ----------------------------------------------------------------------

    def attach_user_policy(self, ctx: RequestContext, params: shapes.AttachUserPolicyRequest) -> shapes.NoOutput:
        _attach(ctx, c.require(ctx, iam.USER, params["UserName"]), params["PolicyArn"])
        return {}

    def attach_role_policy(self, ctx: RequestContext, params: shapes.AttachRolePolicyRequest) -> shapes.NoOutput:
        _attach(ctx, c.require(ctx, iam.ROLE, params["RoleName"]), params["PolicyArn"])
        return {}

    def detach_user_policy(self, ctx: RequestContext, params: shapes.DetachUserPolicyRequest) -> shapes.NoOutput:
        _detach(ctx, c.require(ctx, iam.USER, params["UserName"]), params["PolicyArn"])
        return {}

    def detach_role_policy(self, ctx: RequestContext, params: shapes.DetachRolePolicyRequest) -> shapes.NoOutput:
        _detach(ctx, c.require(ctx, iam.ROLE, params["RoleName"]), params["PolicyArn"])
        return {}

    def list_attached_user_policies(self, ctx: RequestContext, params: shapes.ListAttachedUserPoliciesRequest
                                    ) -> shapes.ListAttachedUserPoliciesResponse:
        return _list_attached(ctx, c.require(ctx, iam.USER, params["UserName"]), params)

    def list_attached_role_policies(self, ctx: RequestContext, params: shapes.ListAttachedRolePoliciesRequest
                                    ) -> shapes.ListAttachedRolePoliciesResponse:
        return _list_attached(ctx, c.require(ctx, iam.ROLE, params["RoleName"]), params)

    def list_entities_for_policy(self, ctx: RequestContext, params: shapes.ListEntitiesForPolicyRequest
                                 ) -> shapes.ListEntitiesForPolicyResponse:
        _require(ctx, params["PolicyArn"])
        wanted = params.get("EntityFilter")
        holders = [r for r in c.with_path_prefix(_holders(ctx, params["PolicyArn"]), params)
                   if wanted in (None, "User" if r.kind == iam.USER else "Role")]
        users = [{"UserName": r.body["UserName"], "UserId": r.body["UserId"]} for r in holders if r.kind == iam.USER]
        roles = [{"RoleName": r.body["RoleName"], "RoleId": r.body["RoleId"]} for r in holders if r.kind == iam.ROLE]
        return {"PolicyGroups": [], "PolicyUsers": users, "PolicyRoles": roles,  # type: ignore[typeddict-item]
                "IsTruncated": False}


def _attach(ctx: RequestContext, principal: Record, arn: str) -> None:
    if c.managed(ctx, arn) is None:
        raise c.no_such_entity(f"Policy {arn} does not exist or is not attachable.")
    held = c.attached(principal)
    if arn in held:
        return  # attaching twice changes nothing, as in AWS
    if len(held) >= c.MAX_ATTACHED_POLICIES:
        noun = "Users" if principal.kind == iam.USER else "Roles"
        raise c.error("LimitExceeded", f"Cannot exceed quota for PoliciesPer{noun[:-1]}: {c.MAX_ATTACHED_POLICIES}")
    held.append(arn)
    ctx.tx.put(principal)


def _detach(ctx: RequestContext, principal: Record, arn: str) -> None:
    held = c.attached(principal)
    if arn not in held:
        raise c.no_such_entity(f"Policy {arn} was not attached.")
    held.remove(arn)
    ctx.tx.put(principal)


def _attached_shapes(ctx: RequestContext, arns: Iterable[str]) -> list[dict]:
    out = []
    for arn in arns:
        policy = c.managed(ctx, arn)
        name = policy.name if isinstance(policy, ManagedPolicy) else arn.rpartition("/")[2]
        out.append({"PolicyName": name, "PolicyArn": arn})
    return out


def _list_attached(ctx: RequestContext, principal: Record, params: Any) -> Any:
    prefix = params.get("PathPrefix") or "/"
    arns = [a for a in c.attached(principal) if ("/" + a.split(":policy/", 1)[1]).startswith(prefix)]
    return c.page(_attached_shapes(ctx, arns), params, "AttachedPolicies")
