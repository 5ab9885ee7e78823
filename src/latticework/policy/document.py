"""Policy documents: the IAM policy language subset VPC Lattice reads, parsed and validated.

A policy is JSON text; ``parse_policy`` turns it into an immutable, typed
``PolicyDocument`` or raises ``PolicyError`` whose message says what is wrong
(the control plane answers it as a ``ValidationException``). Nothing here
decides whether a request is allowed: the evaluator works on these types.

The model
    ``PolicyDocument``  Version, Id and one or more ``Statement``\\ s.
    ``Statement``       Sid, Effect (``Allow``/``Deny``), Principal or
                        NotPrincipal, Action or NotAction, Resource or
                        NotResource, and Conditions. Single strings are
                        normalised to tuples; absent elements are ``None``,
                        so "no NotAction" and "an empty list" never blur.
    ``Principal``       ``"*"`` (anyone, ``anyone=True``) or typed lists,
                        e.g. ``{"AWS": ["arn:aws:iam::111122223333:root"]}``.
    ``Condition``       one (operator, key, values) triple, the operator split
                        into its test (``StringLike``), set qualifier
                        (``ForAnyValue``/``ForAllValues``) and ``IfExists``.
                        Condition values keep their JSON spelling as strings
                        (``true``, ``10``): IAM compares them as text.

Design for evaluation (see DESIGN.md §6): patterns (actions, resources,
``*Like`` values) are kept exactly as written; the evaluator escapes
everything but the ``*``/``?`` wildcards before compiling them, and reports
the statements that decided. ``to_json`` gives the document back in a
canonical JSON shape (lists everywhere), so ``parse_policy(json.dumps(d.to_json()))
== d`` for every parsed ``d``.

Validation follows IAM's grammar
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html):
unknown elements, duplicate keys, missing Effect/Action/Resource, both an
element and its ``Not`` form, and unknown condition operators are refused.
Lattice's documents allow ``Resource`` patterns such as ``*/rates``
(https://docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html), so a
resource is an ARN or starts with a wildcard.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

VERSIONS = ("2012-10-17", "2008-10-17")
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
SET_QUALIFIERS = ("ForAnyValue", "ForAllValues")
CONDITION_TESTS = frozenset({
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike",
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals",
    "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool", "BinaryEquals", "IpAddress", "NotIpAddress",
    "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
})
_DOCUMENT_KEYS = ("Version", "Id", "Statement")
_STATEMENT_KEYS = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource",
                   "Condition")
_ACTION = re.compile(r"[A-Za-z0-9-]+:\S+")
_ACCOUNT = re.compile(r"\d{12}")


class PolicyError(ValueError):
    """A policy document that is not valid; ``message`` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _Number(str):
    """A JSON number, kept as its text so it is never confused with a JSON string."""


# -- the document types --------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    anyone: bool = False
    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (type, values), in document order

    def values(self, principal_type: str) -> tuple[str, ...]:
        """The principals of one type (``AWS``, ``Service``...), ``()`` if none."""
        return next((v for t, v in self.entries if t == principal_type), ())

    def to_json(self) -> Any:
        return "*" if self.anyone else {t: list(v) for t, v in self.entries}


