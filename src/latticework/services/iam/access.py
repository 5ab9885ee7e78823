"""Who may assume a role: the role's trust policy and the caller's identity-based policies.

``evaluate(document, kind, request)`` is the one place a policy document is evaluated here: it asks
the policy engine (``policy.compile_text``, compiled once per document) and answers ``"Allow"``,
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

import json
from dataclasses import dataclass, field
from typing import Mapping

from latticework.config import Identity
from latticework.policy import Caller, CompiledPolicy, Query, compile_text
from latticework.policy.evaluate import evaluate_identity

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


def _compiled(document: str, kind: str) -> CompiledPolicy | None:
    if kind == "identity":
        return compile_text(document, "identity")
    if kind != "trust":
        return compile_text(document)
    try:
        return compile_text(_with_any_resource(document))
    except ValueError:  # stored documents were checked when saved; a broken one grants nothing
        return None


def _with_any_resource(document: str) -> str:
    """A trust policy as the resource policy of its role: each statement's resource is the role (``*``)."""
    raw = json.loads(document)
    statements = raw.get("Statement")
    listed = statements if isinstance(statements, list) else [statements]
    return json.dumps({**raw, "Statement": [{**s, "Resource": "*"} for s in listed]})


# -- the caller as policies see it ----------------------------------------------------------------

def caller_keys(identity: Identity) -> dict[str, ContextValue]:
    """The global condition keys describing the caller (``config.Identity.condition_keys``)."""
    return dict(identity.condition_keys)


def identity_allows(identity: Identity, action: str, resource: str, keys: Mapping[str, ContextValue]) -> str:
    """The identity-based decision for a caller: its policies, limited by its session policy."""
    policies = [p for p in (compile_text(d, "identity") for d in identity.policies) if p is not None]
    session = compile_text(identity.session_policy, "identity") if identity.session_policy is not None else None
    return evaluate_identity(policies, session, Query(action, resource, None, keys)).effect