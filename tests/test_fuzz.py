"""Model-driven fuzzing of the real server: invalid input never gets a 5xx.

For every VPC Lattice operation, a valid input with every member set is
generated from the model (``modelgen``), serialized by botocore, then broken
one way at a time: a member of the wrong JSON type, out of range, too long or
too short, breaking its pattern, not in its enum, missing while required, a
union with two members; bodies that are not JSON, not an object, not UTF-8,
nested thousands deep; wrong content types; bad percent-encoding in the path
and the query. Each request is signed properly (SigV4, ``test``/``test``), so
it reaches the parsing and validation layers, and sent with ``http.client``
(raw bytes through a socket when the path itself is not ASCII).

Every answer must be below 500; every 4xx must carry ``x-amzn-ErrorType`` and
a JSON object with a message. A fixed, seeded sample of cases per operation
keeps the file fast and the same on every run.

The form-encoded APIs (EC2 in its ``ec2`` dialect, ELBv2 in ``query``) get the
same treatment for every operation their providers implement: a valid input
with every member set, serialized by botocore's own serializer (which also
reports the shape behind each form key), broken one way at a time: a value of
the wrong type or a bad number, an enum value that is not one, a huge value,
text that is not UTF-8, a required member missing, absurd list indexes
(``Filter.99999.Name``, ``Filter.0.Name``, ``Filter.x.Name``), duplicated keys,
scalars where structures belong and the reverse, a list of thousands of items;
plus, per API, bodies that are not forms, content types that are not form
encoding, unknown or unserved actions. Requests are signed for ``ec2`` or
``elasticloadbalancing`` (SigV4); every answer must be below 500 and every
4xx an XML error document with a ``Code``.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, create_request_object, prepare_request_dict
from botocore.credentials import Credentials
from botocore.serialize import create_serializer

import modelgen
from latticework.api.models import service_model
from latticework.api.validate import validate
from latticework.services import build_apis

LATTICE = service_model("vpc-lattice")
CASES_PER_OPERATION = 40
DEEP = 100_000
WRONG_TYPE = {"string": 12345, "integer": "12", "long": "12", "boolean": "true", "float": "1.5", "double": "1.5",
              "list": {"not": "a list"}, "map": ["not", "a", "map"], "structure": "not a structure",
              "timestamp": [2024], "blob": 7}
GARBAGE_BODIES = [b"{", b"}", b"[]", b'"text"', b"null", b"42", b"true", b"\xff\xfe\xfd", b'{"name": "\xc3\x28"}',
                  b"[" * DEEP + b"]" * DEEP, b'{"a":' * DEEP + b"1" + b"}" * DEEP, b'{"x": 1e99999}',
                  b'{"x": ' + b"9" * 5000 + b"}", b"\x00" * 64, b"name=a&authType=NONE"]


KNOWN_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND")


@dataclass
class Case:
    label: str
    method: str
    target: str  # path and query, as sent
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    sdk: bool = True  # what botocore would send: its signature must verify
    service: str = "vpc-lattice"  # the signing name


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class Wire:
    """Signed requests to the server over one kept-alive connection."""

    def __init__(self, url: str):
        self.url = url
        self.host, self.port = urlsplit(url).hostname, urlsplit(url).port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)

    def signed(self, case: Case) -> dict:
        request = AWSRequest(case.method, self.url + case.target, data=case.body, headers=dict(case.headers))
        SigV4Auth(Credentials("test", "test"), case.service, "us-east-1").add_auth(request)
        return dict(request.prepare().headers)

    def send(self, case: Case, sign: bool = True) -> Answer:
        headers = self.signed(case) if sign else dict(case.headers)
        if not case.target.isascii():
            return self._raw(case, headers)
        try:
            self.conn.request(case.method, case.target, body=case.body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):  # the server closed a kept-alive connection
            self.conn.close()
            self.conn.request(case.method, case.target, body=case.body, headers=headers)
            response = self.conn.getresponse()
        return Answer(response.status, response.headers, response.read())

    def _raw(self, case: Case, headers: dict) -> Answer:
        """A request whose path holds non-ASCII bytes, which http.client refuses to send."""
        head = f"{case.method} {case.target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(case.body)}\r\n\r\n"
        with socket.create_connection((self.host, self.port), timeout=30) as sock:
            sock.sendall(head.encode("latin-1") + case.body)
            response = http.client.HTTPResponse(sock)
            response.begin()
            return Answer(response.status, response.headers, response.read())


@pytest.fixture(scope="module")
def wire(server):
    return Wire(server.url)


def assert_well_formed(case: Case, answer: Answer) -> None:
    assert answer.status < 500, f"{case.label}: {answer.status} {answer.body[:300]!r}"
    if not case.target.isascii() or case.method not in KNOWN_METHODS:
        # Not HTTP at all (RFC 9112 request targets are ASCII; httptools knows the
        # registered methods only): the HTTP parser refuses it with a plain 400
        # before any AWS API is involved.
        assert answer.status == 400, case.label
    elif answer.status >= 400:
        assert answer.headers.get("x-amzn-ErrorType"), f"{case.label}: no x-amzn-ErrorType"
        document = json.loads(answer.body)
        assert isinstance(document, dict) and isinstance(document.get("message"), str), case.label


# -- valid requests to break -----------------------------------------------------

def _valid_input(op) -> dict:
    return modelgen.examples(modelgen.valid(op.input_shape, full=True), 1)[0]


def _request_dict(op, params: dict) -> dict:
    return create_serializer("rest-json", include_validation=False).serialize_to_request(params, op)


def _case(label: str, request: dict, *, body: bytes | None = None, headers: dict | None = None) -> Case:
    request = {**request, "headers": {**request["headers"], **(headers or {})}}
    if body is not None:
        request["body"] = body
    prepare_request_dict(request, "http://fuzz")
    prepared = create_request_object(request).prepare()
    split = urlsplit(prepared.url)
    target = split.path + (f"?{split.query}" if split.query else "")
    data = prepared.body.encode() if isinstance(prepared.body, str) else (prepared.body or b"")
    return Case(label, prepared.method, target, data, dict(prepared.headers))


# -- mutations -------------------------------------------------------------------

def _positions(shape, value, path=()):
    """(path, shape) of every member set in ``value``; first item of lists and maps."""
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member_value in value.items():
            member = shape.members[name]
            yield path + (name,), member
            yield from _positions(member, member_value, path + (name,))
    elif shape.type_name == "list" and value:
        yield path + (0,), shape.member
        yield from _positions(shape.member, value[0], path + (0,))
    elif shape.type_name == "map" and value:
        key = next(iter(value))
        yield path + (key,), shape.value
        yield from _positions(shape.value, value[key], path + (key,))


def _bad_values(shape) -> list:
    """Values of the right kind of place that break one constraint each (or the type)."""
    meta, kind = shape.metadata, shape.type_name
    bad = [WRONG_TYPE[kind]]
    if kind == "string":
        bad += ["NOT_AN_ENUM_VALUE"] if "enum" in meta else []
        bad += ["a" * (meta["max"] + 1)] if "max" in meta else []
        bad += ["a" * (meta["min"] - 1)] if meta.get("min") else []
        bad += _pattern_breakers(meta)
    elif kind in ("integer", "long", "float", "double"):
        bad += [meta["min"] - 1] if "min" in meta else []
        bad += [meta["max"] + 1] if "max" in meta else []
        bad += [10**30, -(10**30), 1e308, 0.5, False]
    elif kind in ("list", "map"):
        bad += [[] if kind == "list" else {}] if meta.get("min") else []
        bad += [[None]] if kind == "list" else [{"k": None}]
    elif kind == "structure" and (shape.required_members or shape.metadata.get("union")):
        bad += [{}, {"unknownMember": 1}]
    return bad


def _pattern_breakers(meta: dict) -> list[str]:
    if "pattern" not in meta:
        return []
    low, high = meta.get("min", 0), meta.get("max", 10**6)
    candidates = ["--!bad pattern\u00e9--", "   ", "\u00e9\u00e9\u00e9", "-" * max(low, 1), "A" * max(low, 3)]
    fits = [c for c in candidates if low <= len(c) <= high and not re.fullmatch(meta["pattern"], c, re.DOTALL)]
    return fits[:2]


def _set(document, path, value):
    for step in path[:-1]:
        document = document[step]
    document[path[-1]] = value


def _drop(document, path):
    for step in path[:-1]:
        document = document[step]
    del document[path[-1]]


def _body_cases(op, params: dict, request: dict) -> list[Case]:
    cases = []
    locations = modelgen.top_level_locations(op.input_shape)
    body_params = {k: v for k, v in params.items() if locations[k] == "body"}
    for path, shape in _positions(op.input_shape, body_params):
        for bad in _bad_values(shape):
            document = json.loads(request["body"] or b"{}")
            _set(document, path, bad)
            cases.append(_case(f"{op.name} {path}={bad!r:.40}", dict(request), body=json.dumps(document).encode()))
    for path, _ in _positions(op.input_shape, body_params):
        document = json.loads(request["body"] or b"{}")
        _drop(document, path)
        cases.append(_case(f"{op.name} without {path}", dict(request), body=json.dumps(document).encode()))
    return cases


def _text_cases(op, params: dict) -> list[Case]:
    """Query and path members: text that breaks the member's type or constraints."""
    cases = []
    for name, member in op.input_shape.members.items():
        location = member.serialization.get("location")
        if location not in ("uri", "querystring"):
            continue
        for bad in _bad_texts(member):
            request = _request_dict(op, {**params, name: bad})
            cases.append(_case(f"{op.name} {location} {name}={bad!r:.40}", request))
        if name in params and location == "querystring":
            request = _request_dict(op, {k: v for k, v in params.items() if k != name})
            cases.append(_case(f"{op.name} without {location} {name}", request))
    return cases


