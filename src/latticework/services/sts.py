"""STS: ``GetCallerIdentity`` and ``AssumeRole``.

``GetCallerIdentity`` answers whoever signed: the accounts file's credentials (the account, or the
``user`` the file names), an IAM user (``UserId`` ``AIDA...``, ``Arn`` ``...:user/<path><name>``) or an
assumed-role session (``UserId`` ``AROA...:<session>``, ``Arn`` ``arn:aws:sts::<account>:assumed-role/<role>/<session>``).

``AssumeRole`` issues temporary credentials (``ASIA...`` key, secret, session token, expiry) for a role,
stored as an ``sts-session`` record of the role's account (``records.iam``): they survive a restart, reach
the data-plane workers with the snapshot, and stop working at their expiry (``ExpiredToken``). Who may
assume a role follows AWS (``services.iam.access``): the trust policy must allow the caller (and
``sts:TagSession`` when session tags are passed); across accounts, or when the trust policy names the
account rather than the caller, the caller's own policies must allow ``sts:AssumeRole`` on the role
too. Refusals are AWS's ``AccessDenied`` with its message, whether the role does not exist or does not
trust the caller. The accounts file's credentials act as their account's root user, which AWS never lets
assume a role ("Roles may not be assumed by root accounts."); give the credential a ``user`` in the
accounts file to use it for ``AssumeRole`` (it then acts as an administrator user of the account).

Durations: ``DurationSeconds`` 900 (the model's minimum) to the role's ``MaxSessionDuration``, 3600
without one; a session assuming another role (role chaining) gets at most one hour
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining).
Sessions that expired more than a day ago are deleted when a new one is issued in the same account.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
from typing import Any

from latticework import formats
from latticework.api.awsapi import QueryApi
from latticework.api.context import RequestContext
from latticework.api.errors import ServiceError
from latticework.config import Identity
from latticework.records import iam
from latticework.services import sts_api_types as shapes
from latticework.services.iam import access
from latticework.services.iam import common as iam_common
from latticework.store import Record

DEFAULT_DURATION = 3600
CHAINED_MAX = 3600
PACKED_LIMIT = 2048  # characters of session policy and tags together, compressed in AWS; here counted as is
KEEP_EXPIRED = dt.timedelta(days=1)
_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role(/.*/|/)([\w+=,.@-]+)")


def _denied(message: str) -> ServiceError:
    return ServiceError(message, status=403, code="AccessDenied")


def _not_authorized(caller: Identity, action: str, role_arn: str) -> ServiceError:
    return _denied(f"User: {caller.arn} is not authorized to perform: {action} on resource: {role_arn}")


def _validation(message: str) -> ServiceError:
    return ServiceError(message, status=400, code="ValidationError")


def _caller(ctx: RequestContext) -> Identity:
    """Who asks; the accounts file's credentials without a ``user`` are their account's root."""
    cred = ctx.credential
    identity = cred.identity or Identity(cred.principal_arn, "Account", cred.user_id, cred.account_id)
    if identity.acts_as_account and cred.user is None:
        raise _denied("Roles may not be assumed by root accounts.")
    return identity


def _role(ctx: RequestContext, caller: Identity, role_arn: str) -> Record:
    found = _ROLE_ARN.fullmatch(role_arn)
    record = iam_common.find_in(ctx, iam.ROLE, found.group(1), found.group(3)) if found else None
    if record is None or record.arn != role_arn:
        raise _not_authorized(caller, "sts:AssumeRole", role_arn)  # AWS does not say whether the role exists
    return record


def _request_keys(caller: Identity, params: Any) -> dict[str, access.ContextValue]:
    """The condition keys of the request (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html)."""
    keys = access.caller_keys(caller)
    keys["sts:RoleSessionName"] = params["RoleSessionName"]
    if params.get("ExternalId") is not None:
        keys["sts:ExternalId"] = params["ExternalId"]
    tags = params.get("Tags") or []
    for tag in tags:
        keys[f"aws:RequestTag/{tag['Key']}"] = tag["Value"]
    if tags:
        keys["aws:TagKeys"] = tuple(t["Key"] for t in tags)
    return keys


def _trust(role: iam.RoleRecord, caller: Identity, action: str, keys: dict, account: str) -> str:
    also = (caller.role_arn,) if caller.role_arn else ()
    request = access.Request(action, role.arn, caller.arn, account, also, keys)
    return access.evaluate(role.trust_policy, "trust", request)


def _authorize(role: iam.RoleRecord, caller: Identity, action: str, keys: dict) -> None:
    """Raise ``AccessDenied`` unless ``caller`` may take ``action`` (sts:AssumeRole, sts:TagSession) on the role."""
    trusted = _trust(role, caller, action, keys, caller.account)
    if trusted != access.ALLOW:
        raise _not_authorized(caller, action, role.arn)
    if caller.acts_as_account:
        return  # the accounts file's named users pass identity checks
    by_name = role.record.account == caller.account and _trust(role, caller, action, keys, "") == access.ALLOW
    own = access.identity_allows(caller, action, role.arn, keys)
    if own == access.DENY or (own != access.ALLOW and not by_name):
        raise _not_authorized(caller, action, role.arn)


def _duration(role: iam.RoleRecord, caller: Identity, params: Any) -> int:
    seconds = params.get("DurationSeconds") or DEFAULT_DURATION
    if caller.type == "AssumedRole" and seconds > CHAINED_MAX:
        raise _validation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
                          "role chaining.")
    if seconds > role.max_session_duration:
        raise _validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    return seconds


def _session_policy(params: Any) -> str | None:
    if params.get("PolicyArns"):
        raise ServiceError("Managed session policies (PolicyArns) are not supported by Latticework yet.",
                           status=400, code="InvalidAction")
    policy = params.get("Policy")
    if policy is not None:
        iam_common.check_identity_policy(policy)
    return policy


def _packed_size(policy: str | None, tags: list) -> int | None:
    if policy is None and not tags:
        return None
    size = len(policy or "") + sum(len(t["Key"]) + len(t["Value"]) for t in tags)
    if size > PACKED_LIMIT:
        raise ServiceError("Packed policy consumes more than 100% of the allotted size.", status=400,
                           code="PackedPolicyTooLarge")
    return size * 100 // PACKED_LIMIT


def _token() -> str:
    """A session token: opaque base64 text of the length AWS's have."""
    return base64.b64encode(secrets.token_bytes(300)).decode()


