"""The rule matcher and host selection: Lattice's matching semantics, pure."""

from __future__ import annotations

from hypothesis import given, strategies as st

from latticework.dataplane import router
from latticework.snapshot.model import (
    FixedResponse, HeaderMatch, Listener, Match, PathMatch, Route, Rule, Service, ServiceNetwork, VpcView,
)

paths = st.text(alphabet="abcXYZ/-_.~019", min_size=0, max_size=12).map(lambda s: "/" + s)


def listener(*rules: Rule) -> Listener:
    default = Rule("r-default", "arn", "default", None, None, FixedResponse(404), is_default=True)
    return Listener("l", "arn", "l", "HTTP", 80, tuple(sorted(rules, key=lambda r: r.priority)) + (default,))


def rule(id, priority, **match) -> Rule:
    return Rule(id, "arn", id, priority, Match(**match), FixedResponse(500))


def test_first_matching_rule_by_priority_wins():
    lst = listener(rule("v2", 10, path=PathMatch("prefix", "/v2")), rule("post", 20, method="POST"))
    assert router.match_rule(lst, "POST", "/v2/pay", {}).id == "v2"
    assert router.match_rule(lst, "POST", "/v1", {}).id == "post"
    assert router.match_rule(lst, "GET", "/v1", {}).id == "r-default"


def test_every_condition_of_a_rule_must_hold():
    lst = listener(rule("both", 1, method="GET", path=PathMatch("exact", "/a"),
                        headers=(HeaderMatch("x-env", "exact", "blue"),)))
    assert router.match_rule(lst, "GET", "/a", {"x-env": ["Blue"]}).id == "both"  # values: case-insensitive
    assert router.match_rule(lst, "GET", "/a", {}).id == "r-default"
    assert router.match_rule(lst, "get", "/a", {"x-env": ["blue"]}).id == "r-default"  # method: case-sensitive


def test_a_rule_with_several_header_matches_needs_every_one():
    lst = listener(rule("two", 1, headers=(HeaderMatch("x-env", "exact", "blue"),
                                          HeaderMatch("x-tier", "prefix", "gold"))))
    assert router.match_rule(lst, "GET", "/", {"x-env": ["blue"], "x-tier": ["golden"]}).id == "two"
    assert router.match_rule(lst, "GET", "/", {"x-env": ["blue"]}).id == "r-default"
    assert router.match_rule(lst, "GET", "/", {"x-tier": ["gold"]}).id == "r-default"
    assert router.match_rule(lst, "GET", "/", {"x-env": ["green"], "x-tier": ["gold"]}).id == "r-default"


def test_path_method_and_headers_together_each_decide():
    lst = listener(rule("all", 1, method="PUT", path=PathMatch("prefix", "/v2"),
                        headers=(HeaderMatch("x-a", "contains", "yes"), HeaderMatch("x-b", "exact", "1"))),
                   rule("path-only", 2, path=PathMatch("prefix", "/v2")))
    every = {"x-a": ["oh yes"], "x-b": ["1"]}
    assert router.match_rule(lst, "PUT", "/v2/x", every).id == "all"
    assert router.match_rule(lst, "GET", "/v2/x", every).id == "path-only"  # method fails
    assert router.match_rule(lst, "PUT", "/v2/x", {"x-a": ["oh yes"], "x-b": ["2"]}).id == "path-only"
    assert router.match_rule(lst, "PUT", "/v2/x", {"x-b": ["1"]}).id == "path-only"
    assert router.match_rule(lst, "PUT", "/v1", every).id == "r-default"  # path fails


header_matches = st.builds(HeaderMatch, st.sampled_from(["x-a", "x-b", "x-c"]),
                           st.sampled_from(["exact", "prefix", "contains"]), st.sampled_from(["a", "ab", "B"]),
                           st.booleans())
requests = st.dictionaries(st.sampled_from(["x-a", "x-b", "x-c"]),
                           st.lists(st.sampled_from(["a", "ab", "Ab", "b", "cab"]), min_size=1, max_size=2))


@given(method=st.sampled_from([None, "GET", "POST"]), path=st.one_of(st.none(), st.builds(PathMatch,
       st.sampled_from(["exact", "prefix"]), paths, st.booleans())),
       headers=st.lists(header_matches, max_size=3).map(tuple), seen_method=st.sampled_from(["GET", "POST"]),
       seen_path=paths, seen_headers=requests)
def test_a_match_holds_exactly_when_each_of_its_conditions_holds(method, path, headers, seen_method, seen_path,
                                                                 seen_headers):
    expected = ((method is None or method == seen_method)
                and (path is None or router.path_matches(path, seen_path))
                and all(router.header_matches(h, seen_headers.get(h.name, ())) for h in headers))
    assert router.matches(Match(method, path, headers), seen_method, seen_path, seen_headers) == expected


def test_path_match_ignores_the_query_and_honours_case_sensitivity():
    sensitive = listener(rule("s", 1, path=PathMatch("exact", "/Pay")))
    assert router.match_rule(sensitive, "GET", "/Pay?x=1", {}).id == "s"
    assert router.match_rule(sensitive, "GET", "/pay", {}).id == "r-default"
    insensitive = listener(rule("i", 1, path=PathMatch("exact", "/Pay", case_sensitive=False)))
    assert router.match_rule(insensitive, "GET", "/pAY", {}).id == "i"


def test_header_match_kinds_and_repeated_headers():
    for kind, value, seen, expected in [("prefix", "ab", "abc", True), ("prefix", "bc", "abc", False),
                                        ("contains", "b", "abc", True), ("exact", "abc", "abcd", False)]:
        assert router.header_matches(HeaderMatch("h", kind, value), [seen]) is expected
    assert router.header_matches(HeaderMatch("h", "exact", "two"), ["one", "two"])
    assert not router.header_matches(HeaderMatch("h", "exact", "Two", case_sensitive=True), ["two"])


@given(prefix=paths, rest=paths)
def test_a_prefix_matches_every_extension(prefix, rest):
    assert router.path_matches(PathMatch("prefix", prefix), prefix + rest)
    assert router.path_matches(PathMatch("exact", prefix), prefix)


@given(path=paths, value=paths)
def test_case_insensitive_match_equals_lowercased_sensitive_match(path, value):
    for kind in ("exact", "prefix"):
        assert router.path_matches(PathMatch(kind, value, False), path) == \
            router.path_matches(PathMatch(kind, value.lower()), path.lower())


def test_host_name_normalisation_and_route_lookup():
    assert router.host_name("Pay.Example.com.:8443") == "pay.example.com"
    assert router.host_name("[::1]:80") == "[::1]" and router.host_name("") is None
    svc = Service("svc", "arn", "pay", "1", "r", "pay.example.com", None, None, "NONE", 60.0)
    vpc = VpcView("vpc", "arn", "1", "r", "127.64.0.2", "127.64.0.10",
                  {"pay.example.com": Route(svc, ServiceNetwork("sn", "arn", "n", "1", "NONE"))})
    assert router.route_for(vpc, "PAY.example.com:80").service is svc
    assert router.route_for(vpc, "other.example.com") is None and router.route_for(vpc, None) is None
