"""Condition blocks: every IAM condition operator, compiled once into a predicate over a ``Query``.

A statement's conditions are AND'd: every (operator, key) pair must hold. Within
one pair the policy's values are OR'd ("the key equals one of these"), except for
the negated operators, where they are NOR'd ("the key equals none of these"): IAM,
"If a policy lists multiple values for negated matching operators such as
StringNotEquals, the effective permissions work like a logical AND"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html).
So a negated operator is compiled as its positive twin (``StringNotLike`` as
``StringLike``, ``NotIpAddress`` as ``IpAddress``) with the answer inverted.

A key absent from the request
    The condition is false, except (IAM, "Condition operators", Important:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)
    - with ``...IfExists``: true;
    - with a negated operator (``StringNotEquals``, ``ArnNotLike``, ``NotIpAddress``...):
      true, "If the policy condition requires that the key is not matched ... and
      the right key is not present, the condition is true";
    - with ``ForAllValues``: true (the empty set's values all match), and
      ``ForAnyValue``: false
      (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html);
    - ``Null`` tests presence itself: ``"true"`` holds for an absent key, ``"false"``
      for a present one.

Set qualifiers
    ``ForAnyValue``: some request value passes the test; ``ForAllValues``: every
    request value passes it. The test of one request value is the operator's
    (for a negated operator: "matches none of the policy's values"), so
    ``ForAllValues:StringNotLike`` holds when no request value is like any policy
    value, as IAM's tag-key examples show. A single-valued key is a set of one.
    Without a qualifier a multivalued key passes when one of its values passes
    (IAM leaves this undefined and asks for a qualifier on such keys).

Values that cannot be used
    A policy value that does not parse (a number, date, CIDR, base64 or ARN that is
    not one) or holds a policy variable the request cannot resolve is never
    satisfied: under a positive operator it matches nothing (the other values still
    may); under a negated operator the condition fails, since the request cannot be
    shown to differ from it. Policy variables are read in the values of the
    String and ARN operators only (IAM, "Where you can use policy variables").

Value types
    Numbers are integers or decimals compared exactly (``Decimal``); dates are W3C
    ISO 8601 (``2024-05-01``, ``2024-05-01T12:00:00Z``...; UTC when no offset) or
    epoch seconds: a string of digits is always epoch seconds, so ``"2024"`` is 33
    minutes after 1970, not a year. ``Bool`` compares ``true``/``false`` ignoring
    case. ``BinaryEquals`` compares bytes: the policy's value is base64, and so is
    the request's. ``IpAddress`` takes CIDRs, IPv4 and IPv6; a bare address is a
    /32 (/128). ARNs are compared part by part: the six colon-separated parts
    (``arn``, partition, service, region, account, resource), each with its own
    wildcards, so ``*`` in the region never reaches into the account; the last
    part keeps its colons. ``ArnEquals`` and ``ArnLike`` behave identically, as in IAM.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Sequence

from latticework.policy.document import Condition
from latticework.policy.patterns import (
    Template,
    Text,
    compile_glob,
    glob_set,
    is_static,
    literal,
    parse_template,
    resolve,
    split_texts,
)

if TYPE_CHECKING:
    from latticework.policy.context import Query

Predicate = Callable[[str], bool]
Resolved = tuple[Text, ...]
ConditionCheck = Callable[["Query"], bool]


@dataclass(frozen=True, slots=True)
class Values:
    """The policy's values of one condition, compiled: ``matches`` says whether a request value
    matches at least one usable value; ``complete`` whether every value was usable."""

    matches: Predicate
    complete: bool


Family = Callable[[Sequence[Resolved]], Values]


def _never(value: str) -> bool:
    return False


# -- strings -----------------------------------------------------------------------------------

def _string_equals(values: Sequence[Resolved]) -> Values:
    return Values(frozenset(literal(v) for v in values).__contains__, True)


def _string_equals_ignore_case(values: Sequence[Resolved]) -> Values:
    lowered = frozenset(literal(v).lower() for v in values)
    return Values(lambda value: value.lower() in lowered, True)


def _string_like(values: Sequence[Resolved]) -> Values:
    return Values(glob_set(values), True)


# -- numbers and dates -------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EPOCH = re.compile(r"[+-]?\d+(?:\.\d+)?")
_W3C_DATE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?)?)?)?")


@lru_cache(maxsize=4096)
def parse_number(text: str) -> int | Decimal | None:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return int(text) if text.lstrip("+-").isdigit() else Decimal(text)
    except (ValueError, InvalidOperation):
        return None


@lru_cache(maxsize=4096)
def parse_date(text: str) -> Decimal | None:
    """Seconds since the epoch, from epoch seconds or a W3C ISO 8601 date."""
    text = text.strip()
    if _EPOCH.fullmatch(text):
        return Decimal(text)
    found = _W3C_DATE.fullmatch(text)
    try:
        moment = _w3c(found) if found else datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


def _w3c(found: re.Match[str]) -> datetime:
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                    int(second or 0), micro, tzinfo=_zone(zone))


def _zone(zone: str | None) -> timezone:
    if zone is None or zone in "Zz":
        return timezone.utc
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(zone)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _ordered(parse: Callable[[str], Any], compare: Callable[[Any, Any], bool]) -> Family:
    def family(values: Sequence[Resolved]) -> Values:
        parsed = [parse(literal(v)) for v in values]
        usable = tuple(p for p in parsed if p is not None)

        def matches(value: str) -> bool:
            have = parse(value)
            return have is not None and any(compare(have, want) for want in usable)
        return Values(matches if usable else _never, len(usable) == len(parsed))
    return family


# -- booleans, binary, addresses -----------------------------------------------------------------

def _bool(values: Sequence[Resolved]) -> Values:
    lowered = [literal(v).lower() for v in values]
    usable = frozenset(v for v in lowered if v in ("true", "false"))
    return Values(lambda value: value.lower() in usable, len(usable) == len(set(lowered)))


@lru_cache(maxsize=1024)
def _decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _binary(values: Sequence[Resolved]) -> Values:
    decoded = [_decode(literal(v)) for v in values]
    usable = frozenset(d for d in decoded if d is not None)
    return Values(lambda value: _decode(value) in usable, None not in decoded)


Network = tuple[int, int, int]  # (IP version, network as an integer, netmask as an integer)


def _network(text: str) -> Network | None:
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    return network.version, int(network.network_address), int(network.netmask)


@lru_cache(maxsize=4096)
def _addresses(text: str) -> tuple[tuple[int, int], ...]:
    """(version, integer) of a request address; an IPv4-mapped IPv6 address is also its IPv4 address."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return ()
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    own = (address.version, int(address))
    return (own, (4, int(mapped))) if mapped is not None else (own,)


