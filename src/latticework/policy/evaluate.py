"""The policy engine: a parsed document compiled once, then asked ``evaluate(query)`` per request.

The model
    ``compile_policy(document, kind)`` turns a ``PolicyDocument`` into a
    ``CompiledPolicy``: every pattern, CIDR, number and date is compiled or parsed
    there, never per request. ``kind`` is ``"resource"`` (auth policies, endpoint
    and resource policies: ``Principal``/``NotPrincipal`` say who a statement is for)
    or ``"identity"`` (policies attached to the caller: the caller is implicit).

    ``CompiledPolicy.evaluate(query)`` answers a ``Decision``: ``Deny`` when a
    matching statement denies (explicit deny wins), else ``Allow`` when one allows,
    else ``NotApplicable``. The decision carries the statements that decided it
    (every matching ``Deny`` when denied, every matching ``Allow`` when allowed),
    each with its place in its policy (``Reason``), so the data plane, access logs
    and ``latticework explain`` give the same reasons.

A statement applies when its action, principal, resource and every condition match
    - Actions (``Action``/``NotAction``) match case-insensitively, with ``*`` and ``?``.
    - Resources (``Resource``/``NotResource``) match case-sensitively; ``*`` reaches
      across ``/`` and ``:``; policy variables may appear in them.
    - Principals: ``"*"`` and ``{"AWS": "*"}`` are anyone, anonymous callers included
      (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html);
      an account id or ``arn:aws:iam::A:root`` is any authenticated principal of that
      account; other ARNs are matched exactly against the caller's names (its own ARN,
      and for an assumed-role session its role's ARN). ``Service``, ``Federated`` and
      ``CanonicalUser`` principals never name the callers Lattice sees. Anonymous
      callers match only ``*``.
    - ``NotPrincipal`` applies to every caller it does not name, anonymous ones
      included; a caller is "named" only when all its names are listed (account,
      role and session): IAM checks "the account, then the role, and then the assumed-role
      user", which is why its guide asks for the account ARN beside the principal's
      (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html).
    - Conditions: ``conditions`` (every operator of IAM, set qualifiers, ``IfExists``).

A pattern or value whose policy variable has no value in the request is never
satisfied: it matches nothing in ``Resource`` and in positive operators, and a
statement with it in ``NotResource`` (or a negated operator) does not apply, since
the request cannot be shown to be outside it. IAM: such a variable "might cause the
entire statement to be invalid"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
"""

from __future__ import annotations

import functools

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Sequence

from latticework.policy.conditions import ConditionCheck, compile_condition
from latticework.policy.context import Caller, Query
from latticework.policy.document import PolicyDocument, PolicyError, Principal, Statement, parse_policy
from latticework.policy.patterns import (
    VARIABLES_VERSION,
    Text,
    glob_set,
    is_static,
    matches_resolved,
    parse_template,
    resolve,
)

Effect = Literal["Allow", "Deny", "NotApplicable"]
Kind = Literal["resource", "identity"]
_ACCOUNT_ROOT = re.compile(r"(\d{12})|arn:[^:]+:iam::(\d{12}):root")
_DECIDING: tuple[Effect, ...] = ("Deny", "Allow")
_ACTION_CACHE_SIZE = 256  # distinct actions remembered per statement (Lattice asks two)
_SEVERAL_CACHE_SIZE = 1024  # decisions of several statements remembered per policy

__all__ = ["Caller", "CompiledPolicy", "Decision", "Query", "Reason", "compile_policy", "compile_text", "evaluate_all",
           "evaluate_identity"]


@dataclass(frozen=True, slots=True)
class Reason:
    """One statement that decided: which policy, which statement (1-based, as in error messages)."""

    policy: str
    number: int
    statement: Statement

    def __str__(self) -> str:
        sid = f" ({self.statement.sid})" if self.statement.sid else ""
        where = f"{self.policy} " if self.policy else ""
        return f"{where}statement {self.number}{sid}: {self.statement.effect}"


