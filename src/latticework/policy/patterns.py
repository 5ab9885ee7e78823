"""Wildcard patterns and policy variables, compiled once and matched without backtracking blow-ups.

IAM patterns (actions, resources, ``StringLike`` and ``ArnLike`` values) know two
wildcards: ``*`` (any run of characters, ``/`` and ``:`` included) and ``?``
(exactly one character). Every other character stands for itself: a ``.``, ``+``
or ``[`` in a policy is escaped before anything is compiled, so no regular
expression ever comes from a policy's text.

Policy variables (``${aws:username}``, ``${aws:PrincipalTag/team}``, any key of
the request context; ``${key, 'default'}`` with a default) are replaced by the
request's value of that key when a policy is evaluated; the special variables
``${*}``, ``${?}`` and ``${$}`` stand for those characters taken literally. A
substituted value is literal too: a ``*`` in a user name matches only ``*``.
Variables exist only in ``Version: 2012-10-17`` documents; older documents take
``${...}`` as plain text
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).

The model
    ``Text``       a run of policy text; ``wild`` says whether ``*``/``?`` in it
                   are wildcards (policy text) or literal (a variable's value).
    ``Var``        a variable: its key (and the key folded for lookup), its default.
    template       a tuple of ``Text`` and ``Var``: a pattern before the request
                   is known. ``resolve`` turns it into ``Text`` alone, or ``None``
                   when a variable has no single value and no default.
    ``Glob``       a resolved pattern compiled to its cheapest test: anything
                   (``*``), an exact string, a prefix (``a*``), a suffix (``*a``),
                   a substring (``*a*``), or else a regular expression.

Matching is linear: ``a*b*c`` compiles to ``a(?>.*?b).*c``; each middle segment
is found at its leftmost place inside an atomic group and never retried, which
is enough because segments have a fixed length (a pattern of many ``*`` against
a long path cannot backtrack exponentially).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Mapping, Sequence

VARIABLES_VERSION = "2012-10-17"
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_BODY = re.compile(r"\s*([^,\s]+)\s*(?:,\s*'([^']*)'\s*)?")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}

ContextValue = str | tuple[str, ...]
Lookup = Callable[[str, str], "ContextValue | None"]


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    wild: bool = True


@dataclass(frozen=True, slots=True)
class Var:
    key: str
    folded: str  # the key lowercased: key names are case-insensitive
    default: str | None = None


Part = Text | Var
Template = tuple[Part, ...]


# -- templates -------------------------------------------------------------------------------

def parse_template(text: str, variables: bool) -> Template:
    """``text`` as a template; ``variables`` says whether ``${...}`` is a variable."""
    if not variables or "${" not in text:
        return (Text(text),)
    parts: list[Part] = []
    position = 0
    for found in _VARIABLE.finditer(text):
        if found.start() > position:
            parts.append(Text(text[position:found.start()]))
        parts.append(_variable(found.group(1), found.group(0)))
        position = found.end()
    if position < len(text):
        parts.append(Text(text[position:]))
    return tuple(parts)


def _variable(body: str, written: str) -> Part:
    if body in _SPECIAL:
        return Text(_SPECIAL[body], wild=False)
    parsed = _VARIABLE_BODY.fullmatch(body)
    if parsed is None:  # not a variable IAM would read: keep the text as written
        return Text(written)
    return Var(parsed.group(1), parsed.group(1).lower(), parsed.group(2))


def is_static(template: Template) -> bool:
    return all(isinstance(part, Text) for part in template)


def resolve(template: Template, lookup: Lookup) -> tuple[Text, ...] | None:
    """The template with its variables replaced, or ``None`` if one has no single value.

    IAM: a variable whose key is not in the request (or holds several values) cannot
    be resolved, and what it is part of does not match.
    """
    out: list[Text] = []
    for part in template:
        if isinstance(part, Text):
            out.append(part)
            continue
        value = lookup(part.key, part.folded)
        if isinstance(value, tuple):
            value = value[0] if len(value) == 1 else None
        if value is None:
            value = part.default
        if value is None:
            return None
        out.append(Text(value, wild=False))
    return tuple(out)


def literal(texts: Iterable[Text]) -> str:
    """Resolved text as a plain string (for operators without wildcards)."""
    return "".join(t.text for t in texts)


def split_texts(texts: Iterable[Text], separator: str, limit: int) -> list[tuple[Text, ...]]:
    """Resolved text split on ``separator`` at most ``limit`` times, wherever the separator came from
    (IAM substitutes variables first, then compares)."""
    pieces: list[list[Text]] = [[]]
    for text in texts:
        chunks = text.text.split(separator, max(limit - (len(pieces) - 1), 0))
        for index, chunk in enumerate(chunks):
            if index:
                pieces.append([])
            if chunk:
                pieces[-1].append(Text(chunk, text.wild))
    return [tuple(p) for p in pieces]


# -- globs -----------------------------------------------------------------------------------

_STAR = object()
_ONE = object()


def _tokens(texts: Iterable[Text]) -> list[object]:
    """Literal strings, ``_STAR`` and ``_ONE``; adjacent literals merged, runs of ``*`` collapsed."""
    tokens: list[object] = []
    for text in texts:
        for char in text.text:
            token: object = char
            if text.wild and char in "*?":
                token = _STAR if char == "*" else _ONE
            if token is _STAR and tokens and tokens[-1] is _STAR:
                continue
            if isinstance(token, str) and tokens and isinstance(tokens[-1], str):
                tokens[-1] += token
            else:
                tokens.append(token)
    return tokens


def _segment(tokens: Sequence[object]) -> str:
    return "".join(re.escape(t) if isinstance(t, str) else "." for t in tokens)


def glob_source(texts: Iterable[Text]) -> str:
    """A regular expression (for ``fullmatch``) that matches what the pattern matches."""
    return _source(_tokens(texts))


def _source(tokens: Iterable[object]) -> str:
    segments: list[list[object]] = [[]]
    for token in tokens:
        if token is _STAR:
            segments.append([])
        else:
            segments[-1].append(token)
    if len(segments) == 1:
        return _segment(segments[0])
    middle = "".join(f"(?>.*?{_segment(s)})" for s in segments[1:-1] if s)
    return f"{_segment(segments[0])}{middle}.*{_segment(segments[-1])}"


@dataclass(frozen=True, slots=True)
class Glob:
    """A resolved pattern, compiled to its cheapest test: ``matches(value)``."""

    kind: str  # "any" | "exact" | "prefix" | "suffix" | "contains" | "regex"
    text: str = ""  # the literal part, for every kind but "any" and "regex"
    regex: re.Pattern[str] | None = None

    def matches(self, value: str) -> bool:
        if self.kind == "exact":
            return value == self.text
        if self.kind == "prefix":
            return value.startswith(self.text)
        if self.kind == "suffix":
            return value.endswith(self.text)
        if self.kind == "contains":
            return self.text in value
        if self.kind == "regex":
            assert self.regex is not None
            return self.regex.fullmatch(value) is not None
        return True


def compile_glob(texts: Iterable[Text], ignore_case: bool = False) -> Glob:
    tokens = _tokens(texts)
    if ignore_case:
        tokens = [t.lower() if isinstance(t, str) else t for t in tokens]
    shape = tuple("*" if t is _STAR else "?" if t is _ONE else "x" for t in tokens)
    text = next((t for t in tokens if isinstance(t, str)), "")
    kind = {("*",): "any", (): "exact", ("x",): "exact", ("x", "*"): "prefix", ("*", "x"): "suffix",
            ("*", "x", "*"): "contains"}.get(shape)
    if kind is not None:
        return Glob(kind, text)
    return Glob("regex", regex=re.compile(_source(tokens), re.DOTALL | (re.IGNORECASE if ignore_case else 0)))


def glob_set(patterns: Iterable[Iterable[Text]], ignore_case: bool = False) -> Callable[[str], bool]:
    """One predicate for "matches any of these patterns": exact strings in a set, prefixes and
    suffixes in one ``startswith``/``endswith``, the rest in one alternation."""
    globs = [compile_glob(p, ignore_case) for p in patterns]
    if any(g.kind == "any" for g in globs):
        return lambda value: True
    exact = frozenset(g.text for g in globs if g.kind == "exact")
    prefixes = tuple(g.text for g in globs if g.kind == "prefix")
    suffixes = tuple(g.text for g in globs if g.kind == "suffix")
    inside = tuple(g.text for g in globs if g.kind == "contains")
    sources = [g.regex.pattern for g in globs if g.regex is not None]
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    regex = re.compile("|".join(f"(?:{s})" for s in sources), flags).fullmatch if sources else None
    predicate = _glob_set_predicate(exact, prefixes, suffixes, inside, regex)
    if ignore_case:  # the literal parts were lowered; the expression ignores case itself
        return lambda value: predicate(value.lower())
    return predicate


def _glob_set_predicate(exact: frozenset[str], prefixes: tuple[str, ...], suffixes: tuple[str, ...],
                        inside: tuple[str, ...],
                        regex: Callable[[str], re.Match[str] | None] | None) -> Callable[[str], bool]:
    if not (prefixes or suffixes or inside) and regex is None:
        return exact.__contains__

    def matches(value: str) -> bool:
        return (value in exact or (bool(prefixes) and value.startswith(prefixes))
                or (bool(suffixes) and value.endswith(suffixes)) or any(t in value for t in inside)
                or (regex is not None and regex(value) is not None))
    return matches


@lru_cache(maxsize=4096)
def _cached_glob(pattern: str) -> Glob:
    return compile_glob([Text(pattern)])


def wildcard_match(pattern: str, value: str) -> bool:
    """Whether ``value`` matches the IAM pattern ``pattern`` (``*`` and ``?`` wildcards, case-sensitive)."""
    return _cached_glob(pattern).matches(value)


@lru_cache(maxsize=4096)
def resolved_regex(source: str) -> Callable[[str], re.Match[str] | None]:
    """A pattern resolved at evaluation (it held variables), compiled once per distinct text."""
    return re.compile(source, re.DOTALL).fullmatch


def matches_resolved(texts: tuple[Text, ...], value: str) -> bool:
    return resolved_regex(glob_source(texts))(value) is not None


def folded_index(keys: Mapping[str, ContextValue]) -> dict[str, ContextValue]:
    """Keys lowercased (the first spelling wins when two differ only in case)."""
    index: dict[str, ContextValue] = {}
    for key, value in keys.items():
        index.setdefault(key.lower(), value)
    return index