def _ip_address(values: Sequence[Resolved]) -> Values:
    parsed = [_network(literal(v)) for v in values]
    networks = tuple(n for n in parsed if n is not None)

    def matches(value: str) -> bool:
        return any(version == v and number & mask == net
                   for version, number in _addresses(value) for v, net, mask in networks)
    return Values(matches, len(networks) == len(parsed))


# -- ARNs --------------------------------------------------------------------------------------

def _arn(values: Sequence[Resolved]) -> Values:
    parts = [split_texts(v, ":", 5) for v in values]
    arns = tuple(tuple(compile_glob(p) for p in arn) for arn in parts if len(arn) == 6)

    def matches(value: str) -> bool:
        pieces = value.split(":", 5)
        return len(pieces) == 6 and any(all(g.matches(p) for g, p in zip(arn, pieces)) for arn in arns)
    return Values(matches, len(arns) == len(parts))


# -- the operator table ------------------------------------------------------------------------

# test -> (family of its positive twin, negated, reads policy variables)
OPERATORS: dict[str, tuple[Family, bool, bool]] = {
    "StringEquals": (_string_equals, False, True),
    "StringNotEquals": (_string_equals, True, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False, True),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True, True),
    "StringLike": (_string_like, False, True),
    "StringNotLike": (_string_like, True, True),
    "NumericEquals": (_ordered(parse_number, operator.eq), False, False),
    "NumericNotEquals": (_ordered(parse_number, operator.eq), True, False),
    "NumericLessThan": (_ordered(parse_number, operator.lt), False, False),
    "NumericLessThanEquals": (_ordered(parse_number, operator.le), False, False),
    "NumericGreaterThan": (_ordered(parse_number, operator.gt), False, False),
    "NumericGreaterThanEquals": (_ordered(parse_number, operator.ge), False, False),
    "DateEquals": (_ordered(parse_date, operator.eq), False, False),
    "DateNotEquals": (_ordered(parse_date, operator.eq), True, False),
    "DateLessThan": (_ordered(parse_date, operator.lt), False, False),
    "DateLessThanEquals": (_ordered(parse_date, operator.le), False, False),
    "DateGreaterThan": (_ordered(parse_date, operator.gt), False, False),
    "DateGreaterThanEquals": (_ordered(parse_date, operator.ge), False, False),
    "Bool": (_bool, False, False),
    "BinaryEquals": (_binary, False, False),
    "IpAddress": (_ip_address, False, False),
    "NotIpAddress": (_ip_address, True, False),
    "ArnEquals": (_arn, False, True),
    "ArnLike": (_arn, False, True),
    "ArnNotEquals": (_arn, True, True),
    "ArnNotLike": (_arn, True, True),
}


