"""Policy documents: parsing, validation messages, and properties over generated documents."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latticework.policy import Condition, PolicyDocument, PolicyError, Principal, Statement, parse_policy

STATEMENT = {"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}


def doc(**statement) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{**STATEMENT, **statement}]})


def without(key: str) -> str:
    return json.dumps({"Statement": [{k: v for k, v in STATEMENT.items() if k != key}]})


def error_of(text: str, **kwargs) -> str:
    with pytest.raises(PolicyError) as excinfo:
        parse_policy(text, **kwargs)
    return excinfo.value.message


# -- parsing -------------------------------------------------------------------------------------

def test_parses_the_user_guide_example():
    text = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::123456789012:role/my-clients"]},
        "Action": "vpc-lattice-svcs:Invoke",
        "Resource": "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef0/*",
        "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET"}},
    }]})
    document = parse_policy(text)
    assert document.version == "2012-10-17"
    (statement,) = document.statements
    assert statement.allows
    assert statement.principal.values("AWS") == ("arn:aws:iam::123456789012:role/my-clients",)
    assert statement.principal.values("Service") == ()
    assert statement.actions == ("vpc-lattice-svcs:Invoke",)
    assert statement.not_actions is None
    assert statement.conditions == (Condition("StringEquals", "StringEquals", None, False,
                                              "vpc-lattice-svcs:RequestMethod", ("GET",)),)


def test_single_statement_object_and_lists():
    text = json.dumps({"Statement": {**STATEMENT, "Action": ["a:b", "c:*"], "Resource": ["*/rates", "*/*"]}})
    (statement,) = parse_policy(text).statements
    assert statement.actions == ("a:b", "c:*")
    assert statement.resources == ("*/rates", "*/*")
    assert statement.principal == Principal(anyone=True)


def test_not_elements():
    text = json.dumps({"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"},
                                      "NotAction": "iam:*", "NotResource": "arn:aws:s3:::b/*"}]})
    (statement,) = parse_policy(text).statements
    assert (statement.principal, statement.actions, statement.resources) == (None, None, None)
    assert statement.not_principal.values("AWS") == ("111122223333",)
    assert statement.not_actions == ("iam:*",)
    assert statement.not_resources == ("arn:aws:s3:::b/*",)
    assert not statement.allows


def test_condition_operators_are_split():
    text = doc(Condition={"ForAnyValue:StringLikeIfExists": {"k": ["a*", "b?"]}, "Null": {"aws:x": True},
                          "NumericLessThan": {"n": 10}, "ForAllValues:StringEquals": {"s": "x"}})
    conditions = parse_policy(text).statements[0].conditions
    assert conditions[0] == Condition("ForAnyValue:StringLikeIfExists", "StringLike", "ForAnyValue", True, "k",
                                      ("a*", "b?"))
    assert conditions[1].values == ("true",)
    assert conditions[2].values == ("10",)
    assert conditions[3].set_qualifier == "ForAllValues"


def test_documents_are_immutable():
    document = parse_policy(doc())
    with pytest.raises(dataclasses.FrozenInstanceError):
        document.version = "x"  # type: ignore[misc]
    assert isinstance(document.statements, tuple)


def test_principal_without_requirement():
    (statement,) = parse_policy(without("Principal"), require_principal=False).statements
    assert statement.principal is None


def test_whitespace_and_newlines_are_fine():
    assert parse_policy(json.dumps(json.loads(doc()), indent=4)) == parse_policy(doc())


# -- validation messages ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,words", [
    ("", "Policy document is not valid JSON"),
    ("{", "Policy document is not valid JSON"),
    ('{"Statement": NaN}', "not valid JSON"),
    ("[" * 100000, "not valid JSON"),
    ("[1]", "must be a JSON object"),
    ('{"Statement": [], "Statement": []}', "duplicate key Statement"),
    (json.dumps({"Version": "2012-10-17"}), "missing Statement"),
    (json.dumps({"Statement": []}), "at least one statement"),
    (json.dumps({"Statement": "x"}), "Statement must be an object"),
    (json.dumps({"Statement": ["x"]}), "Statement 1 must be a JSON object"),
    (json.dumps({"Statement": [STATEMENT], "Extra": 1}), "unknown element Extra"),
    (json.dumps({"Version": 2012, "Statement": [STATEMENT]}), "Version must be a string"),
    (json.dumps({"Version": "2011-01-01", "Statement": [STATEMENT]}), "unsupported Version"),
    (without("Effect"), "Statement is missing Effect"),
    (doc(Effect="allow"), "Unknown Effect value"),
    (doc(Effect=["Allow"]), "Unknown Effect value"),
    (doc(Sid=5), "Sid must be a string"),
    (doc(Colour="blue"), "unknown element Colour"),
    (without("Principal"), "missing Principal"),
    (doc(NotPrincipal="*"), "both Principal and NotPrincipal"),
    (doc(Principal="anyone"), "Principal must be"),
    (doc(Principal={}), "Principal must be"),
    (doc(Principal={"Users": "x"}), "unknown principal type Users"),
    (doc(Principal={"AWS": []}), "at least one principal"),
    (doc(Principal={"AWS": "bob"}), "invalid AWS principal"),
    (doc(Principal={"Service": " "}), "cannot be blank"),
    (doc(Principal={"AWS": [1]}), "must be a string or a list of strings"),
    (without("Action"), "missing Action"),
    (doc(NotAction="*"), "both Action and NotAction"),
    (doc(Action=[]), "must contain actions"),
    (doc(Action="Invoke"), "must be prefaced by a service prefix"),
    (doc(Action=7), "Action must be a string or a list of strings"),
    (without("Resource"), "missing Resource"),
    (doc(Resource=[]), "must contain resources"),
    (doc(Resource="service/svc-1"), "must be in ARN format"),
    (doc(Condition=[]), "Condition must be an object"),
    (doc(Condition={"StringEquals": "x"}), "must map condition keys"),
    (doc(Condition={"StringSorta": {"k": "v"}}), "unknown condition operator StringSorta"),
    (doc(Condition={"NullIfExists": {"k": "true"}}), "unknown condition operator"),
    (doc(Condition={"Sometimes:StringEquals": {"k": "v"}}), "unknown condition operator"),
    (doc(Condition={"StringEquals": {"k": []}}), "at least one value"),
    (doc(Condition={"StringEquals": {"k": {"a": 1}}}), "must be strings, numbers or booleans"),
    (doc(Condition={"StringEquals": {"k": None}}), "must be strings, numbers or booleans"),
    (doc(Condition={"StringEquals": {" ": "v"}}), "condition key cannot be blank"),
])
def test_invalid_documents_say_what_is_wrong(text, words):
    assert words in error_of(text)


def test_non_string_input_is_a_policy_error():
    assert "not valid JSON" in error_of(b"{}")  # type: ignore[arg-type]


# -- properties ----------------------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_word = st.text(_ALNUM, min_size=1, max_size=8)
_action = st.one_of(st.just("*"), st.builds(lambda v, a: f"{v}:{a}", st.text("abcxyz019-", min_size=1, max_size=10),
                                              st.text("InvokeGt*?", min_size=1, max_size=10)))
_resource = st.one_of(st.just("*"), st.builds(lambda p: f"*/{p}", _word),
                      st.builds(lambda p: f"arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-{p}", _word))
_aws_principal = st.one_of(st.just("*"), st.text("0123456789", min_size=12, max_size=12),
                           st.builds(lambda n: f"arn:aws:iam::111122223333:role/{n}", _word))


def _one_or_many(strategy):
    return st.one_of(strategy, st.lists(strategy, min_size=1, max_size=3))


_principal = st.one_of(
    st.just("*"),
    st.fixed_dictionaries({}, optional={"AWS": _one_or_many(_aws_principal),
                                        "Service": _one_or_many(st.builds(lambda n: f"{n}.amazonaws.com", _word))})
    .filter(bool),
)
_condition_value = st.one_of(_text, st.booleans(), st.integers(-10**6, 10**6))
_operator = st.builds(lambda q, t, e: f"{q}{t}{e}",
                      st.sampled_from(["", "ForAnyValue:", "ForAllValues:"]),
                      st.sampled_from(["StringEquals", "StringLike", "NumericLessThan", "Bool", "IpAddress"]),
                      st.sampled_from(["", "IfExists"]))
_conditions = st.dictionaries(
    st.one_of(_operator, st.just("Null")),
    st.dictionaries(_word.map(lambda w: f"vpc-lattice-svcs:{w}"), _one_or_many(_condition_value), min_size=1,
                    max_size=3),
    max_size=3,
)


@st.composite
def statements(draw):
    statement = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    if draw(st.booleans()):
        statement["Sid"] = draw(_text)
    statement["Principal" if draw(st.booleans()) else "NotPrincipal"] = draw(_principal)
    statement["Action" if draw(st.booleans()) else "NotAction"] = draw(_one_or_many(_action))
    statement["Resource" if draw(st.booleans()) else "NotResource"] = draw(_one_or_many(_resource))
    conditions = draw(_conditions)
    if conditions:
        statement["Condition"] = conditions
    return statement


@st.composite
def documents(draw):
    document = {"Statement": draw(st.one_of(statements(), st.lists(statements(), min_size=1, max_size=4)))}
    if draw(st.booleans()):
        document["Version"] = draw(st.sampled_from(["2012-10-17", "2008-10-17"]))
    if draw(st.booleans()):
        document["Id"] = draw(_text)
    return document


def _as_list(value):
    return value if isinstance(value, list) else [value]


@given(documents())
def test_generated_documents_parse(raw):
    document = parse_policy(json.dumps(raw))
    assert isinstance(document, PolicyDocument)
    assert len(document.statements) == len(_as_list(raw["Statement"]))
    assert all(isinstance(s, Statement) for s in document.statements)


@given(documents())
def test_structure_round_trips(raw):
    document = parse_policy(json.dumps(raw))
    assert parse_policy(json.dumps(document.to_json())) == document
    for statement, source in zip(document.statements, _as_list(raw["Statement"])):
        assert statement.effect == source["Effect"]
        actions = statement.actions if "Action" in source else statement.not_actions
        assert list(actions) == _as_list(source.get("Action", source.get("NotAction")))
        assert len(statement.conditions) == sum(len(keys) for keys in source.get("Condition", {}).values())


@given(documents(), st.sampled_from(["Effect", "Action", "Resource", "Principal"]))
def test_dropping_a_required_element_is_refused(raw, element):
    statements_ = _as_list(raw["Statement"])
    victim = statements_[0]
    for key in (element, "Not" + element):
        victim.pop(key, None)
    with pytest.raises(PolicyError):
        parse_policy(json.dumps({**raw, "Statement": statements_}))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.one_of(_text, st.sampled_from(["Statement", "Effect", "Principal", "Action", "Resource", "Condition",
                                          "Version", "NotAction", "AWS", "StringEquals"])), children, max_size=4),
    max_leaves=15,
)


def _parses_or_policy_error(text: str) -> None:
    try:
        parse_policy(text)
    except PolicyError as exc:
        assert exc.message
    # any other exception fails the test


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_arbitrary_text_is_a_policy_error_or_a_document(text):
    _parses_or_policy_error(text)


@settings(max_examples=300)
@given(_json)
def test_arbitrary_json_is_a_policy_error_or_a_document(value):
    _parses_or_policy_error(json.dumps(value))


@settings(max_examples=100)
@given(documents(), st.data())
def test_mutated_documents_are_a_policy_error_or_a_document(raw, data):
    statement = _as_list(raw["Statement"])[0]
    key = data.draw(st.sampled_from(sorted(statement)))
    statement[key] = data.draw(_json)
    _parses_or_policy_error(json.dumps({**raw, "Statement": [statement]}))