@dataclass(frozen=True, slots=True)
class Decision:
    effect: Effect
    statements: tuple[Statement, ...] = ()
    reasons: tuple[Reason, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.effect == "Allow"

    @property
    def denied(self) -> bool:
        return self.effect == "Deny"

    def explain(self) -> str:
        return "; ".join(str(r) for r in self.reasons) or "no statement applies"


NOT_APPLICABLE = Decision("NotApplicable")


def _decision(effect: Effect, reasons: Sequence[Reason]) -> Decision:
    return Decision(effect, tuple(r.statement for r in reasons), tuple(reasons))


# -- principals ----------------------------------------------------------------------------------

PrincipalCheck = Callable[[Caller | None], bool]


def _anyone(caller: Caller | None) -> bool:
    return True


def _no_one(caller: Caller | None) -> bool:
    return False


def _principal_check(statement: Statement, kind: Kind) -> PrincipalCheck:
    if kind == "identity":
        return _anyone
    if statement.principal is not None:
        return _named(statement.principal)
    if statement.not_principal is not None:
        return _not_named(statement.not_principal)
    return _no_one  # a resource policy's statement names who it is for


def _split_principals(principal: Principal) -> tuple[bool, frozenset[str], frozenset[str]]:
    """(anyone, accounts, other ARNs) named by the ``AWS`` entries; other types name no caller here."""
    aws = principal.values("AWS")
    accounts = {m.group(1) or m.group(2) for m in map(_ACCOUNT_ROOT.fullmatch, aws) if m}
    arns = {a for a in aws if a != "*" and not _ACCOUNT_ROOT.fullmatch(a)}
    return principal.anyone or "*" in aws, frozenset(accounts), frozenset(arns)


def _named(principal: Principal) -> PrincipalCheck:
    anyone, accounts, arns = _split_principals(principal)
    if anyone:
        return _anyone

    def check(caller: Caller | None) -> bool:
        return caller is not None and (caller.account in accounts or not arns.isdisjoint(caller.names))
    return check


def _not_named(principal: Principal) -> PrincipalCheck:
    anyone, accounts, arns = _split_principals(principal)
    if anyone:
        return _no_one

    def check(caller: Caller | None) -> bool:
        if caller is None:
            return True
        listed = arns | {caller.root} if caller.account in accounts else arns
        return not caller.names <= listed
    return check


# -- actions and resources -------------------------------------------------------------------------

def _action_check(statement: Statement) -> Callable[[str], bool]:
    patterns = statement.actions if statement.actions is not None else statement.not_actions or ()
    matches = glob_set([(Text(p),) for p in patterns], ignore_case=True)
    if statement.actions is None:
        return lambda action: not matches(action)
    return matches


ResourceCheck = Callable[[Query], bool]


def _resource_check(statement: Statement, variables: bool) -> ResourceCheck:
    negate = statement.resources is None
    patterns = statement.resources if statement.resources is not None else statement.not_resources or ()
    templates = [parse_template(p, variables) for p in patterns]
    static = glob_set([tuple(p for p in t if isinstance(p, Text)) for t in templates if is_static(t)])
    dynamic = [t for t in templates if not is_static(t)]
    if not dynamic:
        return (lambda query: not static(query.resource)) if negate else (lambda query: static(query.resource))

    def check(query: Query) -> bool:
        hit, complete = static(query.resource), True
        for template in dynamic:
            texts = resolve(template, query.value)
            if texts is None:
                complete = False
            elif not hit and matches_resolved(texts, query.resource):
                hit = True
        return (complete and not hit) if negate else hit
    return check


# -- statements and policies -----------------------------------------------------------------------

StatementCheck = Callable[[Query], bool]


def _statement_check(statement: Statement, kind: Kind, variables: bool) -> StatementCheck:
    action = _action_check(statement)
    principal = _principal_check(statement, kind)
    resource = _resource_check(statement, variables)
    conditions: tuple[ConditionCheck, ...] = tuple(compile_condition(c, variables) for c in statement.conditions)
    actions: dict[str, bool] = {}  # Lattice asks about a handful of actions: remember the answers

    def applies(query: Query) -> bool:
        hit = actions.get(query.action)
        if hit is None:
            hit = action(query.action)
            if len(actions) < _ACTION_CACHE_SIZE:
                actions[query.action] = hit
        if not hit or not principal(query.principal) or not resource(query):
            return False
        for condition in conditions:
            if not condition(query):
                return False
        return True
    return applies


class CompiledPolicy:
    """A policy ready to answer ``evaluate(query)``; immutable once built, shareable across threads."""

    __slots__ = ("document", "kind", "name", "_checks", "_reasons", "_single", "_several")

    def __init__(self, document: PolicyDocument, kind: Kind, name: str,
                 checks: tuple[tuple[StatementCheck, bool], ...]):
        self.document = document
        self.kind = kind
        self.name = name
        self._checks = checks
        self._reasons = tuple(Reason(name, n, s) for n, s in enumerate(document.statements, start=1))
        # The usual answer is one statement: its Decision is built once, not per request.
        self._single = tuple(_decision("Deny" if deny else "Allow", (r,))
                             for r, (_, deny) in zip(self._reasons, checks))
        self._several: dict[tuple[int, ...], Decision] = {}  # decisions of several statements, as they occur

    def evaluate(self, query: Query) -> Decision:
        allows: list[int] | None = None
        denies: list[int] | None = None
        for index, (applies, deny) in enumerate(self._checks):
            if not applies(query):
                continue
            if deny:
                denies = [index] if denies is None else [*denies, index]
            else:
                allows = [index] if allows is None else [*allows, index]
        if denies is not None:  # an explicit deny wins over every allow
            return self._decided("Deny", denies)
        if allows is not None:
            return self._decided("Allow", allows)
        return NOT_APPLICABLE

    def _decided(self, effect: Effect, indexes: list[int]) -> Decision:
        if len(indexes) == 1:
            return self._single[indexes[0]]
        key = tuple(indexes)
        decision = self._several.get(key)
        if decision is None:
            decision = _decision(effect, [self._reasons[i] for i in indexes])
            if len(self._several) < _SEVERAL_CACHE_SIZE:
                self._several[key] = decision
        return decision

    def __repr__(self) -> str:
        return f"CompiledPolicy(kind={self.kind!r}, name={self.name!r}, statements={len(self._checks)})"


def compile_policy(document: PolicyDocument, kind: Kind = "resource", name: str = "") -> CompiledPolicy:
    """Compile ``document`` once; ``name`` labels its statements in decisions (e.g. the policy's ARN).

    Raises ``PolicyError`` for an identity policy that names a principal (IAM refuses those).
    """
    if kind not in ("resource", "identity"):
        raise ValueError(f"kind must be 'resource' or 'identity', not {kind!r}")
    if kind == "identity" and any(s.principal or s.not_principal for s in document.statements):
        raise PolicyError("An identity-based policy cannot contain Principal or NotPrincipal")
    variables = document.version == VARIABLES_VERSION  # older documents read ${...} literally
    checks = tuple((_statement_check(s, kind, variables), not s.allows) for s in document.statements)
    return CompiledPolicy(document, kind, name, checks)


def evaluate_identity(policies: Sequence[CompiledPolicy], session: CompiledPolicy | None, query: Query) -> Decision:
    """A caller's identity-based decision: its policies taken together, limited by a session policy (which
    grants nothing by itself: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session)."""
    decided = evaluate_all(policies, query)
    if session is None or decided.denied:
        return decided
    limit = session.evaluate(query)
    if limit.denied or not decided.allowed:
        return limit if limit.denied else decided
    # Allowed by the role's policies: the session policy must allow too (the intersection).
    return decided if limit.allowed else NOT_APPLICABLE


@functools.lru_cache(maxsize=4096)
def compile_text(text: str, kind: Kind = "resource", name: str = "") -> CompiledPolicy | None:
    """A stored policy document (JSON text) parsed and compiled once per (text, kind, name); the same few
    documents are asked about over and over (every request, every AssumeRole). Stored documents were
    checked when saved: one that no longer parses or compiles allows nothing (``None``)."""
    try:
        return compile_policy(parse_policy(text, require_principal=kind == "resource"), kind, name)
    except (PolicyError, ValueError):
        return None


def evaluate_all(policies: Iterable[CompiledPolicy], query: Query) -> Decision:
    """The decision of several policies taken together (a caller's identity policies):
    any explicit deny wins, else any allow, else not applicable; the reasons of all of them."""
    if isinstance(policies, (tuple, list)) and len(policies) == 1:
        return policies[0].evaluate(query)
    decisions = [p.evaluate(query) for p in policies]
    for effect in _DECIDING:
        deciding = [d for d in decisions if d.effect == effect]
        if len(deciding) == 1:
            return deciding[0]
        if deciding:
            return _decision(effect, [r for d in deciding for r in d.reasons])
    return NOT_APPLICABLE