def negated(test: str) -> bool:
    return test in OPERATORS and OPERATORS[test][1]


def compile_condition(condition: Condition, variables: bool) -> ConditionCheck:
    """The predicate of one (operator, key, values) triple; ``variables``: the document reads ``${...}``."""
    if condition.test == "Null":
        return _null(condition)
    family, negate, reads_variables = OPERATORS[condition.test]
    templates = [parse_template(v, variables and reads_variables) for v in condition.values]
    absent = condition.if_exists or condition.set_qualifier == "ForAllValues" or (
        negate and condition.set_qualifier is None)
    every = condition.set_qualifier == "ForAllValues"
    if all(is_static(t) for t in templates):
        fixed = family([tuple(p for p in t if isinstance(p, Text)) for t in templates])
        if negate and not fixed.complete:
            fixed = Values(_never, False)
        return _check(condition.key, absent, every, negate, lambda query: fixed)
    return _check(condition.key, absent, every, negate, _per_request(family, templates))


def _check(key: str, absent: bool, every: bool, negate: bool,
           values_for: Callable[[Query], Values]) -> ConditionCheck:
    folded = key.lower()

    def check(query: Query) -> bool:
        value = query.keys.get(key)
        if value is None or value == ():
            value = query.value(key, folded)  # another spelling of the key, or absent
            if value is None:
                return absent
        values = values_for(query)
        if negate and not values.complete:
            return False
        matches = values.matches
        if value.__class__ is str:
            return matches(value) != negate
        if every:
            return all(matches(v) != negate for v in value)
        return any(matches(v) != negate for v in value)
    return check


def _per_request(family: Family, templates: list[Template]) -> Callable[[Query], Values]:
    """Values holding variables, compiled for each request once the variables are known."""
    def values_for(query: Query) -> Values:
        resolved = [resolve(t, query.value) for t in templates]
        usable = [r for r in resolved if r is not None]
        values = family(usable)
        return values if len(usable) == len(resolved) else Values(values.matches, False)
    return values_for


def _null(condition: Condition) -> ConditionCheck:
    wanted = {v.lower() for v in condition.values}
    when_absent, when_present = "true" in wanted, "false" in wanted
    key, folded = condition.key, condition.key.lower()
    return lambda query: when_absent if query.value(key, folded) is None else when_present
