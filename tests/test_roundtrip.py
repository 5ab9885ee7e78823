"""Wire round-trips with botocore as the oracle, in process (no server).

For every VPC Lattice operation:

* input: a valid value generated from the model (``modelgen``) is serialized
  by botocore's own rest-json serializer into the exact URL, query and body a
  client sends, then routed and parsed by the framework
  (``RestJsonService.parse``: ``Router.match`` + ``restjson.parse_request``);
  the parsed params must equal the generated input;
* output: a valid output is serialized by ``restjson.serialize_response`` and
  parsed by botocore's rest-json parser; the result must equal it, with the
  status code the model declares;
* errors: every error shape of the model goes through
  ``restjson.serialize_error`` and comes back from botocore with its code,
  message, extra members and status.

The query protocol gets the same treatment through STS (the only query
service served today; ELBv2 and EC2 will reuse it).

Generation is derandomized (a fixed number of examples per operation), so
every run checks the same values.
"""

from __future__ import annotations

import datetime as dt
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
from latticework.api.service import HttpRequest, QueryService, RestJsonService
from latticework.api.validate import validate

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


def _botocore_response(response: restjson.Response) -> dict:
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


def _parse_output(protocol: str, response: restjson.Response, shape) -> dict:
    parsed = create_parser(protocol).parse(_botocore_response(response), shape)
    metadata = parsed.pop("ResponseMetadata")
    assert metadata["RequestId"] == REQUEST_ID
    return parsed


# -- rest-json (VPC Lattice) ----------------------------------------------------

@pytest.fixture(scope="module")
def lattice_wire():
    return RestJsonService("vpc-lattice", provider=None, model=LATTICE)


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


def _raise_and_serialize(model, shape, value: dict, serialize) -> restjson.Response:
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
    return QueryService("sts", provider=None, model=STS)


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
