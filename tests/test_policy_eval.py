"""The policy engine: every condition operator and its edges, principals, actions, resources,
policy variables, decisions with their reasons, and properties over generated policies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latticework.policy import Caller, CompiledPolicy, PolicyError, Query, compile_policy, evaluate_all, parse_policy
from latticework.policy.conditions import OPERATORS
from latticework.policy.patterns import wildcard_match

ACCOUNT, OTHER = "111122223333", "444455556666"
SERVICE = f"arn:aws:vpc-lattice:us-east-1:{ACCOUNT}:service/svc-0123456789abcdef0"
RESOURCE = f"{SERVICE}/rates"
INVOKE = "vpc-lattice-svcs:Invoke"
USER = Caller(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT)
ROOT = Caller(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
SESSION = Caller.from_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/rates-client/s1")
STRANGER = Caller(f"arn:aws:iam::{OTHER}:user/mallory", OTHER)
ANYONE = {"Effect": "Allow", "Principal": "*", "Action": INVOKE, "Resource": "*"}
SETTINGS = settings(max_examples=200, deadline=None)


def policy(*statements: dict, version: str | None = "2012-10-17", kind: str = "resource") -> CompiledPolicy:
    raw: dict = {"Statement": list(statements)}
    if version:
        raw["Version"] = version
    document = parse_policy(json.dumps(raw), require_principal=kind == "resource")
    return compile_policy(document, kind)  # type: ignore[arg-type]


def ask(compiled: CompiledPolicy, keys: dict | None = None, principal: Caller | None = USER,
        action: str = INVOKE, resource: str = RESOURCE) -> str:
    return compiled.evaluate(Query(action, resource, principal, keys or {})).effect


def holds(operator: str, values, context, key: str = "k:key", version: str = "2012-10-17") -> bool:
    """Whether ``{operator: {key: values}}`` holds for a request whose ``key`` is ``context``
    (``None``: absent); ``context`` may also be a dict of the whole request context."""
    keys = context if isinstance(context, dict) else ({} if context is None else {key: context})
    compiled = policy({**ANYONE, "Condition": {operator: {key: values}}}, version=version)
    return ask(compiled, keys) == "Allow"


# -- string operators ----------------------------------------------------------------------------------

@pytest.mark.parametrize("operator,values,context,expected", [
    ("StringEquals", "GET", "GET", True),
    ("StringEquals", "GET", "get", False),  # case-sensitive
    ("StringEquals", ["GET", "POST"], "POST", True),  # values are OR'd
    ("StringEquals", "", "", True),
    ("StringEquals", "GET", None, False),  # absent key: false
    ("StringEquals", "a*", "abc", False),  # no wildcards in StringEquals
    ("StringEquals", "a*", "a*", True),
    ("StringNotEquals", "GET", "POST", True),
    ("StringNotEquals", "GET", "GET", False),
    ("StringNotEquals", ["GET", "POST"], "POST", False),  # negated values are NOR'd
    ("StringNotEquals", ["GET", "POST"], "PUT", True),
    ("StringNotEquals", "GET", None, True),  # a negated operator holds on an absent key
    ("StringEqualsIgnoreCase", "get", "GET", True),
    ("StringEqualsIgnoreCase", ["x", "Get"], "gEt", True),
    ("StringEqualsIgnoreCase", "get", "POST", False),
    ("StringEqualsIgnoreCase", "get", None, False),
    ("StringNotEqualsIgnoreCase", "anonymous", "Anonymous", False),
    ("StringNotEqualsIgnoreCase", "anonymous", "AssumedRole", True),
    ("StringNotEqualsIgnoreCase", ["a", "B"], "b", False),
    ("StringNotEqualsIgnoreCase", "anonymous", None, True),
    ("StringLike", "/rates*", "/rates/2024", True),
    ("StringLike", "/rates*", "/Rates", False),  # case-sensitive
    ("StringLike", "/r?tes", "/rates", True),
    ("StringLike", "/r?tes", "/raates", False),
    ("StringLike", "*", "", True),
    ("StringLike", "a*b*c", "aXbYbZc", True),
    ("StringLike", "a*b*c", "aXbYbZ", False),
    ("StringLike", ["x", "/rates*"], "/rates", True),
    ("StringLike", "/rates*", None, False),
    ("StringLike", "line*", "line1\nline2", True),  # * reaches across newlines
    ("StringNotLike", "/admin*", "/admin/x", False),
    ("StringNotLike", "/admin*", "/rates", True),
    ("StringNotLike", ["/admin*", "/internal*"], "/internal/x", False),
    ("StringNotLike", "/admin*", None, True),
])
def test_string_operators(operator, values, context, expected):
    assert holds(operator, values, context) is expected


@pytest.mark.parametrize("pattern,value,expected", [
    ("a.c", "a.c", True), ("a.c", "abc", False),  # regex metacharacters stand for themselves
    ("a+b", "a+b", True), ("a+b", "aab", False),
    ("[ab]", "[ab]", True), ("[ab]", "a", False),
    ("(x|y)", "(x|y)", True), ("(x|y)", "x", False),
    ("^a$", "^a$", True), ("^a$", "a", False),
    ("a\\d", "a\\d", True), ("a\\d", "a1", False),
    ("{1,2}", "{1,2}", True), ("x{2}", "xx", False),
    ("*.json", "a.json", True), ("*.json", "ajson", False),
    ("?.?", "a.b", True), ("?.?", "abb", False),
    ("*(?>x)*", "a(?>x)b", True), ("*(?>x)*", "axb", False),
])
def test_like_patterns_escape_everything_but_the_wildcards(pattern, value, expected):
    assert holds("StringLike", pattern, value) is expected
    assert wildcard_match(pattern, value) is expected


def test_many_wildcards_against_a_long_value_stay_fast():
    # A backtracking matcher would take ages here; each segment is found once, left to right.
    pattern = "*a" * 20 + "*b"
    assert holds("StringLike", pattern, "a" * 5000) is False
    assert holds("StringLike", pattern, "a" * 5000 + "b") is True


# -- numeric, date, bool, binary ----------------------------------------------------------------------------

@pytest.mark.parametrize("operator,values,context,expected", [
    ("NumericEquals", "80", "80", True),
    ("NumericEquals", "80", "443", False),
    ("NumericEquals", "1.5", "1.50", True),  # compared as numbers, not text
    ("NumericEquals", "10", "1e1", True),
    ("NumericEquals", ["80", "443"], "443", True),
    ("NumericEquals", "80", "eighty", False),  # a request value that is no number matches nothing
    ("NumericEquals", "9007199254740993", "9007199254740992", False),  # exact, not floats
    ("NumericNotEquals", "80", "443", True),
    ("NumericNotEquals", ["80", "443"], "443", False),
    ("NumericNotEquals", "80", None, True),
    ("NumericNotEquals", "eighty", "443", False),  # an unusable value cannot be shown to differ
    ("NumericLessThan", "100", "99", True),
    ("NumericLessThan", "100", "100", False),
    ("NumericLessThanEquals", "100", "100", True),
    ("NumericLessThanEquals", "100", "100.5", False),
    ("NumericGreaterThan", "100", "100", False),
    ("NumericGreaterThan", "100", "100.01", True),
    ("NumericGreaterThanEquals", "-5", "-5", True),
    ("NumericGreaterThanEquals", "-5", "-6", False),
    ("NumericLessThan", "100", None, False),
    ("NumericLessThan", "lots", "1", False),
])
def test_numeric_operators(operator, values, context, expected):
    assert holds(operator, values, context) is expected


@pytest.mark.parametrize("operator,values,context,expected", [
    ("DateEquals", "2024-05-01T12:00:00Z", "1714564800", True),  # ISO 8601 and epoch seconds
    ("DateEquals", "1714564800", "2024-05-01T12:00:00Z", True),
    ("DateEquals", "2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00Z", True),
    ("DateEquals", "2024-05-01T12:00:00", "2024-05-01T12:00:00Z", True),  # no offset: UTC
    ("DateEquals", "2024-05-01", "2024-05-01T00:00:00Z", True),
    ("DateEquals", "2024-05", "2024-05-01T00:00:00Z", True),
    ("DateEquals", "2024-05-01T12:00Z", "1714564800", True),
    ("DateEquals", "2024-05-01T12:00:00.5Z", "1714564800.5", True),
    ("DateEquals", "2024-05-01T12:00:00Z", "2024-05-01T12:00:01Z", False),
    ("DateEquals", "2024", "2024", True),  # digits are epoch seconds on both sides
    ("DateEquals", "2024-13-01", "2024-01-01", False),  # not a date: matches nothing
    ("DateNotEquals", "2024-05-01", "2024-05-02", True),
    ("DateNotEquals", ["2024-05-01", "2024-05-02"], "2024-05-02", False),
    ("DateNotEquals", "2024-05-01", None, True),
    ("DateLessThan", "2024-05-01T00:00:00Z", "2024-04-30T23:59:59Z", True),
    ("DateLessThan", "2024-05-01T00:00:00Z", "2024-05-01T00:00:00Z", False),
    ("DateLessThanEquals", "2024-05-01T00:00:00Z", "1714521600", True),
    ("DateGreaterThan", "2024-05-01T00:00:00Z", "1714521601", True),
    ("DateGreaterThan", "2024-05-01T00:00:00Z", "1714521600", False),
    ("DateGreaterThanEquals", "2024-05-01T00:00:00Z", "2024-05-01T02:00:00+02:00", True),  # the same moment
    ("DateGreaterThanEquals", "2024-05-01T00:00:00Z", "2024-05-01T00:00:00-00:01", True),
    ("DateGreaterThanEquals", "2024-05-01T00:00:00Z", "2024-04-30T23:59:59.9Z", False),
    ("DateGreaterThanEquals", "2024-05-01T00:00:00Z", "yesterday", False),
    ("DateGreaterThan", "2024-05-01", None, False),
])
def test_date_operators(operator, values, context, expected):
    assert holds(operator, values, context, key="aws:CurrentTime") is expected


@pytest.mark.parametrize("operator,values,context,expected", [
    ("Bool", "true", "true", True),
    ("Bool", "true", "True", True),  # booleans ignore case
    ("Bool", True, "true", True),  # a JSON boolean in the policy
    ("Bool", "false", "true", False),
    ("Bool", "yes", "true", False),
    ("Bool", "false", None, False),
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", "QmluYXJ5VmFsdWU=", True),
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", "QmluYXJ5VmFsdWF=", False),
    ("BinaryEquals", "QQ==", "not base64!", False),
    ("BinaryEquals", "QQ==", None, False),
])
def test_bool_and_binary_operators(operator, values, context, expected):
    assert holds(operator, values, context) is expected


# -- addresses and ARNs --------------------------------------------------------------------------------------

@pytest.mark.parametrize("operator,values,context,expected", [
    ("IpAddress", "203.0.113.0/24", "203.0.113.7", True),
    ("IpAddress", "203.0.113.0/24", "203.0.114.7", False),
    ("IpAddress", "203.0.113.7", "203.0.113.7", True),  # a bare address is a /32
    ("IpAddress", "203.0.113.7", "203.0.113.8", False),
    ("IpAddress", "203.0.113.9/24", "203.0.113.200", True),  # host bits are ignored
    ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5678::1", True),
    ("IpAddress", "2001:DB8:1234:5678::/64", "2001:db8:1234:5679::1", False),
    ("IpAddress", "2001:db8::1", "2001:db8::1", True),  # a bare IPv6 address is a /128
    ("IpAddress", "203.0.113.0/24", "::ffff:203.0.113.7", True),  # IPv4-mapped IPv6
    ("IpAddress", "0.0.0.0/0", "2001:db8::1", False),  # versions never mix
    ("IpAddress", ["10.0.0.0/8", "203.0.113.0/24"], "10.1.2.3", True),
    ("IpAddress", "203.0.113.0/24", "not-an-address", False),
    ("IpAddress", "203.0.113.0/24", None, False),
    ("NotIpAddress", "203.0.113.0/24", "198.51.100.1", True),
    ("NotIpAddress", ["10.0.0.0/8", "203.0.113.0/24"], "203.0.113.1", False),
    ("NotIpAddress", "203.0.113.0/24", None, True),
    ("NotIpAddress", "203.0.113.0/33", "198.51.100.1", False),
])
def test_ip_address_operators(operator, values, context, expected):
    assert holds(operator, values, context, key="aws:SourceIp") is expected


_SN = f"arn:aws:vpc-lattice:us-east-1:{ACCOUNT}:servicenetwork/sn-0123"


@pytest.mark.parametrize("operator,values,context,expected", [
    ("ArnEquals", _SN, _SN, True),
    ("ArnEquals", f"arn:aws:vpc-lattice:*:{ACCOUNT}:servicenetwork/*", _SN, True),  # ArnEquals takes wildcards too
    ("ArnLike", f"arn:aws:vpc-lattice:*:{ACCOUNT}:servicenetwork/*", _SN, True),
    ("ArnLike", f"arn:aws:vpc-lattice:us-east-?:{ACCOUNT}:servicenetwork/sn-*", _SN, True),
    ("ArnLike", f"arn:aws:vpc-lattice:*:{OTHER}:servicenetwork/*", _SN, False),
    ("ArnLike", "arn:aws:VPC-lattice:*:*:*", _SN, False),  # case-sensitive
    # IAM's own example: the region's * does not reach across the colons of the next parts.
    ("ArnLike", "arn:aws:someservice:*:111122223333:finance/*",
     "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt", False),
    ("ArnLike", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b:c", True),  # the resource part keeps its colons
    ("ArnLike", "arn:aws:s3:::*", "arn:aws:s3:::bucket:with:colons", True),
    ("ArnLike", "arn:aws:*", _SN, False),  # fewer than six parts: not an ARN pattern
    ("ArnLike", "*", _SN, False),
    ("ArnLike", _SN, "not-an-arn", False),
    ("ArnLike", _SN, None, False),
    ("ArnNotEquals", _SN, _SN, False),
    ("ArnNotLike", f"arn:aws:vpc-lattice:*:{OTHER}:*", _SN, True),
    ("ArnNotLike", [f"arn:aws:vpc-lattice:*:{OTHER}:*", f"arn:aws:*:*:{ACCOUNT}:*"], _SN, False),
    ("ArnNotLike", _SN, None, True),
    ("ArnNotLike", "arn:aws:*", _SN, False),  # an unusable value cannot be shown to differ
])
def test_arn_operators(operator, values, context, expected):
    assert holds(operator, values, context, key="vpc-lattice-svcs:ServiceNetworkArn") is expected


def test_string_like_reaches_where_arn_like_does_not():
    value = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
    assert holds("StringLike", "arn:aws:someservice:*:111122223333:finance/*", value)


# -- Null, IfExists, set qualifiers ----------------------------------------------------------------------------

@pytest.mark.parametrize("values,context,expected", [
    ("true", None, True),
    ("true", "x", False),
    ("false", "x", True),
    ("false", "", True),  # an empty string is a value
    ("false", None, False),
    ("true", (), True),  # an empty set of values is no value
    (True, None, True),
    (["true", "false"], "x", True),
])
def test_null(values, context, expected):
    assert holds("Null", values, context) is expected


@pytest.mark.parametrize("operator,values,context,expected", [
    ("StringEqualsIfExists", "GET", None, True),
    ("StringEqualsIfExists", "GET", "GET", True),
    ("StringEqualsIfExists", "GET", "POST", False),
    ("StringNotEqualsIfExists", "GET", "GET", False),
    ("NumericLessThanIfExists", "10", None, True),
    ("NumericLessThanIfExists", "10", "11", False),
    ("IpAddressIfExists", "10.0.0.0/8", None, True),
    ("ArnLikeIfExists", _SN, None, True),
    ("BoolIfExists", "true", "false", False),
    ("DateLessThanIfExists", "2024-01-01", None, True),
    ("ForAnyValue:StringEqualsIfExists", "a", None, True),  # IfExists wins over ForAnyValue's false
])
def test_if_exists(operator, values, context, expected):
    assert holds(operator, values, context) is expected


@pytest.mark.parametrize("operator,values,context,expected", [
    ("ForAnyValue:StringEquals", "b", ("a", "b"), True),
    ("ForAnyValue:StringEquals", ["x", "y"], ("a", "b"), False),
    ("ForAnyValue:StringEquals", "a", None, False),  # absent: ForAnyValue is false
    ("ForAnyValue:StringEquals", "a", (), False),  # an empty set too
    ("ForAnyValue:StringEquals", "a", "a", True),  # a single value is a set of one
    ("ForAllValues:StringEquals", ["a", "b", "c"], ("a", "b"), True),
    ("ForAllValues:StringEquals", ["a", "b", "c"], ("a", "z"), False),
    ("ForAllValues:StringEquals", "a", None, True),  # absent: ForAllValues is true
    ("ForAllValues:StringEquals", "a", (), True),
    ("ForAllValues:StringLike", ["Post*", "Message"], ("PostDateTime", "Message"), True),
    ("ForAllValues:StringLike", ["Post*", "Message"], ("PostDateTime", "UserName"), False),
    # IAM's table for ForAllValues:StringNotLike on aws:TagKeys ("key1*"): every value must be unlike.
    ("ForAllValues:StringNotLike", "key1*", ("key1:legal",), False),
    ("ForAllValues:StringNotLike", "key1*", ("key1:hr", "key1:personnel"), False),
    ("ForAllValues:StringNotLike", "key1*", ("key2:audit",), True),
    ("ForAllValues:StringNotLike", "key1*", None, True),
    # ForAnyValue with a negated operator: some value differs from every policy value.
    ("ForAnyValue:StringNotEquals", ["a", "b"], ("a", "c"), True),
    ("ForAnyValue:StringNotEquals", ["a", "b"], ("a", "b"), False),
    ("ForAnyValue:StringNotEquals", ["a", "b"], None, False),
    ("ForAnyValue:NumericLessThan", "10", ("20", "5"), True),
    ("ForAllValues:NumericLessThan", "10", ("20", "5"), False),
    ("ForAnyValue:IpAddress", "10.0.0.0/8", ("192.0.2.1", "10.1.1.1"), True),
    # Without a qualifier, a multivalued key passes when one of its values does.
    ("StringEquals", "corge", ("corge", "grault"), True),
    ("StringEquals", "quux", ("corge", "grault"), False),
    ("StringEquals", "corge", ("corge",), True),
    ("StringNotEquals", "corge", ("corge", "grault"), True),
])
def test_set_qualifiers(operator, values, context, expected):
    assert holds(operator, values, context, key="vpc-lattice-svcs:RequestQueryString/quux") is expected


def test_conditions_are_anded_across_keys_and_operators():
    compiled = policy({**ANYONE, "Condition": {
        "StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET", "vpc-lattice-svcs:SourceVpc": "vpc-1"},
        "NumericEquals": {"vpc-lattice-svcs:Port": "443"}}})
    keys = {"vpc-lattice-svcs:RequestMethod": "GET", "vpc-lattice-svcs:SourceVpc": "vpc-1",
            "vpc-lattice-svcs:Port": "443"}
    assert ask(compiled, keys) == "Allow"
    for key in keys:
        assert ask(compiled, {**keys, key: "other"}) == "NotApplicable", key
        assert ask(compiled, {k: v for k, v in keys.items() if k != key}) == "NotApplicable", key


def test_condition_key_names_ignore_case_values_do_not():
    assert holds("IpAddress", "10.0.0.0/8", {"aws:SourceIp": "10.0.0.1"}, key="AWS:SourceIP")
    assert holds("StringEquals", "GET", {"VPC-LATTICE-SVCS:requestmethod": "GET"}, key="vpc-lattice-svcs:RequestMethod")
    assert not holds("StringEquals", "GET", {"vpc-lattice-svcs:RequestMethod": "get"},
                     key="vpc-lattice-svcs:RequestMethod")


def test_keys_differing_only_in_case_keep_their_own_values():
    keys = {"vpc-lattice-svcs:RequestQueryString/a": "1", "vpc-lattice-svcs:RequestQueryString/A": "2"}
    assert holds("StringEquals", "2", keys, key="vpc-lattice-svcs:RequestQueryString/A")
    assert holds("StringEquals", "1", keys, key="vpc-lattice-svcs:RequestQueryString/a")


# -- principals ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("principal,caller,expected", [
    ("*", USER, True),
    ("*", None, True),  # anyone includes anonymous callers
    ({"AWS": "*"}, None, True),
    ({"AWS": "*"}, STRANGER, True),
    ({"AWS": ACCOUNT}, USER, True),  # an account: any authenticated principal of it
    ({"AWS": ACCOUNT}, SESSION, True),
    ({"AWS": ACCOUNT}, ROOT, True),
    ({"AWS": ACCOUNT}, STRANGER, False),
    ({"AWS": ACCOUNT}, None, False),  # anonymous callers match only "*"
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, USER, True),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, STRANGER, False),
    ({"AWS": USER.arn}, USER, True),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}, USER, False),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:user/*"}, USER, False),  # no wildcards inside principal ARNs
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/rates-client"}, SESSION, True),  # a role names its sessions
    ({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/rates-client/s1"}, SESSION, True),
    ({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/rates-client/s2"}, SESSION, False),
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"}, SESSION, False),
    ({"AWS": [f"arn:aws:iam::{OTHER}:root", USER.arn]}, USER, True),
    ({"Service": "lambda.amazonaws.com"}, USER, False),
    ({"Federated": "cognito-identity.amazonaws.com"}, None, False),
    ({"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}, USER, False),
])
def test_principals(principal, caller, expected):
    assert (ask(policy({**ANYONE, "Principal": principal}), principal=caller) == "Allow") is expected


_SESSION_NAMES = [SESSION.arn, f"arn:aws:iam::{ACCOUNT}:role/rates-client", f"arn:aws:iam::{ACCOUNT}:root"]


@pytest.mark.parametrize("not_principal,caller,applies", [
    ({"AWS": _SESSION_NAMES}, SESSION, False),  # every name of the caller is listed: excluded
    ({"AWS": _SESSION_NAMES[:2]}, SESSION, True),  # without the account the caller is not excluded (IAM's warning)
    ({"AWS": [SESSION.arn]}, SESSION, True),
    ({"AWS": [USER.arn, ACCOUNT]}, USER, False),
    ({"AWS": [USER.arn]}, USER, True),
    ({"AWS": ACCOUNT}, ROOT, False),  # the root user's only names are the account's
    ({"AWS": _SESSION_NAMES}, USER, True),
    ({"AWS": _SESSION_NAMES}, None, True),  # anonymous callers are never listed
    ({"AWS": "*"}, None, False),
    ("*", USER, False),
    ({"Service": "lambda.amazonaws.com"}, USER, True),
])
def test_not_principal(not_principal, caller, applies):
    compiled = policy(ANYONE, {"Effect": "Deny", "NotPrincipal": not_principal, "Action": "*", "Resource": "*"})
    assert ask(compiled, principal=caller) == ("Deny" if applies else "Allow")


def test_identity_policies_apply_to_their_caller_whoever_it_is():
    compiled = policy({"Effect": "Allow", "Action": INVOKE, "Resource": "*"}, kind="identity")
    assert ask(compiled, principal=STRANGER) == "Allow"
    assert compiled.kind == "identity"


def test_identity_policies_cannot_name_principals():
    document = parse_policy(json.dumps({"Statement": [ANYONE]}))
    with pytest.raises(PolicyError, match="cannot contain Principal"):
        compile_policy(document, "identity")
    with pytest.raises(ValueError):
        compile_policy(document, "other")  # type: ignore[arg-type]


def test_a_resource_statement_without_principal_names_no_one():
    compiled = compile_policy(parse_policy(json.dumps({"Statement": [{k: v for k, v in ANYONE.items()
                                                                      if k != "Principal"}]}),
                                           require_principal=False))
    assert ask(compiled) == ask(compiled, principal=None) == "NotApplicable"


# -- actions and resources ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("element,patterns,action,expected", [
    ("Action", INVOKE, INVOKE, True),
    ("Action", "VPC-LATTICE-SVCS:invoke", INVOKE, True),  # actions ignore case
    ("Action", "vpc-lattice-svcs:*", "vpc-lattice-svcs:Connect", True),
    ("Action", "vpc-lattice-svcs:*oke", INVOKE, True),
    ("Action", "vpc-lattice-svcs:Inv?ke", INVOKE, True),
    ("Action", "vpc-lattice-svcs:In*", "vpc-lattice-svcs:Connect", False),
    ("Action", ["s3:*", "vpc-lattice-svcs:Connect"], "vpc-lattice-svcs:connect", True),
    ("Action", "*", "anything:AtAll", True),
    ("Action", "vpc-lattice:*", INVOKE, False),
    ("NotAction", "vpc-lattice-svcs:Connect", INVOKE, True),
    ("NotAction", "vpc-lattice-svcs:*", INVOKE, False),
    ("NotAction", "VPC-LATTICE-SVCS:INVOKE", INVOKE, False),
])
def test_actions(element, patterns, action, expected):
    statement = {k: v for k, v in ANYONE.items() if k != "Action"} | {element: patterns}
    assert (ask(policy(statement), action=action) == "Allow") is expected


@pytest.mark.parametrize("element,patterns,resource,expected", [
    ("Resource", "*", RESOURCE, True),
    ("Resource", RESOURCE, RESOURCE, True),
    ("Resource", f"{SERVICE}/Rates", RESOURCE, False),  # resources are case-sensitive
    ("Resource", "*/rates", RESOURCE, True),
    ("Resource", "*/*", RESOURCE, True),
    ("Resource", f"{SERVICE}/*", f"{SERVICE}/", True),  # a request for / is evaluated as SERVICE/
    ("Resource", "arn:aws:vpc-lattice:*", RESOURCE, True),  # * reaches across : and /
    ("Resource", f"{SERVICE}/r?tes", RESOURCE, True),
    ("Resource", f"{SERVICE}/api.parking/*", f"{SERVICE}/api.parking/GetRates", True),
    ("Resource", f"{SERVICE}/api.parking/*", f"{SERVICE}/apiXparking/GetRates", False),  # . is a dot
    ("Resource", [f"{SERVICE}/admin", "*/rates"], RESOURCE, True),
    ("Resource", "*/rates/*", RESOURCE, False),
    ("NotResource", "*/admin*", RESOURCE, True),
    ("NotResource", "*/rates", RESOURCE, False),
    ("NotResource", ["*/admin", "*/rates"], RESOURCE, False),
])
def test_resources(element, patterns, resource, expected):
    statement = {k: v for k, v in ANYONE.items() if k != "Resource"} | {element: patterns}
    assert (ask(policy(statement), resource=resource) == "Allow") is expected


# -- policy variables ------------------------------------------------------------------------------------------

def _in_resource(pattern: str, resource: str, keys: dict, version: str | None = "2012-10-17",
                 element: str = "Resource") -> str:
    statement = {k: v for k, v in ANYONE.items() if k != "Resource"} | {element: pattern}
    return ask(policy(statement, version=version), keys, resource=resource)


@pytest.mark.parametrize("pattern,resource,keys,expected", [
    (f"{SERVICE}/${{aws:username}}/*", f"{SERVICE}/alice/x", {"aws:username": "alice"}, "Allow"),
    (f"{SERVICE}/${{aws:username}}/*", f"{SERVICE}/bob/x", {"aws:username": "alice"}, "NotApplicable"),
    (f"{SERVICE}/${{aws:username}}/*", f"{SERVICE}/alice/x", {}, "NotApplicable"),  # unresolved: no match
    (f"{SERVICE}/${{AWS:UserName}}/*", f"{SERVICE}/alice/x", {"aws:username": "alice"}, "Allow"),
    (f"{SERVICE}/${{aws:PrincipalTag/team}}", f"{SERVICE}/payments", {"aws:PrincipalTag/team": "payments"}, "Allow"),
    (f"{SERVICE}/${{aws:userid, 'anonymous'}}", f"{SERVICE}/anonymous", {}, "Allow"),  # default value
    (f"{SERVICE}/${{aws:userid, 'anonymous'}}", f"{SERVICE}/AIDA1", {"aws:userid": "AIDA1"}, "Allow"),
    (f"{SERVICE}/${{*}}", f"{SERVICE}/*", {}, "Allow"),  # ${*} is a literal *
    (f"{SERVICE}/${{*}}", f"{SERVICE}/x", {}, "NotApplicable"),
    (f"{SERVICE}/a${{?}}", f"{SERVICE}/a?", {}, "Allow"),
    (f"{SERVICE}/a${{?}}", f"{SERVICE}/ab", {}, "NotApplicable"),
    (f"{SERVICE}/${{$}}x", f"{SERVICE}/$x", {}, "Allow"),
    (f"{SERVICE}/${{aws:username}}", f"{SERVICE}/x", {"aws:username": "*"}, "NotApplicable"),  # values are literal
    (f"{SERVICE}/${{aws:username}}", f"{SERVICE}/*", {"aws:username": "*"}, "Allow"),
    (f"{SERVICE}/${{k:multi}}", f"{SERVICE}/a", {"k:multi": ("a", "b")}, "NotApplicable"),  # multivalued: unresolved
    (f"{SERVICE}/${{k:multi}}", f"{SERVICE}/a", {"k:multi": ("a",)}, "Allow"),
    (f"{SERVICE}/${{bad", f"{SERVICE}/${{bad", {}, "Allow"),  # not a variable: text
])
def test_variables_in_resources(pattern, resource, keys, expected):
    assert _in_resource(pattern, resource, keys) == expected


def test_variables_only_in_the_2012_version():
    pattern, literal = f"{SERVICE}/${{aws:username}}", f"{SERVICE}/${{aws:username}}"
    assert _in_resource(pattern, f"{SERVICE}/alice", {"aws:username": "alice"}, version="2008-10-17") == "NotApplicable"
    assert _in_resource(pattern, literal, {"aws:username": "alice"}, version="2008-10-17") == "Allow"
    assert _in_resource(pattern, literal, {"aws:username": "alice"}, version=None) == "Allow"


def test_unresolved_variable_in_not_resource_makes_the_statement_not_apply():
    pattern = f"{SERVICE}/${{aws:username}}/*"
    assert _in_resource(pattern, RESOURCE, {"aws:username": "alice"}, element="NotResource") == "Allow"
    assert _in_resource(pattern, RESOURCE, {}, element="NotResource") == "NotApplicable"
    assert _in_resource(pattern, f"{SERVICE}/alice/x", {"aws:username": "alice"}, element="NotResource") == \
        "NotApplicable"


@pytest.mark.parametrize("operator,values,keys,expected", [
    ("StringEquals", "${aws:username}", {"k:key": "alice", "aws:username": "alice"}, True),
    ("StringEquals", "${aws:username}", {"k:key": "alice", "aws:username": "bob"}, False),
    ("StringEquals", ["${aws:username}", "carol"], {"k:key": "carol"}, True),  # the other values still match
    ("StringEquals", "${aws:username}", {"k:key": "alice"}, False),
    ("StringLike", "home/${aws:username}/*", {"k:key": "home/alice/x", "aws:username": "alice"}, True),
    ("StringLike", "home/${aws:username}", {"k:key": "home/alice", "aws:username": "a*"}, False),
    ("StringNotEquals", "${aws:username}", {"k:key": "alice", "aws:username": "bob"}, True),
    ("StringNotEquals", "${aws:username}", {"k:key": "alice"}, False),  # cannot be shown to differ
    ("StringEqualsIgnoreCase", "${aws:PrincipalTag/team}", {"k:key": "PAY", "aws:PrincipalTag/team": "pay"}, True),
    ("ArnLike", "${aws:PrincipalArn}", {"k:key": USER.arn, "aws:PrincipalArn": USER.arn}, True),
    ("ArnLike", f"arn:aws:iam::${{aws:PrincipalAccount}}:user/*",
     {"k:key": USER.arn, "aws:PrincipalAccount": ACCOUNT}, True),
    ("ArnNotLike", "${aws:PrincipalArn}", {"k:key": USER.arn}, False),
    ("NumericEquals", "${k:n}", {"k:key": "1", "k:n": "1"}, False),  # no variables in numeric operators
])
def test_variables_in_conditions(operator, values, keys, expected):
    assert holds(operator, values, keys) is expected


# -- decisions ---------------------------------------------------------------------------------------------------

def test_explicit_deny_wins_and_names_every_matching_deny():
    compiled = policy({**ANYONE, "Sid": "AllowAll"}, {**ANYONE, "Effect": "Deny", "Sid": "NoRates",
                                                      "Resource": "*/rates"},
                      {**ANYONE, "Effect": "Deny", "Resource": "*"}, {**ANYONE, "Effect": "Deny", "Resource": "*/x"})
    decision = compiled.evaluate(Query(INVOKE, RESOURCE, USER))
    assert decision.effect == "Deny" and decision.denied and not decision.allowed
    assert [r.number for r in decision.reasons] == [2, 3]
    assert decision.statements == (compiled.document.statements[1], compiled.document.statements[2])
    assert decision.explain() == "statement 2 (NoRates): Deny; statement 3: Deny"


def test_allow_names_every_matching_allow():
    compiled = policy(ANYONE, {**ANYONE, "Resource": "*/other"}, {**ANYONE, "Sid": "Rates", "Resource": "*/rates"})
    decision = compiled.evaluate(Query(INVOKE, RESOURCE, USER))
    assert decision.allowed
    assert [r.number for r in decision.reasons] == [1, 3]
    assert decision is compiled.evaluate(Query(INVOKE, RESOURCE, USER))  # built once


def test_no_matching_statement_is_not_applicable():
    decision = policy({**ANYONE, "Resource": "*/other"}).evaluate(Query(INVOKE, RESOURCE, USER))
    assert decision.effect == "NotApplicable" and decision.statements == () and not decision.allowed
    assert decision.explain() == "no statement applies"


def test_reasons_name_their_policy():
    compiled = compile_policy(parse_policy(json.dumps({"Statement": [ANYONE]})), name="sn-0123")
    assert str(compiled.evaluate(Query(INVOKE, RESOURCE, USER)).reasons[0]) == "sn-0123 statement 1: Allow"
    assert "sn-0123" in repr(compiled)


def test_evaluate_all_combines_policies():
    allow, deny = policy(ANYONE), policy({**ANYONE, "Effect": "Deny"})
    other = policy({**ANYONE, "Resource": "*/other"})
    query = Query(INVOKE, RESOURCE, USER)
    assert evaluate_all([], query).effect == "NotApplicable"
    assert evaluate_all([other, allow], query).effect == "Allow"
    assert evaluate_all([allow, deny, allow], query).effect == "Deny"
    assert len(evaluate_all([allow, other, allow], query).reasons) == 2


def test_caller_from_arn():
    assert SESSION.account == ACCOUNT and SESSION.also == (f"arn:aws:iam::{ACCOUNT}:role/rates-client",)
    assert Caller.from_arn(USER.arn) == USER
    assert Caller.from_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s", f"arn:aws:iam::{ACCOUNT}:role/p/r").also == \
        (f"arn:aws:iam::{ACCOUNT}:role/p/r",)
    assert Caller.from_arn("arn:aws-cn:iam::111122223333:user/u").root == "arn:aws-cn:iam::111122223333:root"


# -- properties ----------------------------------------------------------------------------------------------------

def reference_match(pattern: str, value: str) -> bool:
    """IAM wildcard matching by plain recursion: the oracle for the compiled matcher."""
    if not pattern:
        return not value
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        return reference_match(rest, value) or (bool(value) and reference_match(pattern, value[1:]))
    return bool(value) and (head == "?" or head == value[0]) and reference_match(rest, value[1:])


_GLOB_ALPHABET = "ab*?.+[]()^$\\|{}/:-\n"


@SETTINGS
@given(st.text(_GLOB_ALPHABET, max_size=10), st.text("ab.+[]()^$\\|{}/:-\n*?", max_size=14))
def test_wildcard_matcher_agrees_with_a_plain_recursive_one(pattern, value):
    assert wildcard_match(pattern, value) is reference_match(pattern, value)


@SETTINGS
@given(st.text("ab*?.", max_size=8), st.text("ab.", max_size=10))
def test_wildcard_matcher_agrees_on_likely_matches(pattern, value):
    assert wildcard_match(pattern, value) is reference_match(pattern, value)


_PRINCIPALS = ["*", {"AWS": "*"}, {"AWS": ACCOUNT}, {"AWS": OTHER}, {"AWS": USER.arn},
               {"AWS": f"arn:aws:iam::{ACCOUNT}:role/rates-client"}, {"Service": "lambda.amazonaws.com"}]
_ACTIONS = ["*", INVOKE, "vpc-lattice-svcs:*", "vpc-lattice-svcs:Connect", "s3:*"]
_RESOURCES = ["*", "*/rates", "*/admin*", f"{SERVICE}/*", f"{SERVICE}/${{aws:username}}"]
_CONDITIONS = [
    {"StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET"}},
    {"StringNotEquals": {"vpc-lattice-svcs:SourceVpc": "vpc-2"}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"Null": {"aws:PrincipalTag/team": "true"}},
    {"ForAllValues:StringEquals": {"vpc-lattice-svcs:RequestQueryString/x": ["1", "2"]}},
    {"StringLikeIfExists": {"aws:PrincipalTag/team": "pay*"}},
]


@st.composite
def generated_statements(draw, effect=st.sampled_from(["Allow", "Deny"])):
    statement = {"Effect": draw(effect),
                 "Principal" if draw(st.booleans()) else "NotPrincipal": draw(st.sampled_from(_PRINCIPALS)),
                 "Action" if draw(st.integers(0, 3)) else "NotAction": draw(st.sampled_from(_ACTIONS)),
                 "Resource" if draw(st.integers(0, 3)) else "NotResource": draw(st.sampled_from(_RESOURCES))}
    conditions = draw(st.lists(st.sampled_from(_CONDITIONS), max_size=2))
    if conditions:
        statement["Condition"] = {k: v for c in conditions for k, v in c.items()}
    return statement


@st.composite
def generated_queries(draw):
    keys = draw(st.fixed_dictionaries({}, optional={
        "vpc-lattice-svcs:RequestMethod": st.sampled_from(["GET", "POST"]),
        "vpc-lattice-svcs:SourceVpc": st.sampled_from(["vpc-1", "vpc-2"]),
        "aws:SourceIp": st.sampled_from(["10.1.2.3", "192.0.2.1"]),
        "aws:PrincipalTag/team": st.sampled_from(["payments", "rates"]),
        "aws:username": st.sampled_from(["alice", "rates"]),
        "vpc-lattice-svcs:RequestQueryString/x": st.sampled_from([("1",), ("1", "3"), ()]),
    }))
    return Query(draw(st.sampled_from([INVOKE, "vpc-lattice-svcs:Connect"])),
                 draw(st.sampled_from([RESOURCE, f"{SERVICE}/admin/x", f"{SERVICE}/alice"])),
                 draw(st.sampled_from([USER, SESSION, ROOT, STRANGER, None])), keys)


_policies = st.lists(generated_statements(), min_size=1, max_size=4)


@SETTINGS
@given(_policies, generated_queries())
def test_a_matching_deny_makes_any_policy_deny(statements, query):
    deny = {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}
    for position in (0, len(statements)):
        assert policy(*statements[:position], deny, *statements[position:]).evaluate(query).effect == "Deny"


@SETTINGS
@given(_policies, generated_statements(), generated_queries())
def test_adding_a_statement_never_turns_deny_into_allow(statements, extra, query):
    before = policy(*statements).evaluate(query).effect
    after = policy(*statements, extra).evaluate(query).effect
    if before == "Deny":
        assert after == "Deny"
    if before == "Allow":
        assert after in ("Allow", "Deny")


_EXCEPTIONS_ON_ABSENT = "IfExists, Null, ForAllValues, or a negated operator without qualifier"


@SETTINGS
@given(st.sampled_from(sorted(OPERATORS) + ["Null"]), st.sampled_from(["", "ForAnyValue:", "ForAllValues:"]),
       st.booleans(), st.sampled_from(["x", "1", "10.0.0.0/8", "2024-01-01", "true", "QQ==", _SN]),
       generated_queries())
def test_a_condition_on_an_absent_key_applies_only_by_exception(test, qualifier, if_exists, value, query):
    # IAM: an absent key makes a condition false, except with ...IfExists and Null, ForAllValues,
    # and the negated operators ("the right key is not present: the condition is true").
    if test == "Null":
        qualifier, if_exists = "", False
    operator = f"{qualifier}{test}{'IfExists' if if_exists else ''}"
    statement = {**ANYONE, "Action": "*", "Condition": {operator: {"k:absent": value}}}
    applies = policy(statement).evaluate(query).effect == "Allow"
    negated_alone = test in OPERATORS and OPERATORS[test][1] and not qualifier
    expected = if_exists or qualifier == "ForAllValues:" or negated_alone or (test == "Null" and value == "true")
    assert applies is expected, _EXCEPTIONS_ON_ABSENT


@SETTINGS
@given(_policies, generated_queries())
def test_the_statements_of_a_decision_really_decide(statements, query):
    compiled = policy(*statements)
    decision = compiled.evaluate(query)
    named = {r.number for r in decision.reasons}
    for number, statement in enumerate(statements, start=1):
        alone = policy(statement).evaluate(query).effect
        if number in named:
            assert alone == statement["Effect"] == decision.effect
        elif decision.effect != "NotApplicable":
            assert alone == "NotApplicable" or statement["Effect"] != decision.effect
        else:
            assert alone == "NotApplicable"


@SETTINGS
@given(_policies, generated_queries())
def test_the_decision_follows_the_statements_taken_alone(statements, query):
    alone = {policy(s).evaluate(query).effect for s in statements}
    expected = "Deny" if "Deny" in alone else "Allow" if "Allow" in alone else "NotApplicable"
    assert policy(*statements).evaluate(query).effect == expected
