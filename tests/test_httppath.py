"""Request-path normalization (``latticework.httppath``): the corpus of known tricks and its properties.

The promise: whatever form a client sends, what rules and policies decide on is what the target gets,
and no reading a target may apply to what it gets (one percent-decoding, dot-segment removal, merged
slashes, NFKC folding, ``;`` parameters dropped) reaches a path the decision did not see.
"""

from __future__ import annotations

import posixpath
import unicodedata
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latticework.httppath import BadPath, decide_path, normalize, rule_value

# A guarded path and the ways clients have been seen to reach it past a proxy.
BYPASSES = [
    "/admin", "/admin/", "/admin/x", "//admin", "///admin/x", "/./admin", "/public/../admin", "/public/./../admin",
    "/%2e%2e/admin", "/public/%2e%2e/admin", "/public/%2E%2E/admin", "/public/.%2e/admin", "/public/%2e./admin",
    "/%61dmin", "/%61%64%6d%69%6e", "/adm%69n/x", "/public/..%2fadmin", "/public%2f..%2fadmin", "/public/..%5cadmin",
    "/public/..\\admin", "/public/..;/admin", "/public/.;/../admin", "/admin;x=1", "/public/%252e%252e/admin",
    "/%252fadmin", "/public/%c0%ae%c0%ae/admin", "/public/%e0%80%ae%e0%80%ae/admin",
    "/public/%ef%bc%8e%ef%bc%8e/admin", "/public/%ef%bc%8fadmin", "/admin%00.png", "/admin%0a", "/admin#frag",
    "/public/..%00/admin", "/public/%2e%2e%2fadmin", "/public/..%c0%afadmin", "/public/..%ef%bc%8fadmin",
    "/a/b/c/../../../admin", "/a/b/../../../../admin", "/admin/../admin/./x", "/public/....//admin",
]


def target_readings(path: str) -> set[str]:
    """Paths a lenient target could take ``path`` for."""
    readings = set()
    for decode_times in (0, 1, 2):
        p = path
        for _ in range(decode_times):
            p = unquote(p, errors="replace")
        for variant in (p, p.replace("\\", "/"), unicodedata.normalize("NFKC", p)):
            without_params = "/".join(s.partition(";")[0] for s in variant.split("/"))
            for v in (variant, without_params):
                readings.add(posixpath.normpath("/" + v.lstrip("/")).replace("//", "/"))
    return readings


def decided(path: str) -> str | None:
    try:
        return decide_path(normalize(path))
    except BadPath:
        return None


@pytest.mark.parametrize("attempt", BYPASSES)
def test_no_attempt_reaches_admin_without_the_decision_seeing_admin(attempt):
    seen = decided(attempt)
    if seen is None:
        return  # refused (400)
    reaches_admin = any(r == "/admin" or r.startswith("/admin/") or r.startswith("/admin;")
                        for r in target_readings(seen))
    decision_sees_admin = seen == "/admin" or seen.startswith(("/admin/", "/admin;"))
    assert reaches_admin == decision_sees_admin, (attempt, seen)


@pytest.mark.parametrize("attempt,expected", [
    ("/public/../admin", "/admin"), ("/%2e%2e/admin", "/admin"), ("//admin", "/admin"), ("/%61dmin", "/admin"),
    ("/a/./b/../c", "/a/c"), ("/a/..", "/"), ("/..", "/"), ("/a/b/.", "/a/b/"), ("/%c3%a9", "/%C3%A9"),
    ("/a;b/c", "/a;b/c"), ("/a/.hidden", "/a/.hidden"), ("/a..b", "/a..b"), ("/", "/"), ("/a/", "/a/"),
    ("/%7euser", "/~user"), ("/a%20b", "/a%20b"), ("/a+b", "/a+b"),
])
def test_normal_forms(attempt, expected):
    assert decided(attempt) == expected


@pytest.mark.parametrize("attempt", [
    "/a%2fb", "/a%2Fb", "/a%5cb", "/a%3fb", "/a%23b", "/a%00", "/a%0d%0a", "/a%", "/a%zz", "/a%2",
    "/..;/admin", "/.;/x", "/%c0%ae", "/%ef%bc%8e", "/%252e", "/a\\b", "/a#b", "/a\x00b", "/caf\xe9", "a/b", "*",
])
def test_refused(attempt):
    assert decided(attempt) is None


def test_query_is_kept_as_sent():
    assert normalize("/a/../b?x=/../y&z=%2f") == "/b?x=/../y&z=%2f"
    assert normalize("/plain?x=1") == "/plain?x=1"


def test_rule_values_take_the_same_form():
    assert rule_value("exact", "/a/../admin") == "/admin"
    assert rule_value("prefix", "//api//") == "/api/"
    assert rule_value("prefix", "/%61pi") == "/api"
    assert rule_value("prefix", "/api/.well") == "/api/.well"  # a prefix may end inside a segment
    assert rule_value("exact", "/a%2fb") == "/a%2fb"  # no request takes this form: it matches nothing


SEGMENT = st.sampled_from(["a", "admin", ".", "..", "", "%2e", "%2E%2e", "%61", "b;c", "~", "%7E", "x.y", "%c3%a9"])


@settings(max_examples=300, deadline=None)
@given(st.lists(SEGMENT, max_size=8))
def test_normal_form_is_a_fixed_point_without_dot_or_empty_segments(segments):
    path = "/" + "/".join(segments)
    seen = decided(path)
    if seen is None:
        return
    assert normalize(seen) == seen  # idempotent: forwarding it changes nothing
    inner = seen.split("/")[1:-1]
    assert "" not in inner and "." not in inner and ".." not in inner
    assert "%2e" not in seen.lower() and "%61" not in seen.lower()


@settings(max_examples=300, deadline=None)
@given(st.lists(SEGMENT, max_size=8))
def test_a_target_decoding_once_finds_no_dot_segment_left(segments):
    path = "/" + "/".join(segments)
    seen = decided(path)
    if seen is None:
        return
    once = unquote(seen)
    assert posixpath.normpath(once) == (once.rstrip("/") or "/")
