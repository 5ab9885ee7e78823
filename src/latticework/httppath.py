"""Request paths as the data plane reads them: one normalization for rules, auth policies and targets.

A proxy that decides on one reading of a path while the target acts on
another can be walked past: a rule or a policy guarding ``/admin`` is not
asked about ``/public/../admin`` or ``/%61dmin`` when the target resolves
them to ``/admin``. Lattice does not document how it reads paths, so the data
plane makes the question moot: it brings every request path to one canonical
form, decides on that form, and forwards that same form to the target. Rule
path values are brought to the same form when the snapshot is compiled
(``rule_value``).

``normalize(target)`` takes the request target (origin form: path and query)
and answers the target to forward, or raises ``BadPath`` (the data plane
answers 400). In order:

1. The query (from the first ``?``) is kept as sent; only the path changes.
2. Refused: a path not starting with ``/``; a raw ``\\``, ``#``, control
   character or non-ASCII byte; a ``%`` not followed by two hex digits;
   an encoded ``/``, ``\\``, ``?``, ``#``, NUL or control character
   (``%2F``, ``%5C``...: targets disagree on whether they separate segments,
   so no reading of them is safe); escapes that decode to invalid UTF-8
   (overlong forms such as ``%C0%AE`` for ``.``); escaped escapes
   (``%252e``, which a target decoding twice reads as ``.``); decoded characters that
   Unicode compatibility folding (NFKC, what some servers apply) turns into
   ``.``, ``/``, ``\\``, ``;`` or ``%`` (e.g. fullwidth ``．``); a segment
   that is ``.`` or ``..`` with ``;`` parameters (``..;``), which servlet
   containers read as a dot segment.
3. Escapes of unreserved characters (``A-Z a-z 0-9 - . _ ~``) are decoded
   (``%61dmin`` -> ``admin``, ``%2e%2e`` -> ``..``); other escapes are kept,
   their hex digits upper-cased (``%c3%a9`` -> ``%C3%A9``).
4. Runs of ``/`` become one (``//admin`` -> ``/admin``).
5. Dot segments are removed as RFC 3986 §5.2.4 says (``/a/./b/../c`` ->
   ``/a/c``; ``..`` never climbs above the root).

What stays as sent: letter case (Lattice's rules and IAM's resources compare
paths case-sensitively; a case-insensitive target behind a policy naming one
spelling should be guarded with ``StringEqualsIgnoreCase`` on
``vpc-lattice-svcs:RequestPath``, or a rule with ``caseSensitive`` false),
``;`` path parameters (part of the segment for rules and policies alike),
and a trailing ``/``.

``decide_path(target)`` is the path part of a normalized target, what rules
match and the auth policy's resource and ``RequestPath`` read.
"""

from __future__ import annotations

import re
import unicodedata

UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Decoded, these would change how the path splits: never taken in escaped form.
_SEPARATING = frozenset("/\\?#")
_FOLDED_AWAY = frozenset("./\\;%")  # what NFKC must not produce from a non-ASCII character
_SUSPECT = re.compile(r"[%\\#]|//|/\.|[^\x21-\x7e]")  # anything step 2-5 may have to look at
_ESCAPE = re.compile(r"%(..)?")
_SLASHES = re.compile(r"/{2,}")
_DOUBLE = re.compile(r"%25[0-9A-Fa-f]{2}")
_HEX = frozenset("0123456789abcdefABCDEF")


class BadPath(ValueError):
    """A request path the data plane refuses (answered 400); the message says why."""


def normalize(target: str) -> str:
    """The request target to decide on and forward (see the module docstring), or ``BadPath``."""
    path, sep, query = target.partition("?")
    if not path.startswith("/"):
        raise BadPath("the request target must be a path starting with /")
    if _SUSPECT.search(path) is None:
        return target  # the rule: nothing to decode, merge or remove
    normal = _canonical(path)
    return normal + sep + query if normal != path else target


def rule_value(kind: str, value: str) -> str:
    """A rule's path match value in the form requests are compared in (``kind``: exact | prefix).

    A prefix may end inside a segment (``/api/.well``): its last segment is only decoded, never read as a dot
    segment. A value no request can take (an encoded ``/``...) is kept as written: it matches nothing."""
    try:
        if kind != "prefix" or value.endswith("/"):
            return normalize(value).partition("?")[0] if value.startswith("/") else value
        head, _, last = value.rpartition("/")
        return normalize(head + "/") + _decode_unreserved(last) if value.startswith("/") else value
    except BadPath:
        return value


def decide_path(target: str) -> str:
    """The path of an already normalized request target (without the query)."""
    return target.partition("?")[0]


def _canonical(path: str) -> str:
    if not path.isascii() or any(c < " " or c == "\x7f" for c in path):
        raise BadPath("the path holds a control character or a byte outside ASCII: percent-encode it")
    if "\\" in path or "#" in path:
        raise BadPath("the path holds a raw \\ or #")
    decoded = _decode_unreserved(path)
    _check_parameters(decoded.split("/"))
    return _remove_dot_segments(_SLASHES.sub("/", decoded))


def _decode_unreserved(path: str) -> str:
    """Decode escapes of unreserved characters, upper-case the others, refuse the unsafe ones."""
    if "%" not in path:
        return path
    _check_encoded_text(path)
    return _ESCAPE.sub(_one_escape, path)


def _one_escape(found: re.Match) -> str:
    digits = found.group(1)
    if digits is None or digits[0] not in _HEX or digits[1] not in _HEX:
        raise BadPath("a % in the path must start an escape of two hex digits")
    char = chr(int(digits, 16))
    if char in UNRESERVED:
        return char
    if char in _SEPARATING or char < " " or char == "\x7f":
        raise BadPath(f"the path holds an encoded {'separator' if char in _SEPARATING else 'control character'} "
                      f"(%{digits.upper()})")
    return "%" + digits.upper()


def _check_encoded_text(path: str) -> None:
    """Escapes must spell valid UTF-8, none of whose characters folds into a path delimiter, and none may
    be an escaped escape (``%252e``: a target decoding twice would read ``.``)."""
    if _DOUBLE.search(path):
        raise BadPath("the path holds an escaped escape (%25 and two hex digits)")
    raw = bytearray()
    for piece in re.split(r"(%..)", path):
        if len(piece) == 3 and piece[0] == "%" and piece[1] in _HEX and piece[2] in _HEX:
            raw.append(int(piece[1:], 16))
        else:
            raw.extend(piece.encode("ascii", "replace"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPath("the path's escapes do not spell valid UTF-8 (overlong or truncated sequence)") from None
    for char in text:
        if not char.isascii() and _FOLDED_AWAY.intersection(unicodedata.normalize("NFKC", char)):
            raise BadPath(f"the path holds {char!r} (U+{ord(char):04X}), which servers may read as "
                          f"{unicodedata.normalize('NFKC', char)!r}")


def _check_parameters(segments: list[str]) -> None:
    for segment in segments:
        head = segment.partition(";")[0]
        if head in (".", "..") and ";" in segment:
            raise BadPath(f"the path segment {segment!r} is a dot segment with parameters")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path without empty segments."""
    if "/." not in path:
        return path
    out: list[str] = []
    parts = path.split("/")[1:]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        elif part == ".":
            if last:
                out.append("")
        else:
            out.append(part)
    return "/" + "/".join(out)
