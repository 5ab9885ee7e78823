"""Auth policies and resource policies of service networks, services and resource configurations.

Both are one JSON document per resource, stored as a record whose id is the
id of the resource it belongs to (kind ``authpolicy`` / ``resourcepolicy``,
no ARN of its own: the record is never found through ``by_arn``).

Auth policies (PutAuthPolicy, GetAuthPolicy, DeleteAuthPolicy)
    - ``resourceIdentifier`` is an ``sn-``/``svc-``/``rcfg-`` id or ARN; an
      unknown one is AWS's 404 for that resource type.
    - The document must parse (``latticework.policy``) and every statement
      names a Principal; otherwise ``ValidationException``.
    - Size: the auth policy quota is 10 KB and not adjustable. PutAuthPolicy
      declares no ``ServiceQuotaExceededException`` in the model, so a larger
      policy is a ``ValidationException`` (400), like any other refused
      document, not a 402.
    - ``state`` is computed on every read: ``Active`` iff the resource's
      ``authType`` is ``AWS_IAM``. Resource configurations have no auth type
      and auth policies do not apply to them
      (https://docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html),
      so theirs is always ``Inactive``.
    - Get with no policy answers 200 with no members, as AWS does (GetAuthPolicy
      and GetResourcePolicy return an empty policy, not a 404:
      https://github.com/hashicorp/terraform-provider-aws/pull/49721).
    - Delete while ``authType`` is ``AWS_IAM``: the API reference says the
      delete succeeds and all requests are then denied, the user guide says it
      fails until the auth type is ``NONE``. We follow the API reference: the
      delete succeeds (and the data plane denies everything while AWS_IAM).
      Deleting when there is no policy is a no-op 204 (the operation is
      idempotent); an unknown resource is a 404.
    - The policy text is stored and answered verbatim (newlines included:
      the "no newlines" remark of the API reference is not enforced by AWS's
      own CLI examples, which send pretty-printed files).

Resource policies (PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy)
    - ``resourceArn`` must be the ARN of an sn/svc/rcfg of the caller (404
      otherwise); the policy (1–10,000 characters, checked by the model) must
      parse. The RAM-permission mirroring AWS requires is not checked.
    - RAM writes a resource policy on the owner's behalf for a shared
      resource (https://docs.aws.amazon.com/vpc-lattice/latest/ug/sharing.html).
      Here it is computed when read, so it always matches the shares: with no
      policy put by the owner, ``GetResourcePolicy`` answers one statement per
      active share holding the resource, allowing the actions of the share's
      managed permission to its associated principals (accounts as
      ``arn:aws:iam::<id>:root``; an organization or OU as ``*`` restricted by
      ``aws:PrincipalOrgID`` / ``aws:PrincipalOrgPaths``). A policy the owner
      puts answers instead, as stored; deleting it brings RAM's back.

``delete_attachments`` removes both policies and the access-log
subscriptions when a service network, service or resource configuration is
deleted.
"""

from __future__ import annotations

import json

from latticework.api.context import RequestContext
from latticework.records import ram
from latticework.policy import PolicyError, parse_policy
from latticework.quotas import QUOTAS
from latticework.services.lattice import api_types as shapes
from latticework.services.lattice import accesslogs, common
from latticework.services.lattice.accesslogs import resolve_target
from latticework.services.lattice.common import AUTH_POLICY, RESOURCE_POLICY, Kind
from latticework.services.ram import permissions
from latticework.store import Record

AUTH_POLICY_MAX_BYTES = QUOTAS["auth-policy-size"].default  # not adjustable: no override applies


