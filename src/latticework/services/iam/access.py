"""Who may assume a role: the role's trust policy and the caller's identity-based policies.

``evaluate(document, kind, request)`` is the one place a policy document is evaluated here: it asks
the policy engine (``policy.compile_policy``, compiled once per document) and answers ``"Allow"``,
``"Deny"`` or ``"NotApplicable"``. A trust policy is the resource policy of its role that names no
resource (IAM refuses one that does): it is evaluated as a resource policy whose every statement's
resource is the role.

How AWS decides ``AssumeRole``
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html):
the trust policy must allow the caller (an explicit deny anywhere refuses); within one account a trust
policy that names the caller itself (its user or session ARN, or its role's ARN) is enough on its own,
otherwise (the trust policy names the account, or the caller is in another account) the caller's
identity policies must allow ``sts:AssumeRole`` on the role too, and a session's own session policy as well.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Mapping

from latticework.config import Identity
from latticework.policy import Caller, CompiledPolicy, PolicyError, Query, compile_policy, parse_policy

ALLOW, DENY, NOT_APPLICABLE = "Allow", "Deny", "NotApplicable"


ContextValue = str | tuple[str, ...]


@dataclass(frozen=True)
class Request:
    """What is asked: an action on a resource, by a principal (resource policies), with condition keys."""

    action: str
    resource: str
    principal: str | None = None  # the caller's ARN
    account: str = ""  # the caller's account: matches account principals ("" matches none)
    also: tuple[str, ...] = ()  # other ARNs a Principal may name the caller by (a session's role)
    keys: Mapping[str, ContextValue] = field(default_factory=dict)  # condition keys (names without case)


def evaluate(document: str, kind: str, request: Request) -> str:
    """The decision of one policy document for ``request``; ``kind``: "identity", "resource", or "trust"
    (a role's trust policy)."""
    compiled = _compiled(document, kind)
    if compiled is None:
        return NOT_APPLICABLE
    caller = Caller(request.principal, request.account, request.also) if request.principal else None
    return compiled.evaluate(Query(request.action, request.resource, caller, request.keys)).effect


@functools.lru_cache(maxsize=1024)
def _compiled(document: str, kind: str) -> CompiledPolicy | None:
    try:
        text = _with_any_resource(document) if kind == "trust" else document
        parsed = parse_policy(text, require_principal=kind != "identity")
        return compile_policy(parsed, "identity" if kind == "identity" else "resource")
    except (PolicyError, ValueError):
        return None  # stored documents were checked when saved; a broken one grants nothing


def _with_any_resource(document: str) -> str:
    """A trust policy as the resource policy of its role: each statement's resource is the role (``*``)."""
    raw = json.loads(document)
    statements = raw.get("Statement")
    listed = statements if isinstance(statements, list) else [statements]
    return json.dumps({**raw, "Statement": [{**s, "Resource": "*"} for s in listed]})


# -- the caller as policies see it ----------------------------------------------------------------

def caller_keys(identity: Identity) -> dict[str, ContextValue]:
    """The global condition keys describing the caller
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)."""
    keys: dict[str, ContextValue] = {
        "aws:PrincipalArn": identity.role_arn or identity.arn, "aws:PrincipalAccount": identity.account,
        "aws:PrincipalType": identity.type, "aws:userid": identity.user_id}
    if identity.type == "User":
        keys["aws:username"] = identity.arn.rpartition("/")[2]
    if identity.org_id:
        keys["aws:PrincipalOrgID"] = identity.org_id
    if identity.org_path:
        keys["aws:PrincipalOrgPaths"] = (identity.org_path,)  # multivalued: an account sits on one path here
    for key, value in identity.tags:
        keys[f"aws:PrincipalTag/{key}"] = value
    return keys


def identity_allows(identity: Identity, action: str, resource: str, keys: Mapping[str, ContextValue]) -> str:
    """The identity-based decision for a caller: its policies, limited by its session policy."""
    request = Request(action, resource, keys=keys)
    decisions = [evaluate(d, "identity", request) for d in identity.policies]
    if DENY in decisions:
        return DENY
    decision = ALLOW if ALLOW in decisions else NOT_APPLICABLE
    if decision == ALLOW and identity.session_policy is not None:
        return evaluate(identity.session_policy, "identity", request)
    return decision