def _bad_texts(member) -> list[str]:
    meta = member.metadata
    kind = member.type_name if member.type_name != "list" else member.member.type_name
    texts = ["", "%ZZ", "%", "\u00e9\u4e2d", "a/b", "..", "%00"]
    if kind in ("integer", "long"):
        texts += ["abc", "1.5", "1e3", "99999999999999999999999", str(meta.get("max", 2**31) + 1), "-1", " 7"]
    if kind == "boolean":
        texts += ["maybe", "1"]
    if kind == "string":
        texts += ["NOT_AN_ENUM_VALUE"] if "enum" in meta else []
        texts += ["a" * (meta["max"] + 1)] if "max" in meta else []
        texts += _pattern_breakers(meta)
    return texts


def _raw_cases(op, request: dict) -> list[Case]:
    """Encodings no SDK produces: raw percent signs and raw bytes in the path, broken query escapes."""
    prepared = _case(f"{op.name} base", dict(request))
    path, _, query = prepared.target.partition("?")
    cases = [Case(f"{op.name} bad query escapes", op.http["method"], path + "?maxResults=%ZZ&%=%&nextToken=%FF%FE",
                  sdk=False),
             Case(f"{op.name} repeated query", op.http["method"], path + "?maxResults=1&maxResults=x")]
    if op.input_shape.members and any(m.serialization.get("location") == "uri"
                                      for m in op.input_shape.members.values()):
        segments = path.split("/")
        for bad in ("%ZZ", "%", "%C3%28", "%00", "\u00ff\u00fe", "%2F%2E%2E"):
            broken = "/".join(segments[:-1] + [bad]) if len(segments) > 2 else path + bad
            cases.append(Case(f"{op.name} path {bad!r}", op.http["method"], broken, prepared.body,
                              {k: v for k, v in prepared.headers.items() if k.lower() == "content-type"}, sdk=False))
    return cases