@dataclass(frozen=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    test: str  # the comparison, e.g. "StringLike"
    set_qualifier: str | None  # "ForAnyValue" | "ForAllValues" | None
    if_exists: bool
    key: str  # condition keys are case-sensitive in Lattice
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" | "Deny"
    sid: str | None = None
    principal: Principal | None = None
    not_principal: Principal | None = None
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def allows(self) -> bool:
        return self.effect == "Allow"

    def to_json(self) -> dict:
        out: dict[str, Any] = {"Sid": self.sid, "Effect": self.effect}
        for name, value in (("Principal", self.principal), ("NotPrincipal", self.not_principal)):
            if value is not None:
                out[name] = value.to_json()
        for name, values in (("Action", self.actions), ("NotAction", self.not_actions),
                             ("Resource", self.resources), ("NotResource", self.not_resources)):
            if values is not None:
                out[name] = list(values)
        if self.conditions:
            out["Condition"] = _conditions_json(self.conditions)
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class PolicyDocument:
    statements: tuple[Statement, ...]
    version: str | None = None
    id: str | None = None

    def to_json(self) -> dict:
        out = {"Version": self.version, "Id": self.id, "Statement": [s.to_json() for s in self.statements]}
        return {k: v for k, v in out.items() if v is not None}


def _conditions_json(conditions: Iterable[Condition]) -> dict:
    out: dict[str, dict[str, list[str]]] = {}
    for c in conditions:
        out.setdefault(c.operator, {})[c.key] = list(c.values)
    return out


# -- parsing -----------------------------------------------------------------

def parse_policy(text: str, *, require_principal: bool = True) -> PolicyDocument:
    """The document ``text`` holds, or ``PolicyError``.

    ``require_principal``: resource-based policies (auth and resource
    policies) name who they apply to in every statement.
    """
    raw = _load_json(text)
    if not isinstance(raw, dict):
        raise PolicyError("Policy document must be a JSON object")
    _no_unknown(raw, _DOCUMENT_KEYS, "Policy document")
    version = _optional_string(raw, "Version", "Policy document")
    if version is not None and version not in VERSIONS:
        raise PolicyError(f"Policy document has an unsupported Version {version}; use 2012-10-17")
    statements = _statement_list(raw)
    return PolicyDocument(
        statements=tuple(_statement(s, n, require_principal) for n, s in enumerate(statements, start=1)),
        version=version, id=_optional_string(raw, "Id", "Policy document"),
    )


def _load_json(text: str) -> Any:
    if not isinstance(text, str):
        raise PolicyError("Policy document is not valid JSON: expected a string")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_int=_Number, parse_float=_Number,
                          parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"Policy document is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") \
            from None
    except RecursionError:
        raise PolicyError("Policy document is not valid JSON: nested too deeply") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise PolicyError(f"Policy document has a duplicate key {key}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise PolicyError(f"Policy document is not valid JSON: {name} is not a JSON value")


def _no_unknown(obj: dict, known: tuple[str, ...], where: str) -> None:
    unknown = [k for k in obj if k not in known]
    if unknown:
        raise PolicyError(f"{where} has an unknown element {unknown[0]}")


def _is_string(value: Any) -> bool:
    return isinstance(value, str) and not isinstance(value, _Number)


def _optional_string(obj: dict, key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not _is_string(value):
        raise PolicyError(f"{where}: {key} must be a string")
    return value


def _statement_list(raw: dict) -> list:
    if "Statement" not in raw:
        raise PolicyError("Policy document is missing Statement")
    statements = raw["Statement"]
    if isinstance(statements, dict):
        return [statements]
    if not isinstance(statements, list):
        raise PolicyError("Policy document: Statement must be an object or a list of objects")
    if not statements:
        raise PolicyError("Policy document must contain at least one statement")
    return statements


def _statement(raw: Any, number: int, require_principal: bool) -> Statement:
    where = f"Statement {number}"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} must be a JSON object")
    _no_unknown(raw, _STATEMENT_KEYS, where)
    effect = _effect(raw, where)
    principal, not_principal = _principals(raw, where, require_principal)
    actions, not_actions = _either(raw, "Action", where, _check_action, "actions")
    resources, not_resources = _either(raw, "Resource", where, _check_resource, "resources")
    return Statement(
        effect=effect, sid=_optional_string(raw, "Sid", where),
        principal=principal, not_principal=not_principal, actions=actions, not_actions=not_actions,
        resources=resources, not_resources=not_resources, conditions=_conditions(raw.get("Condition"), where),
    )


def _effect(raw: dict, where: str) -> str:
    if "Effect" not in raw:
        raise PolicyError(f"Statement is missing Effect ({where})")
    effect = raw["Effect"]
    if effect not in ("Allow", "Deny") or not _is_string(effect):
        raise PolicyError(f"Unknown Effect value {effect!r} in {where}: use Allow or Deny")
    return effect


def _either(raw: dict, name: str, where: str, check, noun: str) -> tuple:
    """(``name``, ``Not<name>``): exactly one of the two is present."""
    positive, negative = raw.get(name), raw.get("Not" + name)
    if positive is not None and negative is not None:
        raise PolicyError(f"{where} cannot contain both {name} and Not{name}")
    if positive is None and negative is None:
        raise PolicyError(f"{where} is missing {name} (policy statements must contain {noun})")
    present = name if positive is not None else "Not" + name
    values = _strings(positive if positive is not None else negative, where, present)
    if not values:
        raise PolicyError(f"{where}: policy statements must contain {noun}")
    for value in values:
        check(value, where)
    return (values, None) if positive is not None else (None, values)


def _strings(value: Any, where: str, name: str) -> tuple[str, ...]:
    """A string or a list of strings, as a tuple."""
    if _is_string(value):
        return (value,)
    if isinstance(value, list) and all(_is_string(v) for v in value):
        return tuple(value)
    raise PolicyError(f"{where}: {name} must be a string or a list of strings")


def _check_action(action: str, where: str) -> None:
    if action != "*" and not _ACTION.fullmatch(action):
        raise PolicyError(f"{where}: action {action!r} must be prefaced by a service prefix, "
                          "e.g. vpc-lattice-svcs:Invoke")


def _check_resource(resource: str, where: str) -> None:
    if not (resource.startswith("arn:") or resource[:1] in ("*", "?")):
        raise PolicyError(f"{where}: resource {resource!r} must be in ARN format or start with a wildcard")


# -- principals ----------------------------------------------------------------

def _principals(raw: dict, where: str, required: bool) -> tuple[Principal | None, Principal | None]:
    if "Principal" in raw and "NotPrincipal" in raw:
        raise PolicyError(f"{where} cannot contain both Principal and NotPrincipal")
    if required and "Principal" not in raw and "NotPrincipal" not in raw:
        raise PolicyError(f"{where} is missing Principal")
    return (_principal(raw["Principal"], where, "Principal") if "Principal" in raw else None,
            _principal(raw["NotPrincipal"], where, "NotPrincipal") if "NotPrincipal" in raw else None)


def _principal(value: Any, where: str, name: str) -> Principal:
    if value == "*" and _is_string(value):
        return Principal(anyone=True)
    if not isinstance(value, dict) or not value:
        raise PolicyError(f"{where}: {name} must be \"*\" or an object such as {{\"AWS\": [...]}}")
    entries = []
    for principal_type, principals in value.items():
        if principal_type not in PRINCIPAL_TYPES:
            raise PolicyError(f"{where}: unknown principal type {principal_type} in {name}")
        values = _strings(principals, where, f"{name}.{principal_type}")
        if not values:
            raise PolicyError(f"{where}: {name}.{principal_type} must name at least one principal")
        for principal in values:
            _check_principal(principal_type, principal, where)
        entries.append((principal_type, values))
    return Principal(entries=tuple(entries))


def _check_principal(principal_type: str, principal: str, where: str) -> None:
    if principal_type == "AWS" and not (principal == "*" or _ACCOUNT.fullmatch(principal)
                                        or principal.startswith("arn:")):
        raise PolicyError(f"{where}: invalid AWS principal {principal!r}: use an account id, an ARN or \"*\"")
    if not principal.strip():
        raise PolicyError(f"{where}: a {principal_type} principal cannot be blank")


# -- conditions ----------------------------------------------------------------

def _conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: Condition must be an object of operators")
    return tuple(c for operator, block in raw.items() for c in _condition_block(operator, block, where))


def _condition_block(operator: str, block: Any, where: str) -> list[Condition]:
    test, qualifier, if_exists = _operator(operator, where)
    if not isinstance(block, dict):
        raise PolicyError(f"{where}: Condition {operator} must map condition keys to values")
    return [Condition(operator, test, qualifier, if_exists, _condition_key(key, where),
                      _condition_values(values, where, operator, key))
            for key, values in block.items()]


def _operator(operator: str, where: str) -> tuple[str, str | None, bool]:
    """(test, set qualifier, IfExists) of ``ForAnyValue:StringLikeIfExists`` and the like."""
    qualifier, _, test = operator.rpartition(":")
    if_exists = test.endswith("IfExists") and test != "IfExists"
    test = test[:-len("IfExists")] if if_exists else test
    valid = test in CONDITION_TESTS and (qualifier in SET_QUALIFIERS or not qualifier)
    if not valid or (test == "Null" and (if_exists or qualifier)):
        raise PolicyError(f"{where}: unknown condition operator {operator}")
    return test, qualifier or None, if_exists


def _condition_key(key: str, where: str) -> str:
    if not key.strip():
        raise PolicyError(f"{where}: a condition key cannot be blank")
    return key


def _condition_values(values: Any, where: str, operator: str, key: str) -> tuple[str, ...]:
    items = values if isinstance(values, list) else [values]
    if not items:
        raise PolicyError(f"{where}: Condition {operator} {key} must have at least one value")
    return tuple(_condition_value(v, where, operator, key) for v in items)


def _condition_value(value: Any, where: str, operator: str, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # JSON strings and numbers (kept as their text)
        return str(value)
    raise PolicyError(f"{where}: Condition {operator} {key} values must be strings, numbers or booleans")
