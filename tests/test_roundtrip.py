"""Wire round-trips with botocore as the oracle, in process (no server).

For every VPC Lattice operation:

* input: a valid value generated from the model (``modelgen``) is serialized
  by botocore's own rest-json serializer into the exact URL, query and body a
  client sends, then routed and parsed by the framework
  (``RestJsonApi.parse``: ``Router.match`` + ``restjson.parse_request``);
  the parsed params must equal the generated input;
* output: a valid output is serialized by ``restjson.serialize_response`` and
  parsed by botocore's rest-json parser; the result must equal it, with the
  status code the model declares;
* errors: every error shape of the model goes through
  ``restjson.serialize_error`` and comes back from botocore with its code,
  message, extra members and status.

The query protocol gets the same treatment through STS, and for every
operation the EC2, ELBv2 and IAM providers implement (a method named after it):

* input: botocore's ``ec2`` (EC2) or ``query`` (ELBv2) serializer builds the
  form-encoded body a client sends; ``Ec2Api.parse``/``QueryApi.parse``
  (form decoding + ``query.parse_request`` in the service's dialect) must give
  back the generated input, less what the wire cannot carry (see ``_form_wire``);
* output: ``query.serialize_response`` in the service's dialect, parsed by
  botocore's ``ec2``/``query`` parser, must give back the generated output;
* errors: every ELBv2 error shape, built the way its providers build them
  (``elbv2.common.error``), and every code the EC2 providers raise (EC2's model
  declares no error shapes), through ``query.serialize_error`` (EC2's
  ``<Response><Errors>`` envelope for EC2).

EC2's model is huge: values come only from shapes reachable from implemented
operations, with lists of at most two items. One value per operation sets
every member (``modelgen.valid(..., full=True)``), so each member reachable
from an implemented operation crosses the wire at least once; a few random
values per operation try the rest (empty text, absent members, edge numbers).

Generation is derandomized (a fixed number of examples per operation), so
every run checks the same values.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser
from hypothesis import given, settings
from hypothesis import strategies as st

import modelgen
from latticework.api import query, restjson
from latticework.api.errors import ServiceError
from latticework.api.models import service_model
from latticework.api.awsapi import HttpRequest, QueryApi, RestJsonApi
from latticework.api.validate import validate
from latticework.api.wire import Response
from latticework.services import build_apis
from latticework.services.ec2 import common as ec2_common
from latticework.services.ec2.common import Ec2Error
from latticework.services.ec2.kinds import KINDS
from latticework.services.elbv2 import common as elbv2_common
from latticework.services.iam import common as iam_common

LATTICE = service_model("vpc-lattice")
STS = service_model("sts")
EXAMPLES = settings(modelgen.DETERMINISTIC, max_examples=5)
# STS is here for the query protocol, whose wire handling is the same for every operation.
FEW = settings(modelgen.DETERMINISTIC, max_examples=2)
REQUEST_ID = "3f1c1d7e-0000-4000-8000-000000000000"


def _http_request(prepared) -> HttpRequest:
    """What the gateway hands the dispatcher for this botocore request."""
    url = urlsplit(prepared.url)
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    body = prepared.body or b""
    return HttpRequest(prepared.method, url.path, url.query, headers,
                       body.encode() if isinstance(body, str) else body)


def _botocore_response(response: Response) -> dict:
    headers = HeadersDict()
    for name, value in response.headers:
        headers[name] = value
    return {"status_code": response.status, "headers": headers, "body": response.body}


def _instants(value):
    """Timestamps as UTC instants, whatever tzinfo object the parser chose."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).timestamp()
    if isinstance(value, dict):
        return {k: _instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_instants(v) for v in value]
    return value


def _parse_output(protocol: str, response: Response, shape) -> dict:
    parsed = create_parser(protocol).parse(_botocore_response(response), shape)
    metadata = parsed.pop("ResponseMetadata")
    assert metadata["RequestId"] == REQUEST_ID
    return parsed


# -- rest-json (VPC Lattice) ----------------------------------------------------

@pytest.fixture(scope="module")
def lattice_wire():
    return RestJsonApi("vpc-lattice", provider=None, model=LATTICE)


def test_model_has_every_operation():
    assert len(LATTICE.operation_names) == 73