def _garbage_cases(op, request: dict) -> list[Case]:
    has_body = any("location" not in m.serialization for m in op.input_shape.members.values())
    if not has_body:
        return []
    cases = [_case(f"{op.name} body {body[:20]!r}", dict(request), body=body) for body in GARBAGE_BODIES]
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml", "\u00e9"):
        cases.append(_case(f"{op.name} content-type {content_type}", dict(request), body=b"name=a&authType=NONE",
                           headers={"Content-Type": content_type}))
    return cases


def _union_cases(op, params: dict, request: dict) -> list[Case]:
    cases = []
    for path, shape in _positions(op.input_shape, params):
        if shape.type_name == "structure" and shape.metadata.get("union") and len(shape.members) > 1:
            document = json.loads(request["body"] or b"{}")
            both = dict.fromkeys(list(shape.members)[:2], {})
            _set(document, path, both)
            cases.append(_case(f"{op.name} union {path} with two members", dict(request),
                               body=json.dumps(document).encode()))
    return cases


def cases_for(name: str) -> list[Case]:
    op = LATTICE.operation_model(name)
    params = _valid_input(op)
    request = _request_dict(op, params)
    cases = (_body_cases(op, params, request) + _text_cases(op, params) + _union_cases(op, params, request))
    sample = random.Random(name).sample(cases, min(len(cases), CASES_PER_OPERATION))
    return sample + _garbage_cases(op, request) + _raw_cases(op, request)


