"""Who may assume a role: the role's trust policy and the caller's identity-based policies.

``evaluate(document, kind, request)`` is the one place a policy document is evaluated here; it
answers ``"Allow"``, ``"Deny"`` or ``"NotApplicable"`` (explicit deny wins; a statement whose
conditions are not met does not apply). It evaluates the subset of the policy language that trust
and identity policies of roles use: actions and resources with ``*``/``?`` wildcards (actions
without case), principals (``*``, account ids and ``:root`` ARNs, user, role and session ARNs),
``NotAction``/``NotResource``/``NotPrincipal``, and the string, ARN, ``Bool`` and ``Null`` condition
operators with ``IfExists`` and the set qualifiers. A condition with another operator (numeric, date,
IP address) is taken as not met: its statement does not apply.

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
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from latticework.config import Identity
from latticework.policy import Condition, PolicyDocument, PolicyError, Principal, Statement, parse_policy

ALLOW, DENY, NOT_APPLICABLE = "Allow", "Deny", "NotApplicable"


@dataclass(frozen=True)
class Request:
    """What is asked: an action on a resource, by a principal (resource policies), with condition keys."""

    action: str
    resource: str
    principal: str | None = None  # the caller's ARN
    account: str | None = None  # the caller's account: matches account principals ("" matches none)
    also: tuple[str, ...] = ()  # other ARNs a Principal may name the caller by (a session's role)
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # condition keys, lower-cased names


def evaluate(document: str, kind: str, request: Request) -> str:
    """The decision of one policy document for ``request``; ``kind``: "identity", "resource", or "trust"
    (a role's trust policy: a resource policy that names no resource, the role being it)."""
    parsed = _parsed(document, kind)
    if parsed is None:
        return NOT_APPLICABLE
    applying = [s for s in parsed.statements if _applies(s, kind, request)]
    if any(not s.allows for s in applying):
        return DENY
    return ALLOW if applying else NOT_APPLICABLE


@functools.lru_cache(maxsize=1024)
def _parsed(document: str, kind: str) -> PolicyDocument | None:
    try:
        text = _with_any_resource(document) if kind == "trust" else document
        return parse_policy(text, require_principal=kind != "identity")
    except (PolicyError, ValueError):
        return None  # stored documents were checked when saved; a broken one grants nothing


def _with_any_resource(document: str) -> str:
    """A trust policy as the resource policy of its role: each statement's resource is the role (``*``)."""
    raw = json.loads(document)
    statements = raw.get("Statement")
    listed = statements if isinstance(statements, list) else [statements]
    return json.dumps({**raw, "Statement": [{**s, "Resource": "*"} for s in listed]})


def _applies(s: Statement, kind: str, r: Request) -> bool:
    return (_matches_action(s, r.action) and _matches_resource(s, r.resource)
            and (kind == "identity" or _matches_principal(s, r)) and all(_holds(c, r.keys) for c in s.conditions))


def _like(pattern: str, value: str, case: bool = True) -> bool:
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _matches_action(s: Statement, action: str) -> bool:
    if s.actions is not None:
        return any(_like(a, action, case=False) for a in s.actions)
    return not any(_like(a, action, case=False) for a in s.not_actions or ())


def _matches_resource(s: Statement, resource: str) -> bool:
    if s.resources is not None:
        return any(_like(p, resource) for p in s.resources)
    return not any(_like(p, resource) for p in s.not_resources or ())


def _names(principal: Principal, r: Request) -> bool:
    if principal.anyone:
        return True
    for value in principal.values("AWS"):
        if value == "*" or value in (r.principal, *r.also):
            return True
        account = value if value.isdigit() else _root_account(value)
        if account is not None and account == r.account:
            return True
    return False


def _root_account(arn: str) -> str | None:
    found = re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}):root", arn)
    return found.group(1) if found else None


def _matches_principal(s: Statement, r: Request) -> bool:
    if s.principal is not None:
        return _names(s.principal, r)
    return s.not_principal is not None and not _names(s.not_principal, r)


# -- conditions ----------------------------------------------------------------------------------

_STRING_TESTS = {
    "StringEquals": lambda p, v: p == v, "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: _like(p, v), "ArnEquals": lambda p, v: p == v, "ArnLike": lambda p, v: _like(p, v),
    "Bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


def _holds(c: Condition, keys: Mapping[str, tuple[str, ...]]) -> bool:
    values = keys.get(c.key.lower())
    if c.test == "Null":
        return (values is None) == (c.values[0].lower() == "true")
    if values is None:
        return c.if_exists or c.test in _NEGATED
    negated = c.test in _NEGATED
    test = _STRING_TESTS.get(_NEGATED.get(c.test, c.test))
    if test is None:
        return False  # numeric, date and address operators: not evaluated here, so not met
    matched = _set_match(c, values, test)
    return not matched if negated else matched


def _set_match(c: Condition, values: Iterable[str], test) -> bool:
    values = list(values)
    one = lambda v: any(test(p, v) for p in c.values)  # noqa: E731 - one value against the condition's
    if c.set_qualifier == "ForAllValues":
        return all(one(v) for v in values)
    return any(one(v) for v in values)


# -- the caller as policies see it ----------------------------------------------------------------

def caller_keys(identity: Identity) -> dict[str, tuple[str, ...]]:
    """The global condition keys describing the caller (lower-cased names)."""
    keys: dict[str, tuple[str, ...]] = {"aws:principalarn": (identity.role_arn or identity.arn,), "aws:principalaccount": (identity.account,),
            "aws:principaltype": (identity.type,), "aws:userid": (identity.user_id,)}
    if identity.type == "User":
        keys["aws:username"] = (identity.arn.rpartition("/")[2],)
    if identity.org_id:
        keys["aws:principalorgid"] = (identity.org_id,)
    if identity.org_path:
        keys["aws:principalorgpaths"] = (identity.org_path,)
    for key, value in identity.tags:
        keys[f"aws:principaltag/{key.lower()}"] = (value,)
    return keys


def identity_allows(identity: Identity, action: str, resource: str, keys: Mapping[str, tuple[str, ...]]) -> str:
    """The identity-based decision for a caller: its policies, limited by its session policy."""
    request = Request(action, resource, keys=keys)
    decisions = [evaluate(d, "identity", request) for d in identity.policies]
    if DENY in decisions:
        return DENY
    decision = ALLOW if ALLOW in decisions else NOT_APPLICABLE
    if decision == ALLOW and identity.session_policy is not None:
        return evaluate(identity.session_policy, "identity", request)
    return decision
