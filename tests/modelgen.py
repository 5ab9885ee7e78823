"""Values generated from the botocore model, for round-trip, fuzz and validation tests.

``valid(shape)`` is a hypothesis strategy of Python values that satisfy every
constraint the model states for ``shape``: required members, enums, string
lengths and patterns, numeric ranges, list and map sizes, and the union rule
(exactly one member set). Structures come out as dicts keyed by member name,
the form the framework's parsers produce and providers receive. Output
timestamps are timezone-aware datetimes with millisecond precision (what the
iso8601 wire format carries).

Patterns are generated with ``hypothesis.strategies.from_regex`` after two
rewrites that keep generated values valid under Java's regex semantics (AWS's
front ends) as well as Python's: ``\\d`` becomes ``[0-9]`` (Python's ``\\d``
matches every Unicode digit), and a ``.*(^...$|(^$)).*`` wrapper is reduced to
its anchored group (the ``.*`` around anchors can only match nothing, which
generation cannot know, so almost every draw would be filtered out). Line
terminators are left out of generated text: Java's ``.`` does not match them.

``examples(strategy, n)`` draws ``n`` values deterministically, for tests
that need plain lists (the fuzzer).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

from botocore.model import Shape
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# List and map sizes and free text are capped: the constraints matter, bulk does not.
MAX_ITEMS = 3
MAX_TEXT = 24
INT_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
LINE_TERMINATORS = "\n\r\x85\u2028\u2029"
TEXT = st.characters(codec="utf-8", exclude_characters=LINE_TERMINATORS)
# XML 1.0 cannot carry control characters or non-characters at all, escaped or not.
XML_TEXT = st.characters(codec="utf-8", exclude_categories=("Cc", "Cn"), exclude_characters=LINE_TERMINATORS)
DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, phases=[Phase.generate],
                         suppress_health_check=list(HealthCheck))


def generation_pattern(pattern: str) -> str:
    """The model's pattern, rewritten so that from_regex yields values Java also accepts."""
    wrapped = re.fullmatch(r"\.\*(\(.*\))\.\*", pattern)
    if wrapped and "^" in wrapped.group(1):
        pattern = wrapped.group(1)
    return _ascii_digits(pattern)


def _ascii_digits(pattern: str) -> str:
    out, in_class, escaped = [], False, False
    for index, char in enumerate(pattern):
        if escaped:
            out.append(("0-9" if in_class else "[0-9]") if char == "d" else "\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            in_class = (in_class or char == "[") and not (in_class and char == "]" and out[-1] != "[")
            out.append(char)
    return "".join(out)


def _sized(pattern: str, low: int, high: int | None) -> str:
    """A bare ``[class]+`` (or ``*``) pattern with the length bounds folded into its quantifier.

    Drawing ``[...]+`` and filtering on ``min`` rejects almost every draw when
    ``min`` is 20 (STS's ARNs); ``[...]{20,44}`` yields such values at once.
    """
    bare = re.fullmatch(r"(\[(?:[^\]\\]|\\.)*\])([+*])", pattern)
    if not bare:
        return pattern
    least = max(low, 1 if bare.group(2) == "+" else 0)
    most = min(high, least + MAX_TEXT) if high is not None else least + MAX_TEXT
    return f"{bare.group(1)}{{{least},{most}}}"


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:  # Java-only syntax (\p{L}...): the framework skips it too
        return False
    return True


def _string(shape: Shape, xml: bool) -> st.SearchStrategy[str]:
    meta = shape.metadata
    alphabet = XML_TEXT if xml else TEXT
    low, high = meta.get("min", 0), meta.get("max")
    if "enum" in meta:
        return st.sampled_from(meta["enum"])
    if "pattern" in meta and _compiles(meta["pattern"]):
        return _patterned(meta["pattern"], low, high, xml)
    top = min(high, low + MAX_TEXT) if high is not None else low + MAX_TEXT
    return st.text(alphabet, min_size=low, max_size=top)


@functools.cache
def _patterned(pattern: str, low: int, high: int | None, xml: bool) -> st.SearchStrategy[str]:
    """Shared by every shape with this pattern: building a regex strategy over a wide
    Unicode class takes most of a second, and models repeat their patterns."""
    sized = _sized(generation_pattern(pattern), low, high)
    base = st.from_regex(sized, fullmatch=True, alphabet=XML_TEXT if xml else TEXT)
    return base.filter(lambda v: low <= len(v) <= (high if high is not None else len(v)))


def _number(shape: Shape) -> st.SearchStrategy:
    meta = shape.metadata
    if shape.type_name in ("float", "double"):
        return st.floats(meta.get("min"), meta.get("max"), allow_nan=False, allow_infinity=False)
    low, high = INT_RANGES[shape.type_name]
    return st.integers(meta.get("min", low), meta.get("max", high))


def _timestamp() -> st.SearchStrategy[dt.datetime]:
    moments = st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1), timezones=st.just(dt.timezone.utc))
    return moments.map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))