# -- tests -----------------------------------------------------------------------

def _dot_or_empty_segment(target: str) -> bool:
    segments = target.partition("?")[0].split("/")[1:]
    return any(s in ("", ".", "..") for s in segments[:-1]) or segments[-1] in (".", "..")


@pytest.mark.parametrize("name", LATTICE.operation_names)
def test_invalid_input_never_fails_the_server(wire, name):
    statuses = []
    for case in cases_for(name):
        answer = wire.send(case)
        assert_well_formed(case, answer)
        if case.sdk and not _dot_or_empty_segment(case.target):  # see test_sigv4 for those
            assert answer.headers.get("x-amzn-ErrorType") not in (
                "InvalidSignatureException", "IncompleteSignatureException"), f"{case.label}: signature not verified"
        statuses.append(answer.status)
    assert statuses.count(400) >= len(statuses) // 2, "most broken inputs should be rejected as invalid"
    assert wire.send(Case("health", "GET", "/_latticework/health"), sign=False).status == 200


def test_generated_mutations_are_invalid():
    """The fuzzer's value mutations do break the model (else a case could create resources)."""
    op = LATTICE.operation_model("CreateServiceNetwork")
    params = _valid_input(op)
    assert validate(op.input_shape, params) == []
    for path, shape in _positions(op.input_shape, params):
        for bad in _bad_values(shape):
            broken = json.loads(json.dumps(params))
            _set(broken, path, bad)
            assert validate(op.input_shape, broken), (path, bad)


@pytest.mark.parametrize("method, target", [
    ("GET", "/"), ("GET", "/nothing/here"), ("POST", "/servicenetworks/sn-00000000000000000/nope"),
    ("BREW", "/servicenetworks"), ("PROPFIND", "/servicenetworks"), ("PATCH", "/services"), ("OPTIONS", "/servicenetworks"),
    ("GET", "/servicenetworks?maxResults=%ZZ"), ("DELETE", "/"), ("GET", "//servicenetworks"),
])
def test_wrong_paths_and_methods(wire, method, target):
    case = Case(f"{method} {target}", method, target)
    for answer in (wire.send(case), wire.send(case, sign=False)):
        assert 400 <= answer.status < 500, case.label
        assert_well_formed(case, answer)


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "garbage"}, {"Authorization": "AWS4-HMAC-SHA256 Credential=test"},
    {"Authorization": "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
     "X-Amz-Date": "20240101T000000Z"},
    {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/vpc-lattice/aws4_request, "
                      "SignedHeaders=host, Signature=00", "X-Amz-Date": "not a date"},
    {"Authorization": "\u00e9\u00e9"}, {"X-Amz-Date": "20240101T000000Z"},
])
def test_unsigned_and_badly_signed_requests(wire, headers):
    case = Case(f"headers {headers}", "GET", "/servicenetworks", b"", headers)
    answer = wire.send(case, sign=False)
    assert answer.status in (400, 403), case.label
    assert_well_formed(case, answer)


def test_unknown_latticework_path(wire):
    answer = wire.send(Case("own namespace", "GET", "/_latticework/nothing"), sign=False)
    assert answer.status == 404
    assert "message" in json.loads(answer.body)