def _session(ctx: RequestContext, role: iam.RoleRecord, params: Any, expires: dt.datetime, policy: str | None) -> Record:
    account, name = role.record.account, params["RoleSessionName"]
    role_name = role.body["RoleName"]
    body = {"AssumedRoleUser": {"AssumedRoleId": f"{role.unique_id}:{name}",
                                "Arn": formats.arn("aws", "sts", "", account, f"assumed-role/{role_name}/{name}")},
            "Expiration": formats.iso8601(expires)}
    internal = {"Secret": iam_common.secret_key(), "Token": _token(), "SessionName": name, "RoleArn": role.arn,
                "Policy": policy, "Tags": [[t["Key"], t["Value"]] for t in params.get("Tags") or []]}
    return Record(iam.SESSION, iam_common.unique_id("ASIA", 20), account, iam.GLOBAL, body, parent=role.id,
                  internal=internal)


def _prune(ctx: RequestContext, account: str) -> None:
    """Delete sessions of the account that expired more than a day ago."""
    horizon = ctx.now - KEEP_EXPIRED
    for record in ctx.tx.list(iam.SESSION, account=account):
        if iam.SessionRecord(record).expires < horizon:
            ctx.tx.delete(iam.SESSION, record.id, account=account)


class StsProvider:
    def get_caller_identity(self, ctx: RequestContext,
                            params: shapes.GetCallerIdentityRequest) -> shapes.GetCallerIdentityResponse:
        cred = ctx.credential
        return {"UserId": cred.user_id, "Account": cred.account_id, "Arn": cred.principal_arn}

    def assume_role(self, ctx: RequestContext, params: shapes.AssumeRoleRequest) -> shapes.AssumeRoleResponse:
        caller = _caller(ctx)
        role = iam.RoleRecord(_role(ctx, caller, params["RoleArn"]))
        keys = _request_keys(caller, params)
        _authorize(role, caller, "sts:AssumeRole", keys)
        if params.get("Tags"):
            _authorize(role, caller, "sts:TagSession", keys)
        seconds = _duration(role, caller, params)
        policy = _session_policy(params)
        packed = _packed_size(policy, params.get("Tags") or [])
        _prune(ctx, role.record.account)
        session = ctx.tx.put(_session(ctx, role, params, ctx.now + dt.timedelta(seconds=seconds), policy))
        view = iam.SessionRecord(session)
        result: dict = {"Credentials": {"AccessKeyId": view.key_id, "SecretAccessKey": view.secret,
                                        "SessionToken": view.token, "Expiration": session.body["Expiration"]},
                        "AssumedRoleUser": session.body["AssumedRoleUser"]}
        if packed is not None:
            result["PackedPolicySize"] = packed
        return result  # type: ignore[return-value]


class StsApi(QueryApi):
    global_service = True  # sessions are valid in every Region

    def __init__(self) -> None:
        super().__init__("sts", StsProvider())