def principal_statements(principals: list[str], actions: list[str], resource_arn: str, partition: str) -> list[dict]:
    """The statements granting ``actions`` on ``resource_arn`` to RAM principals (account ids, organization and
    OU ARNs): one for the accounts, one per organization or OU."""
    base = {"Effect": "Allow", "Action": actions, "Resource": resource_arn}
    accounts = [f"arn:{partition}:iam::{p}:root" for p in principals if not p.startswith("arn:")]
    statements = [{**base, "Principal": {"AWS": accounts}}] if accounts else []
    for entity in (p for p in principals if p.startswith("arn:")):
        tail = entity.split(":", 5)[5]
        if tail.startswith("organization/"):
            condition = {"StringEquals": {"aws:PrincipalOrgID": tail.removeprefix("organization/")}}
        else:
            org, _, unit = tail.removeprefix("ou/").partition("/")
            condition = {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{org}/*/{unit}/*"}}
        statements.append({**base, "Principal": "*", "Condition": condition})
    return statements


def _ram_policy(ctx: RequestContext, target: Record) -> str | None:
    """The resource policy RAM keeps on ``target`` for the shares that hold it (None: not shared)."""
    assert target.arn is not None  # policies attach to sn/svc/rcfg, which have ARNs
    resource_type = ram.resource_type(target.arn)
    statements: list[dict] = []
    for share, principals in ram.principals_sharing(ctx.tx, target.arn):
        named = [p for p in map(permissions.by_arn, share.permission_arns) if p and p.resource_type == resource_type]
        permission = named[0] if named else permissions.default_for(str(resource_type))
        statements += principal_statements(principals, list(permission.actions), target.arn, ctx.partition)
    return json.dumps({"Version": "2012-10-17", "Statement": statements}) if statements else None


def _parse(policy: str, field: str) -> None:
    try:
        parse_policy(policy)
    except PolicyError as exc:
        raise common.validation(f"Invalid policy document: {exc.message}", (field, exc.message)) from None


def _check_auth_policy(policy: str) -> None:
    if len(policy.encode()) > AUTH_POLICY_MAX_BYTES:
        raise common.validation(
            f"The auth policy exceeds the maximum size of {AUTH_POLICY_MAX_BYTES} bytes.",
            ("policy", f"Member must have a size of at most {AUTH_POLICY_MAX_BYTES} bytes"))
    _parse(policy, "policy")


def auth_state(target: Record) -> shapes.AuthPolicyState:
    return "Active" if target.body.get("authType") == "AWS_IAM" else "Inactive"


def _put_document(ctx: RequestContext, kind: Kind, target: Record, policy: str) -> Record:
    """Create or replace the policy record of ``target``."""
    record = ctx.tx.get(kind.kind, target.id)
    if record is not None:
        return common.touch(ctx, record, policy=policy)
    stamp = ctx.timestamp()
    body = {"policy": policy, "resourceId": target.id, "resourceArn": target.arn, "createdAt": stamp,
            "lastUpdatedAt": stamp}
    return ctx.tx.put(Record(kind=kind.kind, id=target.id, account=ctx.account, region=ctx.region, body=body))


def _delete_document(ctx: RequestContext, kind: Kind, target_id: str) -> None:
    if ctx.tx.get(kind.kind, target_id) is not None:
        ctx.tx.delete(kind.kind, target_id)


class PolicyOps:
    # -- auth policies -------------------------------------------------------
    def put_auth_policy(self, ctx: RequestContext, params: shapes.PutAuthPolicyRequest) -> shapes.PutAuthPolicyResponse:
        target = resolve_target(ctx, params["resourceIdentifier"])
        _check_auth_policy(params["policy"])
        record = _put_document(ctx, AUTH_POLICY, target, params["policy"])
        return {"policy": record.body["policy"], "state": auth_state(target)}

    def get_auth_policy(self, ctx: RequestContext, params: shapes.GetAuthPolicyRequest) -> shapes.GetAuthPolicyResponse:
        target = resolve_target(ctx, params["resourceIdentifier"])
        record = ctx.tx.get(AUTH_POLICY.kind, target.id)
        if record is None:
            return {}
        return {**common.project(record.body, ("policy", "createdAt", "lastUpdatedAt")), "state": auth_state(target)}

    def delete_auth_policy(self, ctx: RequestContext,
                           params: shapes.DeleteAuthPolicyRequest) -> shapes.DeleteAuthPolicyResponse:
        target = resolve_target(ctx, params["resourceIdentifier"])
        _delete_document(ctx, AUTH_POLICY, target.id)
        return {}

    # -- resource policies ---------------------------------------------------
    def put_resource_policy(self, ctx: RequestContext,
                            params: shapes.PutResourcePolicyRequest) -> shapes.PutResourcePolicyResponse:
        target = resolve_target(ctx, params["resourceArn"])
        _parse(params["policy"], "policy")
        _put_document(ctx, RESOURCE_POLICY, target, params["policy"])
        return {}

    def get_resource_policy(self, ctx: RequestContext,
                            params: shapes.GetResourcePolicyRequest) -> shapes.GetResourcePolicyResponse:
        target = resolve_target(ctx, params["resourceArn"])
        record = ctx.tx.get(RESOURCE_POLICY.kind, target.id)
        if record is not None:
            return {"policy": record.body["policy"]}
        shared = _ram_policy(ctx, target)
        return {"policy": shared} if shared is not None else {}

    def delete_resource_policy(self, ctx: RequestContext,
                               params: shapes.DeleteResourcePolicyRequest) -> shapes.DeleteResourcePolicyResponse:
        target = resolve_target(ctx, params["resourceArn"])
        _delete_document(ctx, RESOURCE_POLICY, target.id)
        return {}

    # -- cascade -------------------------------------------------------------
    def delete_attachments(self, ctx: RequestContext, record: Record) -> None:
        """Remove what hangs off a service network, service or resource configuration being deleted."""
        _delete_document(ctx, AUTH_POLICY, record.id)
        _delete_document(ctx, RESOURCE_POLICY, record.id)
        accesslogs.delete_subscriptions(ctx, record.id)