def test_presigned_garbage_query(wire):
    case = Case("presigned garbage", "GET", "/servicenetworks?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x"
                "&X-Amz-Date=1&X-Amz-SignedHeaders=host&X-Amz-Signature=0&X-Amz-Expires=soon")
    answer = wire.send(case, sign=False)
    assert answer.status in (400, 403)
    assert_well_formed(case, answer)


def test_unknown_signing_service(wire):
    case = Case("service foo", "GET", "/servicenetworks")
    request = AWSRequest("GET", wire.url + case.target)
    SigV4Auth(Credentials("test", "test"), "no-such-service", "us-east-1").add_auth(request)
    answer = wire.send(Case(case.label, "GET", case.target, b"", dict(request.prepare().headers)), sign=False)
    assert answer.status == 400
    assert_well_formed(case, answer)


def test_body_over_the_limit(wire):
    case = Case("9 MB body", "POST", "/servicenetworks", b"{" + b" " * (8 * 1024 * 1024) + b"}",
                {"Content-Type": "application/json"})
    answer = wire.send(case, sign=False)
    assert answer.status == 413
    assert_well_formed(case, answer)


def test_sts_garbage_gets_xml_errors(wire):
    for body in (b"Action=NoSuchAction&Version=2011-06-15", b"\xff\xfe", b"Action=GetCallerIdentity&Version=x%ZZ"):
        case = Case(f"sts {body!r}", "POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded"})
        request = AWSRequest("POST", wire.url + "/", data=body, headers=dict(case.headers))
        SigV4Auth(Credentials("test", "test"), "sts", "us-east-1").add_auth(request)
        answer = wire.send(Case(case.label, "POST", "/", body, dict(request.prepare().headers)), sign=False)
        assert answer.status < 500, case.label
        if answer.status >= 400:
            assert b"<Code>" in answer.body, case.label


def test_server_still_healthy(wire):
    answer = wire.send(Case("health", "GET", "/_latticework/health"), sign=False)
    assert answer.status == 200
    assert json.loads(answer.body)["status"] == "ok"


# -- form-encoded APIs (EC2, ELBv2): every implemented operation ------------------

SERVICES = build_apis()
FORM_SERVICES = [SERVICES["ec2"], SERVICES["elasticloadbalancing"]]
FORM_OPS = [pytest.param(svc.name, name, id=f"{svc.model.service_name}-{name}")
            for svc in FORM_SERVICES for name in svc.implemented()]
FORM_CASES_PER_OPERATION = 40
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
HUGE = "a" * 300_000
LONG_LIST = 500  # items in each operation's long-list case (test_form_long_list_is_parsed_quickly: more)
# Text for each scalar type that is no value of that type, or a value no one means.
BAD_TEXTS = {
    "integer": ["abc", "1.5", "1e999", "99999999999999999999999", "-99999999999", "", " 7", "NaN", "0x10"],
    "long": ["abc", "1e3", "9" * 40, "-" + "9" * 40, ""],
    "float": ["abc", "nan", "inf", "1e999", ""], "double": ["abc", "-inf", "1e999", ""],
    "boolean": ["maybe", "", "1", "yes"],
    "timestamp": ["not a date", "", "2024-13-45T99:99:99Z", "9" * 30, "-1"],
    "blob": ["%%%not base64", ""],
    "string": ["", "\x00", "%", "\u00e9\u4e2d\U0001f600", "-1", "0.0.0.0/99", "arn:aws:::", "*", "a" * 5000],
}


class _Recorder:
    """botocore's own serializer for the protocol, noting the shape behind every form key it writes."""

    def __init__(self, protocol: str):
        base = type(create_serializer(protocol, include_validation=False))
        shapes: dict[str, object] = {}

        class Recording(base):
            def _serialize(self, serialized, value, shape, prefix=""):
                super()._serialize(serialized, value, shape, prefix)
                if prefix and shape.type_name not in ("structure", "list", "map"):
                    shapes[prefix] = shape

        self.serializer, self.shapes = Recording(), shapes

    def form(self, op, params: dict) -> dict[str, str]:
        body = self.serializer.serialize_to_request(params, op)["body"]
        return {k: str(v) for k, v in body.items()}


