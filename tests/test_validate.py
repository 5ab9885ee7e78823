"""``latticework.api.validate`` against real VPC Lattice shapes.

Each constraint kind the model uses (required, type, enum, string length,
pattern, numeric range, list and map size, union) is checked on a shape that
declares it, with AWS's member paths (``targets.1.member.port``: 1-based list
indexes, ``member`` for items, ``key``/``value`` for maps) and AWS's summary
message. Property tests: every value ``modelgen`` generates is valid, and
breaking one member yields a violation at that member's path.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelgen
from latticework.api.models import service_model
from latticework.api.validate import Violation, summary, validate

LATTICE = service_model("vpc-lattice")
SN = "sn-0123456789abcdefg"
TG = "tg-0123456789abcdefg"


def shape(operation: str):
    return LATTICE.operation_model(operation).input_shape


def paths(operation: str, value: dict) -> list[tuple[str, str]]:
    return [(v.path, v.constraint) for v in validate(shape(operation), value)]


def test_valid_input_has_no_violations():
    assert validate(shape("CreateServiceNetwork"), {"name": "payments", "authType": "AWS_IAM",
                                                   "tags": {"team": "a"}, "sharingConfig": {"enabled": True}}) == []


def test_missing_required_member():
    assert paths("CreateServiceNetwork", {}) == [("name", "Member must not be null")]
    assert paths("CreateServiceNetwork", {"name": None}) == [("name", "Member must not be null")]


def test_several_missing_required_members_in_model_order():
    assert [p for p, _ in paths("CreateRule", {})] == ["serviceIdentifier", "listenerIdentifier", "name", "match",
                                                        "priority", "action"]


@pytest.mark.parametrize("value, kind", [(7, "string"), (True, "string"), (["a"], "string")])
def test_string_type(value, kind):
    [violation] = validate(shape("CreateServiceNetwork"), {"name": value})
    assert (violation.path, violation.constraint, violation.type_error) == ("name", f"Member must be of type {kind}",
                                                                           True)


@pytest.mark.parametrize("value", ["80", 80.0, True, None and 1])
def test_integer_type_rejects_strings_floats_and_booleans(value):
    result = paths("CreateTargetGroup", {"name": "group-one", "type": "IP", "config": {"port": value}})
    assert result == ([("config.port", "Member must be of type integer")] if value is not None else [])


def test_boolean_type():
    result = paths("CreateServiceNetwork", {"name": "abc", "sharingConfig": {"enabled": "true"}})
    assert result == [("sharingConfig.enabled", "Member must be of type boolean")]


@pytest.mark.parametrize("value, kind", [("x", "structure"), ([1], "structure")])
def test_structure_type(value, kind):
    [violation] = validate(shape("CreateServiceNetwork"), {"name": "abc", "sharingConfig": value})
    assert violation.path == "sharingConfig" and violation.type_error


def test_list_and_map_types():
    assert paths("RegisterTargets", {"targetGroupIdentifier": TG, "targets": {"id": "x"}}) == [
        ("targets", "Member must be a list")]
    assert paths("CreateServiceNetwork", {"name": "abc", "tags": ["a"]}) == [("tags", "Member must be a map")]


def test_enum():
    [(path, constraint)] = paths("CreateServiceNetwork", {"name": "abc", "authType": "OPEN"})
    assert path == "authType"
    assert constraint == "Member must satisfy enum value set: [NONE, AWS_IAM]"


@pytest.mark.parametrize("name, constraints", [
    ("ab", ["Member must have length greater than or equal to 3"]),
    ("a" * 64, ["Member must have length less than or equal to 63"]),
    ("-abc", ["Member must satisfy regular expression pattern: (?![-])(?!.*[-]$)(?!.*[-]{2})[a-z0-9-]+"]),
    ("Abc", ["Member must satisfy regular expression pattern: (?![-])(?!.*[-]$)(?!.*[-]{2})[a-z0-9-]+"]),
    ("a--b", ["Member must satisfy regular expression pattern: (?![-])(?!.*[-]$)(?!.*[-]{2})[a-z0-9-]+"]),
    ("", ["Member must have length greater than or equal to 3",
          "Member must satisfy regular expression pattern: (?![-])(?!.*[-]$)(?!.*[-]{2})[a-z0-9-]+"]),
])
def test_string_length_and_pattern(name, constraints):
    assert paths("CreateServiceNetwork", {"name": name}) == [("name", c) for c in constraints]


def test_patterns_are_full_matches():
    # Anchored, '(?!tg-)' rejects the prefix; a search would accept "xtg-..." and reject nothing.
    result = paths("CreateTargetGroup", {"name": "tg-abc", "type": "IP"})
    assert [p for p, _ in result] == ["name"]
    assert paths("CreateTargetGroup", {"name": "abc-tg", "type": "IP"}) == []
    assert [p for p, _ in paths("GetServiceNetwork", {"serviceNetworkIdentifier": SN + "x"})] == [
        "serviceNetworkIdentifier"]


def test_numeric_range():
    base = {"name": "tgone", "type": "IP"}
    assert paths("CreateTargetGroup", {**base, "config": {"port": 0}}) == [
        ("config.port", "Member must have value greater than or equal to 1")]
    assert paths("CreateTargetGroup", {**base, "config": {"port": 65536}}) == [
        ("config.port", "Member must have value less than or equal to 65535")]
    assert paths("CreateTargetGroup", {**base, "config": {"port": 65535}}) == []


def test_list_size_and_item_paths():
    assert paths("RegisterTargets", {"targetGroupIdentifier": TG, "targets": []}) == [
        ("targets", "Member must have length greater than or equal to 1")]
    too_many = [{"id": f"10.0.0.{n}"} for n in range(101)]
    assert paths("RegisterTargets", {"targetGroupIdentifier": TG, "targets": too_many}) == [
        ("targets", "Member must have length less than or equal to 100")]
    targets = [{"id": "a"}, {"id": "", "port": 0}, {"port": 80}]
    assert paths("RegisterTargets", {"targetGroupIdentifier": TG, "targets": targets}) == [
        ("targets.2.member.id", "Member must have length greater than or equal to 1"),
        ("targets.2.member.port", "Member must have value greater than or equal to 1"),
        ("targets.3.member.id", "Member must not be null"),
    ]


def test_null_list_item():
    assert paths("RegisterTargets", {"targetGroupIdentifier": TG, "targets": [None]}) == [
        ("targets.1.member", "Member must not be null")]


def test_map_key_and_value_paths():
    result = paths("CreateServiceNetwork", {"name": "abc", "tags": {"": "v", "k": "x" * 257}})
    assert [p for p, _ in result] == ["tags.key", "tags.value"]
    too_many = {f"k{n}": "v" for n in range(201)}
    assert paths("CreateServiceNetwork", {"name": "abc", "tags": too_many}) == [
        ("tags", "Member must have length less than or equal to 200")]


@pytest.mark.parametrize("match, ok", [
    ({"httpMatch": {}}, True), ({}, False), ({"httpMatch": None}, False),
])
def test_union_needs_exactly_one_member(match, ok):
    value = {"serviceIdentifier": "svc-0123456789abcdefg", "listenerIdentifier": "listener-0123456789abcdefg",
             "name": "one-x", "priority": 1, "match": match, "action": {"fixedResponse": {"statusCode": 404}}}
    result = paths("CreateRule", value)
    assert result == ([] if ok else [("match", "Member must have exactly one member set")])


def test_union_with_two_members():
    action = {"fixedResponse": {"statusCode": 404}, "forward": {"targetGroups": [{"targetGroupIdentifier": TG}]}}
    value = {"serviceIdentifier": "svc-0123456789abcdefg", "listenerIdentifier": "listener-0123456789abcdefg",
             "name": "one", "priority": 1, "match": {"httpMatch": {}}, "action": action}
    assert ("action", "Member must have exactly one member set") in paths("CreateRule", value)


def test_nested_union_path():
    match = {"httpMatch": {"pathMatch": {"match": {"exact": "/a", "prefix": "/"}}}}
    value = {"serviceIdentifier": "svc-0123456789abcdefg", "listenerIdentifier": "listener-0123456789abcdefg",
             "name": "one", "priority": 1, "match": match, "action": {"fixedResponse": {"statusCode": 404}}}
    assert paths("CreateRule", value) == [("match.httpMatch.pathMatch.match", "Member must have exactly one member set")]


def test_body_not_an_object():
    [violation] = validate(shape("CreateServiceNetwork"), ["name"])
    assert violation.type_error and violation.path == "body"


def test_unknown_members_are_ignored():
    assert validate(shape("CreateServiceNetwork"), {"name": "abc", "colour": "blue"}) == []


def test_no_input_shape():
    assert validate(None, {"anything": 1}) == []


# -- messages ----------------------------------------------------------------------

def test_summary_single():
    violations = validate(shape("CreateServiceNetwork"), {"name": "ab"})
    assert summary(violations) == ("1 validation error detected: Value 'ab' at 'name' failed to satisfy constraint: "
                                   "Member must have length greater than or equal to 3")


def test_summary_several_and_null():
    violations = validate(shape("RegisterTargets"), {"targets": [{"id": "a", "port": 0}]})
    assert summary(violations) == (
        "2 validation errors detected: Value null at 'targetGroupIdentifier' failed to satisfy constraint: "
        "Member must not be null; Value '0' at 'targets.1.member.port' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")


def test_long_values_are_shortened_in_messages():
    described = Violation("name", "x" * 1000, "Member must have length less than or equal to 63").describe()
    assert "x" * 256 + "..." in described and "x" * 257 not in described


# -- properties -------------------------------------------------------------------------

OPERATIONS = LATTICE.operation_names


@pytest.mark.parametrize("name", OPERATIONS[::4])
@settings(modelgen.DETERMINISTIC, max_examples=10)
@given(data=st.data())
def test_generated_inputs_are_valid(name, data):
    op = LATTICE.operation_model(name)
    assert validate(op.input_shape, data.draw(modelgen.valid(op.input_shape))) == []


@settings(modelgen.DETERMINISTIC, max_examples=50)
@given(value=modelgen.valid(shape("RegisterTargets")), index=st.integers(0, 99), port=st.integers(65536, 2**31 - 1))
def test_breaking_one_item_names_its_path(value, index, port):
    index %= len(value["targets"])
    value["targets"][index]["port"] = port
    assert [v.path for v in validate(shape("RegisterTargets"), value)] == [f"targets.{index + 1}.member.port"]


@settings(modelgen.DETERMINISTIC, max_examples=50)
@given(value=modelgen.valid(shape("CreateServiceNetwork")), name=st.text(max_size=80))
def test_name_violations_agree_with_the_pattern(value, name):
    import re

    meta = shape("CreateServiceNetwork").members["name"].metadata
    value["name"] = name
    ok = 3 <= len(name) <= 63 and re.fullmatch(meta["pattern"], name) is not None
    assert (validate(shape("CreateServiceNetwork"), value) == []) == ok