def _size(shape: Shape, full: bool = False, max_items: int = MAX_ITEMS) -> tuple[int, int]:
    low = shape.metadata.get("min", 0)
    high = min(shape.metadata.get("max", low + max_items), low + max_items)
    return (max(low, min(1, high)) if full else low), high


def _structure(shape: Shape, xml: bool, full: bool, max_items: int, depth: int | None) -> st.SearchStrategy[dict]:
    inner = None if depth is None else max(depth - 1, 0)
    if depth == 0:  # nested deep enough: what the model requires, nothing more
        names = [n for n in shape.members if n in shape.required_members]
    else:
        names = list(shape.members)
    members = {n: valid(shape.members[n], xml, full, max_items, inner) for n in names}
    if shape.metadata.get("union"):
        return st.one_of([st.fixed_dictionaries({name: s}) for name, s in members.items()])
    required = set(shape.members if full else shape.required_members)
    return st.fixed_dictionaries({n: s for n, s in members.items() if n in required},
                                 optional={n: s for n, s in members.items() if n not in required})


@functools.cache
def valid(shape: Shape, xml: bool = False, full: bool = False, max_items: int = MAX_ITEMS,
          depth: int | None = None) -> st.SearchStrategy:
    """Values satisfying every constraint the model states for ``shape``.

    ``xml=True`` keeps text to what an XML document can carry (query/ec2 output);
    ``full=True`` sets every optional member and gives lists and maps at least
    one item, so that each member appears somewhere (the fuzzer mutates them).
    ``max_items`` caps lists and maps above their model minimum; ``depth``
    (unbounded when None) is how many levels of structures may carry optional
    members: deeper ones get their required members only, and lists their
    minimum size, which keeps values from big models (EC2's) small.
    """
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, xml, full, max_items, depth)
    if kind in ("list", "map"):
        low, high = _size(shape, full and depth != 0, max_items)
        high = low if depth == 0 else high
        if kind == "list":
            return st.lists(valid(shape.member, xml, full, max_items, depth), min_size=low, max_size=high)
        return st.dictionaries(valid(shape.key, xml, full, max_items, depth),
                               valid(shape.value, xml, full, max_items, depth), min_size=low, max_size=high)
    if kind == "string":
        return _string(shape, xml)
    if kind in ("integer", "long", "float", "double"):
        return _number(shape)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return _timestamp()
    if kind == "blob":
        return st.binary(max_size=MAX_TEXT)
    raise NotImplementedError(kind)


def examples(strategy: st.SearchStrategy, n: int) -> list[Any]:
    """``n`` draws of ``strategy``, the same on every run."""
    drawn: list[Any] = []

    @settings(DETERMINISTIC, max_examples=n)
    @given(strategy)
    def collect(value):
        drawn.append(value)

    collect()
    return drawn[:n]


def top_level_locations(shape: Shape | None) -> dict[str, str]:
    """Member name -> wire location (``uri``, ``querystring``, ``header`` or ``body``)."""
    if shape is None:
        return {}
    return {name: m.serialization.get("location", "body") for name, m in shape.members.items()}


def botocore_request(op, params: dict, endpoint: str = "http://127.0.0.1:4599", *, check: bool = True):
    """``params`` serialized by botocore exactly as a client would send it (an ``AWSRequest``).

    ``check=False`` skips botocore's client-side parameter validation, so
    invalid inputs can be put on the wire.
    """
    from botocore.awsrequest import create_request_object, prepare_request_dict
    from botocore.serialize import create_serializer

    serializer = create_serializer(op.metadata["protocol"], include_validation=check)
    request = serializer.serialize_to_request(params, op)
    prepare_request_dict(request, endpoint)
    return create_request_object(request)


def sign(request, key: str = "test", secret: str = "test", service: str = "vpc-lattice",
         region: str = "us-east-1", token: str | None = None):
    """Sign an ``AWSRequest`` in place with SigV4 (header form) and return it prepared."""
    from botocore.auth import SigV4Auth
    from botocore.credentials import Credentials

    SigV4Auth(Credentials(key, secret, token), service, region).add_auth(request)
    return request.prepare()