def _form_input(op) -> dict:
    """Every member set, DryRun left out: the broken request must reach the provider, not stop at
    EC2's DryRun check."""
    if op.input_shape is None:
        return {}
    params = modelgen.examples(modelgen.valid(op.input_shape, full=True, max_items=2), 1)[0]
    params.pop("DryRun", None)
    return params


def _form_case(svc, label: str, pairs, *, content_type: str | None = FORM_CONTENT_TYPE, sdk: bool = True,
               method: str = "POST") -> Case:
    """A POST of ``pairs`` (a list of (key, value), or raw bytes) to ``/``, signed for the service."""
    body = pairs if isinstance(pairs, bytes) else urlencode(pairs, quote_via=quote).encode()
    headers = {"Content-Type": content_type} if content_type is not None else {}
    if method == "GET":
        return Case(label, "GET", "/?" + body.decode("latin-1"), b"", headers, sdk, svc.name)
    return Case(label, method, "/", body, headers, sdk, svc.name)


def _value_cases(svc, op, form: dict, shapes: dict) -> list[Case]:
    cases = []
    for key, value in form.items():
        shape = shapes.get(key)
        if shape is None:  # Action, Version
            continue
        bad = list(BAD_TEXTS[shape.type_name])
        bad += ["NOT_AN_ENUM_VALUE"] if "enum" in shape.metadata else []
        bad += [HUGE] if shape.type_name == "string" else []
        for text in bad:
            cases.append(_form_case(svc, f"{op.name} {key}={text!r:.30}", list({**form, key: text}.items())))
        # Not UTF-8 once percent-decoded: parsers must refuse it or carry it, never crash.
        raw = urlencode({k: v for k, v in form.items() if k != key}, quote_via=quote) + f"&{quote(key)}=%FF%FE%C3%28"
        cases.append(_form_case(svc, f"{op.name} {key}=<not utf-8>", raw.encode()))
    return cases


def _missing_cases(svc, op, form: dict) -> list[Case]:
    """Each required member left out, at the top level and inside structures; and each member of a
    list item left out (``Filter.1.Value.1`` without ``Filter.1.Name``), required or not: the model
    requires little in EC2, providers must not assume what it does not require."""
    cases = [_form_case(svc, f"{op.name} without {key}", [(k, v) for k, v in form.items() if k != key])
             for key in form if INDEX.search(key)]
    for prefix in _required_prefixes(svc, op.input_shape):
        kept = [(k, v) for k, v in form.items() if k != prefix and not k.startswith(prefix + ".")]
        if len(kept) < len(form):
            cases.append(_form_case(svc, f"{op.name} without {prefix}", kept))
    return cases


def _required_prefixes(svc, shape, prefix: str = ""):
    """Form-key prefixes of required members (first list item for lists of structures)."""
    if shape is None or shape.type_name != "structure":
        return
    ec2 = svc.model.metadata["protocol"] == "ec2"
    for name, member in shape.members.items():
        key = f"{prefix}.{_wire_name(member, name, ec2)}" if prefix else _wire_name(member, name, ec2)
        if name in shape.required_members:
            yield key
        if member.type_name == "structure":
            yield from _required_prefixes(svc, member, key)
        elif member.type_name == "list" and member.member.type_name == "structure":
            item = f"{key}.1" if ec2 else f"{key}.{member.member.serialization.get('name', 'member')}.1"
            yield from _required_prefixes(svc, member.member, item)


def _wire_name(member, name: str, ec2: bool) -> str:
    if not ec2:
        return member.serialization.get("name", name)
    if "queryName" in member.serialization:
        return member.serialization["queryName"]
    location = member.serialization.get("name")
    return location[0].upper() + location[1:] if location else name


INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)")
ABSURD_INDEXES = ["99999", "0", "-1", "x", "", "01", "1e3", "4294967297", "\u0661"]


def _index_cases(svc, op, form: dict) -> list[Case]:
    """The first list index of a key replaced by one no client sends (Filter.99999.Name...)."""
    cases = []
    for key in [k for k in form if INDEX.search(k)]:
        for index in ABSURD_INDEXES:
            broken = INDEX.sub(index, key, count=1)
            pairs = [(broken if k == key else k, v) for k, v in form.items()]
            cases.append(_form_case(svc, f"{op.name} {broken}", pairs))
    return cases