@pytest.mark.parametrize("name", LATTICE.operation_names)
@EXAMPLES
@given(data=st.data())
def test_input_round_trip(lattice_wire, name, data):
    op = LATTICE.operation_model(name)
    params = data.draw(modelgen.valid(op.input_shape), label="input")
    assert validate(op.input_shape, params) == [], "generator and validator disagree"
    request = _http_request(modelgen.botocore_request(op, params).prepare())
    parsed_op, parsed = lattice_wire.parse(request)
    assert parsed_op.name == name
    assert parsed == _on_the_wire(op.input_shape, params)


def _on_the_wire(shape, params: dict) -> dict:
    """What survives the trip: an empty list in the query string is not sent at all."""
    locations = modelgen.top_level_locations(shape)
    return {k: v for k, v in params.items() if not (locations[k] == "querystring" and v == [])}


@pytest.mark.parametrize("name", LATTICE.operation_names)
@EXAMPLES
@given(data=st.data())
def test_output_round_trip(name, data):
    op = LATTICE.operation_model(name)
    result = data.draw(modelgen.valid(op.output_shape), label="output")
    response = restjson.serialize_response(op, result, REQUEST_ID)
    assert response.status == op.http.get("responseCode", 200)
    assert _instants(_parse_output("rest-json", response, op.output_shape)) == _instants(result)


def _raise_and_serialize(model, shape, value: dict, serialize) -> Response:
    fields = {k: v for k, v in value.items() if k != "message"}
    error = ServiceError(value.get("message", ""), code=shape.name, **fields)
    return serialize(model, error, REQUEST_ID)


@pytest.mark.parametrize("code", [s.name for s in LATTICE.error_shapes])
@EXAMPLES
@given(data=st.data())
def test_error_round_trip(code, data):
    shape = next(s for s in LATTICE.error_shapes if s.name == code)
    value = data.draw(modelgen.valid(shape), label="error")
    response = _raise_and_serialize(LATTICE, shape, value, restjson.serialize_error)
    assert response.status == shape.metadata["error"]["httpStatusCode"]
    assert dict(response.headers)["x-amzn-ErrorType"] == code
    # botocore's two steps: the generic error, then the modeled members of its shape.
    generic = _parse_output("rest-json", response, LATTICE.operation_model("GetServiceNetwork").output_shape)
    assert generic["Error"] == {"Code": code, "Message": value.get("message", "")}
    modeled = create_parser("rest-json").parse(_botocore_response(response), shape)
    assert modeled == value


@pytest.mark.parametrize("name", [n for n in LATTICE.operation_names
                                  if not LATTICE.operation_model(n).output_shape.members])
def test_empty_output(name):
    """An empty JSON object, or no body at all where the model's status code forbids one (204)."""
    op = LATTICE.operation_model(name)
    response = restjson.serialize_response(op, {}, REQUEST_ID)
    assert response.body == (b"" if response.status == 204 else b"{}")
    assert _parse_output("rest-json", response, op.output_shape) == {}


# -- query (STS) -----------------------------------------------------------------

@pytest.fixture(scope="module")
def sts_wire():
    return QueryApi("sts", provider=None, model=STS)


