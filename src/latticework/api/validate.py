"""Input validation driven by the botocore model.

``validate(shape, value)`` walks a parsed input against its shape and returns
every violated constraint (required members, types, enums, lengths, ranges,
patterns, unions), each with the member path in AWS's dotted form
(``targets.1.member.id``: 1-based list indexes, ``member`` for list items,
``key``/``value`` for maps).

Patterns are applied as full matches: the Lattice name patterns rely on it
(``(?!svc-)...[a-z0-9-]+`` only rejects the prefix when anchored), as AWS's
Java front ends do with ``Matcher.matches()``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

_SCALARS = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (str, int, float),
    "blob": (str, bytes),
}


@dataclass(frozen=True)
class Violation:
    """One failed constraint: where, the offending value, and what was required."""

    path: str
    value: Any
    constraint: str
    type_error: bool = False

    def describe(self) -> str:
        shown = "null" if self.value is None else f"'{_shorten(self.value)}'"
        return f"Value {shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def _shorten(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 256 else text[:256] + "..."


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        # ASCII: Java's \d and \w (AWS front ends) match ASCII only; Python's match any script.
        return re.compile(pattern, re.DOTALL | re.ASCII)
    except re.error:  # a Java-only construct; the model's other checks still apply
        return None


def validate(shape: Shape | None, value: Any, path: str = "") -> list[Violation]:
    """All violations of ``shape``'s constraints by ``value`` (empty when valid)."""
    if shape is None:
        return []
    out: list[Violation] = []
    _check(shape, value, path, out)
    return out


def _check(shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
    if isinstance(shape, StructureShape):
        _check_structure(shape, value, path, out)
    elif isinstance(shape, ListShape):
        _check_list(shape, value, path, out)
    elif isinstance(shape, MapShape):
        _check_map(shape, value, path, out)
    else:
        _check_scalar(shape, value, path, out)


def _type_ok(kind: str, value: Any) -> bool:
    expected = _SCALARS.get(kind, (object,))
    if kind in ("integer", "long", "float", "double") and isinstance(value, bool):
        return False
    return isinstance(value, expected)


def _check_structure(shape: StructureShape, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation(path or "body", value, "Member must be a structure", type_error=True))
        return
    for name in shape.required_members:
        if value.get(name) is None:
            out.append(Violation(_join(path, name), None, "Member must not be null"))
    set_members = [n for n, v in value.items() if n in shape.members and v is not None]
    if shape.metadata.get("union") and len(set_members) != 1:
        out.append(Violation(path or "body", None, "Member must have exactly one member set"))
    for name in set_members:
        _check(shape.members[name], value[name], _join(path, name), out)


def _check_list(shape: ListShape, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, list):
        out.append(Violation(path, value, "Member must be a list", type_error=True))
        return
    _check_length(shape, len(value), value, path, out)
    for index, item in enumerate(value, start=1):
        if item is None:
            out.append(Violation(f"{path}.{index}.member", None, "Member must not be null"))
        else:
            _check(shape.member, item, f"{path}.{index}.member", out)


def _check_map(shape: MapShape, value: Any, path: str, out: list[Violation]) -> None:
    if not isinstance(value, dict):
        out.append(Violation(path, value, "Member must be a map", type_error=True))
        return
    _check_length(shape, len(value), value, path, out)
    for key, item in value.items():
        _check(shape.key, key, f"{path}.key", out)
        if item is None:
            out.append(Violation(f"{path}.value", None, "Member must not be null"))
        else:
            _check(shape.value, item, f"{path}.value", out)


def _check_scalar(shape: Shape, value: Any, path: str, out: list[Violation]) -> None:
    kind = shape.type_name
    if not _type_ok(kind, value):
        out.append(Violation(path, value, f"Member must be of type {kind}", type_error=True))
        return
    meta = shape.metadata
    if kind == "string":
        _check_length(shape, len(value), value, path, out)
        if "enum" in meta and value not in meta["enum"]:
            out.append(Violation(path, value, f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]"))
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            out.append(Violation(path, value, f"Member must satisfy regular expression pattern: {meta['pattern']}"))
    elif kind in ("integer", "long", "float", "double"):
        _check_range(meta, value, path, out)


def _check_length(shape: Shape, length: int, value: Any, path: str, out: list[Violation]) -> None:
    meta = shape.metadata
    if "min" in meta and length < meta["min"]:
        out.append(Violation(path, value, f"Member must have length greater than or equal to {meta['min']}"))
    if "max" in meta and length > meta["max"]:
        out.append(Violation(path, value, f"Member must have length less than or equal to {meta['max']}"))


def _check_range(meta: dict, value: Any, path: str, out: list[Violation]) -> None:
    if "min" in meta and value < meta["min"]:
        out.append(Violation(path, value, f"Member must have value greater than or equal to {meta['min']}"))
    if "max" in meta and value > meta["max"]:
        out.append(Violation(path, value, f"Member must have value less than or equal to {meta['max']}"))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def summary(violations: list[Violation]) -> str:
    """AWS's one-line summary: ``N validation error(s) detected: ...; ...``."""
    noun = "error" if len(violations) == 1 else "errors"
    return f"{len(violations)} validation {noun} detected: " + "; ".join(v.describe() for v in violations)