def _shape_cases(svc, op, form: dict) -> list[Case]:
    """Duplicated keys, a scalar where a structure or list belongs and the reverse, a huge list,
    absurdly deep keys."""
    keys = [k for k in form if k not in ("Action", "Version")]
    cases = [_form_case(svc, f"{op.name} duplicated {k}", list(form.items()) + [(k, "other")]) for k in keys]
    cases.append(_form_case(svc, f"{op.name} second Action", list(form.items()) + [("Action", "DescribeTags")]))
    for key in keys:
        parent = key.rsplit(".", 1)[0]
        if parent != key:
            cases.append(_form_case(svc, f"{op.name} scalar {parent}", list(form.items()) + [(parent, "scalar")]))
        cases.append(_form_case(svc, f"{op.name} {key}.1 under a scalar", list(form.items()) + [(f"{key}.1", "x"),
                                                                                              (f"{key}.1.Name", "y")]))
    listed = [k for k in keys if INDEX.search(k)]
    if listed:
        stem, rest = INDEX.split(listed[0], maxsplit=1)
        many = [(f"{stem}{n}{rest}", "x") for n in range(1, LONG_LIST + 1)]
        cases.append(_form_case(svc, f"{op.name} {stem}N{rest} x{LONG_LIST}", list(form.items()) + many))
    deep = ".".join(["Filter"] + ["1"] * 2000)
    cases.append(_form_case(svc, f"{op.name} deep key", list(form.items()) + [(deep, "x")]))
    return cases


def form_cases_for(svc_name: str, name: str) -> list[Case]:
    svc = SERVICES[svc_name]
    op = svc.model.operation_model(name)
    recorder = _Recorder(svc.model.metadata["protocol"])
    form = recorder.form(op, _form_input(op))
    cases = (_value_cases(svc, op, form, recorder.shapes) + _missing_cases(svc, op, form)
             + _index_cases(svc, op, form) + _shape_cases(svc, op, form))
    sample = random.Random(f"{svc_name} {name}").sample(cases, min(len(cases), FORM_CASES_PER_OPERATION))
    everything_missing = _form_case(svc, f"{op.name} nothing but the action", [("Action", name),
                                                                                ("Version", form["Version"])])
    as_query_string = _form_case(svc, f"{op.name} in the query string", list(form.items()), method="GET")
    return [everything_missing, as_query_string] + sample


def assert_xml_error(case: Case, answer: Answer) -> None:
    """Below 500; a 4xx is an XML error document with a ``Code``; any other body is XML too
    (a client parses every answer: one that is not XML breaks the SDK, whatever the status)."""
    assert answer.status < 500, f"{case.label}: {answer.status} {answer.body[:300]!r}"
    try:
        document = ET.fromstring(answer.body)
    except ET.ParseError as exc:
        raise AssertionError(f"{case.label}: {answer.status} not XML ({exc}): {answer.body[:200]!r}") from None
    if answer.status >= 400:
        code = document.find(".//{*}Code")
        assert code is not None and code.text, f"{case.label}: no error Code in {answer.body[:200]!r}"


def _error_code(answer: Answer) -> str | None:
    found = re.search(rb"<Code>([^<]*)</Code>", answer.body)
    return found.group(1).decode() if found else None


# Codes that would mean the case never got past the signature check.
SIGNATURE_CODES = ("AuthFailure", "SignatureDoesNotMatch", "IncompleteSignature", "InvalidClientTokenId")


@pytest.mark.parametrize("svc_name, name", FORM_OPS)
def test_form_invalid_input_never_fails_the_server(wire, svc_name, name):
    statuses, problems = [], []
    for case in form_cases_for(svc_name, name):
        answer = wire.send(case)
        statuses.append(answer.status)
        try:
            assert_xml_error(case, answer)
            assert _error_code(answer) not in SIGNATURE_CODES, f"{case.label}: signature not verified"
        except AssertionError as exc:  # every broken case of the operation, not just the first
            problems.append(str(exc).splitlines()[0])
    assert not problems, f"{len(problems)} of {len(statuses)} cases:\n" + "\n".join(problems[:15])
    assert statuses.count(400) >= 1, "broken inputs should be rejected as invalid"
    assert wire.send(Case("health", "GET", "/_latticework/health"), sign=False).status == 200