def test_sts_get_caller_identity_round_trip(sts_wire):
    op = STS.operation_model("GetCallerIdentity")
    parsed_op, params = sts_wire.parse(_http_request(modelgen.botocore_request(op, {}).prepare()))
    assert (parsed_op.name, params) == ("GetCallerIdentity", {})
    result = {"UserId": "AKIDEXAMPLE", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/alice"}
    response = query.serialize_response(STS, op, result, REQUEST_ID)
    assert _parse_output("query", response, op.output_shape) == result


@pytest.mark.parametrize("name", STS.operation_names)
@FEW
@given(data=st.data())
def test_sts_input_round_trip(sts_wire, name, data):
    op = STS.operation_model(name)
    params = data.draw(modelgen.valid(op.input_shape), label="input")
    parsed_op, parsed = sts_wire.parse(_http_request(modelgen.botocore_request(op, params).prepare()))
    assert parsed_op.name == name
    assert _instants(parsed) == _instants(_query_wire(params))


def _query_wire(value):
    """What the query protocol carries: a structure with nothing set sends no parameter at all,
    and a list ends at its first item that sends nothing (items are numbered ``.member.N``
    from 1 and read until a number is missing)."""
    if isinstance(value, dict):
        kept = {k: _query_wire(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if not _vanishes(v)}
    if isinstance(value, list):
        items = [_query_wire(v) for v in value]
        cut = next((i for i, v in enumerate(items) if _vanishes(v)), len(items))
        return items[:cut] if cut or not items else {}
    return value


def _vanishes(value) -> bool:
    return value == {}


@pytest.mark.parametrize("name", STS.operation_names)
@FEW
@given(data=st.data())
def test_sts_output_round_trip(name, data):
    op = STS.operation_model(name)
    result = data.draw(modelgen.valid(op.output_shape, xml=True), label="output")
    response = query.serialize_response(STS, op, result, REQUEST_ID)
    assert _instants(_parse_output("query", response, op.output_shape)) == _instants(result)


@pytest.mark.parametrize("ours, theirs", [
    ("InvalidSignatureException", "SignatureDoesNotMatch"),
    ("UnrecognizedClientException", "InvalidClientTokenId"),
    ("MissingAuthenticationTokenException", "MissingAuthenticationToken"),
    ("ExpiredTokenException", "ExpiredTokenException"),
])
def test_sts_error_round_trip(ours, theirs):
    error = ServiceError("it went <wrong> & stayed wrong", status=403, code=ours)
    response = query.serialize_error(STS, error, REQUEST_ID)
    parsed = _parse_output("query", response, STS.operation_model("GetCallerIdentity").output_shape)
    assert parsed["Error"]["Code"] == theirs
    assert parsed["Error"]["Message"] == "it went <wrong> & stayed wrong"
    assert response.status == (400 if ours == "ExpiredTokenException" else 403)


# -- ec2 and query (EC2, ELBv2): every implemented operation ---------------------

SERVICES = build_apis()
EC2_SERVICE, ELBV2_SERVICE, IAM_SERVICE = SERVICES["ec2"], SERVICES["elasticloadbalancing"], SERVICES["iam"]
# (service, operation) pairs, with the botocore protocol that serializes and parses them.
FORM_OPS = [pytest.param(svc, name, id=f"{svc.model.service_name}-{name}")
            for svc in (EC2_SERVICE, ELBV2_SERVICE, IAM_SERVICE) for name in svc.implemented()]
FORM_ITEMS = 2  # list and map sizes: EC2's shapes are many and nested, bulk adds nothing
FORM_EXAMPLES = settings(modelgen.DETERMINISTIC, max_examples=4)


def _protocol(svc) -> str:
    return svc.model.metadata["protocol"]  # "ec2" or "query"


def _dialect(svc) -> query.Dialect:
    return query.EC2 if _protocol(svc) == "ec2" else query.QUERY


def test_every_served_form_operation_is_covered():
    assert len(EC2_SERVICE.model.operation_names) > 700  # the whole EC2 model, not a slice of it
    assert {"CreateVpc", "DescribeVpcs", "CreateVpcEndpoint"} <= set(EC2_SERVICE.implemented())
    assert {"CreateLoadBalancer", "DescribeLoadBalancers"} <= set(ELBV2_SERVICE.implemented())
    assert {"CreateRole", "GetPolicyVersion", "ListAttachedRolePolicies"} <= set(IAM_SERVICE.implemented())


NOTHING = object()  # what a value that puts no parameter on the wire comes back as


def _form_wire(shape, value, ec2: bool):
    """``value`` as the form protocols carry it (``NOTHING`` when it sends no parameter).

    A structure or map with nothing set sends no parameter at all; a list ends
    at its first item that sends nothing (items are numbered from 1 and read
    until a number is missing), and sends nothing if that is its first item;
    an empty list sends ``Name=`` in the query dialect but nothing at all in
    EC2's (botocore's EC2 serializer writes only the items). Timestamps are
    compared as instants: providers receive the ISO text the client sent.
    """
    kind = shape.type_name
    if kind == "structure":
        kept = {k: _form_wire(shape.members[k], v, ec2) for k, v in value.items()}
        kept = {k: v for k, v in kept.items() if v is not NOTHING}
        return kept or NOTHING
    if kind == "list":
        items = [_form_wire(shape.member, v, ec2) for v in value]
        cut = next((i for i, v in enumerate(items) if v is NOTHING), len(items))
        return items[:cut] if cut or (not items and not ec2) else NOTHING
    if kind == "map":
        return {k: _form_wire(shape.value, v, ec2) for k, v in value.items()} or NOTHING
    if kind == "timestamp":
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
        return moment.astimezone(dt.timezone.utc).timestamp()
    return value


def _check_form_input(svc, name: str, params: dict) -> None:
    op = svc.model.operation_model(name)
    prepared = modelgen.botocore_request(op, params).prepare()
    assert prepared.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    parsed_op, parsed = svc.parse(_http_request(prepared))
    assert parsed_op.name == name
    ec2 = _protocol(svc) == "ec2"
    assert _top_level(op.input_shape, parsed, ec2) == _top_level(op.input_shape, params, ec2)


def _top_level(shape, params: dict, ec2: bool) -> dict:
    carried = _form_wire(shape, params, ec2)
    return {} if carried is NOTHING else carried


def _check_form_output(svc, name: str, result: dict) -> None:
    op = svc.model.operation_model(name)
    response = query.serialize_response(svc.model, op, result, REQUEST_ID, _dialect(svc))
    assert response.status == 200
    assert _instants(_parse_output(_protocol(svc), response, op.output_shape)) == _instants(result)


def _full(shape, xml: bool = False):
    return modelgen.examples(modelgen.valid(shape, xml, full=True, max_items=FORM_ITEMS), 1)[0]


@pytest.mark.parametrize("svc, name", FORM_OPS)
def test_form_input_round_trip_every_member(svc, name):
    op = svc.model.operation_model(name)
    _check_form_input(svc, name, _full(op.input_shape) if op.input_shape is not None else {})


@pytest.mark.parametrize("svc, name", FORM_OPS)
@FORM_EXAMPLES
@given(data=st.data())
def test_form_input_round_trip(svc, name, data):
    op = svc.model.operation_model(name)
    params = data.draw(modelgen.valid(op.input_shape, max_items=FORM_ITEMS), label="input") \
        if op.input_shape is not None else {}
    _check_form_input(svc, name, params)


@pytest.mark.parametrize("svc, name", FORM_OPS)
def test_form_output_round_trip_every_member(svc, name):
    op = svc.model.operation_model(name)
    _check_form_output(svc, name, _full(op.output_shape, xml=True) if op.output_shape is not None else {})


@pytest.mark.parametrize("svc, name", FORM_OPS)
@FORM_EXAMPLES
@given(data=st.data())
def test_form_output_round_trip(svc, name, data):
    op = svc.model.operation_model(name)
    result = data.draw(modelgen.valid(op.output_shape, xml=True, max_items=FORM_ITEMS), label="output") \
        if op.output_shape is not None else {}
    _check_form_output(svc, name, result)


def test_full_values_reach_every_member():
    """The every-member values do set every member reachable from the operation."""
    op = EC2_SERVICE.model.operation_model("DescribeInstances")
    assert _member_paths(op.output_shape) == set(_set_paths(op.output_shape, _full(op.output_shape, xml=True)))


def _member_paths(shape, path=""):
    if shape.type_name == "structure":
        return set().union(*[{f"{path}.{n}"} | _member_paths(m, f"{path}.{n}") for n, m in shape.members.items()])
    if shape.type_name == "list":
        return _member_paths(shape.member, path + "[]")
    return set()


def _set_paths(shape, value, path=""):
    if shape.type_name == "structure":
        for name, member_value in value.items():
            yield f"{path}.{name}"
            yield from _set_paths(shape.members[name], member_value, f"{path}.{name}")
    elif shape.type_name == "list":
        for item in value:
            yield from _set_paths(shape.member, item, path + "[]")


# ELBv2 declares its errors; each one as its providers raise it (code, status and fault side from the model).
ELBV2_ERRORS = ELBV2_SERVICE.model.error_shapes


@pytest.mark.parametrize("shape", ELBV2_ERRORS, ids=[s.name for s in ELBV2_ERRORS])
@FEW
@given(data=st.data())
def test_elbv2_error_round_trip(shape, data):
    value = data.draw(modelgen.valid(shape, xml=True), label="error")
    error = elbv2_common.error(shape.error_code, value.get("Message", ""))
    response = query.serialize_error(ELBV2_SERVICE.model, error, REQUEST_ID)
    meta = shape.metadata["error"]
    assert response.status == meta["httpStatusCode"]
    parsed = _parse_output("query", response, ELBV2_SERVICE.model.operation_model("DescribeLoadBalancers").output_shape)
    # An empty <Message/> comes back as None from botocore: the wire has no "" to give.
    assert {**parsed["Error"], "Message": parsed["Error"]["Message"] or ""} == {
        "Code": shape.error_code, "Message": value.get("Message", ""),
        "Type": "Sender" if meta.get("senderFault") else "Receiver"}


# IAM declares its errors too; each as its providers raise it (``iam.common.error``).
IAM_ERRORS = [s for s in IAM_SERVICE.model.error_shapes if "httpStatusCode" in s.metadata.get("error", {})]


@pytest.mark.parametrize("shape", IAM_ERRORS, ids=[s.name for s in IAM_ERRORS])
@FEW
@given(data=st.data())
def test_iam_error_round_trip(shape, data):
    value = data.draw(modelgen.valid(shape, xml=True), label="error")
    error = iam_common.error(shape.error_code, value.get("message", ""))
    response = query.serialize_error(IAM_SERVICE.model, error, REQUEST_ID)
    meta = shape.metadata["error"]
    assert response.status == meta["httpStatusCode"]
    parsed = _parse_output("query", response, IAM_SERVICE.model.operation_model("GetRole").output_shape)
    assert {**parsed["Error"], "Message": parsed["Error"]["Message"] or ""} == {
        "Code": shape.error_code, "Message": value.get("message", ""),
        "Type": "Sender" if meta.get("senderFault") else "Receiver"}


def test_elbv2_validation_error_round_trip():
    response = query.serialize_error(ELBV2_SERVICE.model, elbv2_common.validation("bad <value> & more"),
                                     REQUEST_ID)
    parsed = _parse_output("query", response, ELBV2_SERVICE.model.operation_model("DescribeTags").output_shape)
    assert (response.status, parsed["Error"]["Code"], parsed["Error"]["Message"]) == (
        400, "ValidationError", "bad <value> & more")


def _ec2_codes() -> list[str]:
    """Every code the EC2 providers raise: literal ``Ec2Error("Code"`` in their source, and each kind's
    not-found code (EC2's model declares no error shapes to enumerate)."""
    package = Path(ec2_common.__file__).parent
    found = {code for path in package.glob("*.py")
             for code in re.findall(r'Ec2Error\(\s*"([^"]+)"', path.read_text())}
    return sorted(found | {kind.not_found for kind in KINDS.values()})


EC2_ERROR_STATUS = {"DryRunOperation": 412}


@pytest.mark.parametrize("code", _ec2_codes())
@FEW
@given(message=st.text(modelgen.XML_TEXT, max_size=modelgen.MAX_TEXT))
def test_ec2_error_round_trip(code, message):
    error = Ec2Error(code, message, EC2_ERROR_STATUS.get(code, 400))
    response = query.serialize_error(EC2_SERVICE.model, error, REQUEST_ID, query.EC2)
    assert response.status == EC2_ERROR_STATUS.get(code, 400)
    assert response.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>')
    parsed = _parse_output("ec2", response, EC2_SERVICE.model.operation_model("DescribeVpcs").output_shape)
    assert (parsed["Error"]["Code"], parsed["Error"]["Message"] or "") == (code, message)


@pytest.mark.parametrize("ours, status", [("InvalidSignatureException", 401), ("UnrecognizedClientException", 401),
                                          ("SignatureDoesNotMatch", 401), ("InvalidClientTokenId", 401)])
def test_ec2_auth_errors_are_auth_failure(ours, status):
    """EC2 answers every credential failure ``AuthFailure`` (HTTP 401), whatever the front door said."""
    response = query.serialize_error(EC2_SERVICE.model, ServiceError("no", status=403, code=ours), REQUEST_ID,
                                     query.EC2)
    parsed = _parse_output("ec2", response, EC2_SERVICE.model.operation_model("DescribeVpcs").output_shape)
    assert (response.status, parsed["Error"]["Code"]) == (status, "AuthFailure")