def test_form_recorder_sees_every_key():
    """Every key botocore writes for an every-member input is traced to its shape (so each gets broken)."""
    svc = SERVICES["ec2"]
    op = svc.model.operation_model("DescribeVpcEndpoints")
    recorder = _Recorder("ec2")
    form = recorder.form(op, _form_input(op))
    assert set(form) - set(recorder.shapes) == {"Action", "Version"}
    assert any(k.startswith("Filter.1.Value.") for k in recorder.shapes)


def _api_garbage(svc) -> list[Case]:
    version = svc.model.metadata["apiVersion"]
    action = "DescribeVpcs" if svc.name == "ec2" else "DescribeLoadBalancers"
    cases = [_form_case(svc, f"body {body[:20]!r}", body) for body in (
        b"", b"\xff\xfe\xfd", b"Action=" + action.encode() + b"&Version=" + version.encode() + b"&\xff=\xfe",
        b"{\"Action\": \"" + action.encode() + b"\"}", b"<Action>" + action.encode() + b"</Action>",
        b"&&&===&&&", b"=", b"%", b"Action=%ZZ", b"Action", b"\x00" * 64, b"Action=" + b"A" * 100_000,
        f"Action={action}&Version={version}&MaxResults=5&MaxResults=x".encode())]
    for content_type in ("application/json", "text/xml", "multipart/form-data; boundary=x", "text/plain",
                         "\u00e9", None):
        cases.append(_form_case(svc, f"content-type {content_type!r}", [("Action", action), ("Version", version)],
                                content_type=content_type, sdk=content_type is not None))
    for unknown in ("NoSuchAction", "", action.lower(), " " + action, action + "\x00", "Describe*",
                    "CreateNatGateway" if svc.name == "ec2" else "CreateTrustStore",
                    "DescribeLoadBalancers" if svc.name == "ec2" else "DescribeVpcs", "A" * 10_000):
        cases.append(_form_case(svc, f"action {unknown!r:.30}", [("Action", unknown), ("Version", version)]))
    cases.append(_form_case(svc, "no Action", [("Version", version)]))
    cases.append(_form_case(svc, "wrong Version", [("Action", action), ("Version", "1999-01-01")]))
    cases.append(_form_case(svc, "no Version", [("Action", action)]))
    cases.append(_form_case(svc, "GET garbage query", [("Action", action), ("%ZZ", "%")], method="GET"))
    cases.append(_form_case(svc, "4 MB value", [("Action", action), ("Version", version), ("Marker", "m" * 4_000_000)]))
    return cases


@pytest.mark.parametrize("svc_name", [svc.name for svc in FORM_SERVICES])
def test_form_garbage_gets_xml_errors(wire, svc_name):
    problems = []
    for case in _api_garbage(SERVICES[svc_name]):
        try:
            assert_xml_error(case, wire.send(case))
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
    assert not problems, "\n".join(problems)
    assert wire.send(Case("health", "GET", "/_latticework/health"), sign=False).status == 200


def test_form_long_list_is_parsed_quickly(wire):
    """A 2,000-item list of structures (about 70 KB of form) is answered within a second: parsing
    must not rescan the whole form for every item and every nested member (calls run one at a
    time, so a slow parse stalls every client of the server)."""
    import time

    svc = SERVICES["ec2"]
    pairs = [("Action", "RevokeSecurityGroupIngress"), ("Version", svc.model.metadata["apiVersion"]),
             ("GroupId", "sg-00000000000000000")]
    pairs += [(f"IpPermissions.{n}.IpProtocol", "tcp") for n in range(1, 2001)]
    case = _form_case(svc, "2000 IpPermissions", pairs)
    started = time.monotonic()
    answer = wire.send(case)
    elapsed = time.monotonic() - started
    assert_xml_error(case, answer)
    assert elapsed < 1.0, f"{case.label}: answered in {elapsed:.1f} s"
