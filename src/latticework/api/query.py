"""The ``query`` and ``ec2`` protocols (form-encoded input, XML output), from the botocore model.

Two dialects of one protocol family:

* ``query`` (STS, ELBv2): members by their ``locationName`` or name; lists
  ``Name.member.N`` (the member's own ``locationName`` replaces ``member``;
  flattened lists drop it), maps ``Name.entry.N.key``/``.value``; output is
  wrapped in ``<OpResponse><OpResult>`` plus ``ResponseMetadata``; errors in
  ``<ErrorResponse><Error>``.
* ``ec2``: members by ``queryName``, else the ``locationName`` with its first
  letter capitalised; every list is flat (``SubnetId.1``); output members sit
  directly under ``<OpResponse>`` with a ``requestId``; errors in
  ``<Response><Errors><Error>`` with ``RequestID``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
import re
from xml.sax.saxutils import escape as _escape

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from latticework.api.errors import ServiceError
from latticework.api.wire import ParseError, Response, convert_text, timestamp

# The same front-door failures carry different codes in query services.
COMMON_CODES = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
}
EC2_CODES = {**COMMON_CODES, "InvalidClientTokenId": "AuthFailure", "SignatureDoesNotMatch": "AuthFailure",
             "UnrecognizedClientException": "AuthFailure", "InvalidSignatureException": "AuthFailure"}


@dataclass(frozen=True)
class Dialect:
    ec2: bool

    def name(self, shape: Shape, default: str) -> str:
        if not self.ec2:
            return shape.serialization.get("name", default)
        if "queryName" in shape.serialization:
            return shape.serialization["queryName"]
        name = shape.serialization.get("name")
        return name[0].upper() + name[1:] if name else default

    def list_prefix(self, shape: ListShape, prefix: str) -> str:
        if self.ec2:
            return prefix
        if shape.serialization.get("flattened"):
            item = shape.member.serialization.get("name")
            return ".".join(prefix.split(".")[:-1] + [item]) if item else prefix
        return f"{prefix}.{shape.member.serialization.get('name', 'member')}"


# XML 1.0 cannot carry these at all, escaped or not; echoing client input that
# holds them would make the whole reply unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """Text as XML character data: markup escaped, characters XML cannot hold replaced by U+FFFD."""
    return _escape(_NOT_XML.sub("\ufffd", text))


class _Form(dict):
    """The form's values plus every dotted prefix of its keys, so list parsing asks a set, not every key."""

    def __init__(self, values: dict[str, str]):
        super().__init__(values)
        self.prefixes = {".".join(parts[:i]) for key in values for parts in [key.split(".")]
                         for i in range(1, len(parts) + 1)}


QUERY = Dialect(ec2=False)
EC2 = Dialect(ec2=True)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _has_prefix(form: _Form, key: str) -> bool:
    return key in form.prefixes


def _parse_structure(d: Dialect, shape: StructureShape, prefix: str, form: _Form) -> dict | None:
    out = {}
    for name, member in shape.members.items():
        value = _parse_value(d, member, _join(prefix, d.name(member, name)), form)
        if value is not None:
            out[name] = value
    return out or None


def _parse_list(d: Dialect, shape: ListShape, prefix: str, form: _Form) -> list | None:
    item = d.list_prefix(shape, prefix)
    values, index = [], 1
    while _has_prefix(form, f"{item}.{index}"):
        value = _parse_value(d, shape.member, f"{item}.{index}", form)
        if value is None:  # an item made only of members the model does not know ends the list
            break
        values.append(value)
        index += 1
    if not values and form.get(prefix) == "":
        return []
    return values or None


def _parse_map(d: Dialect, shape: MapShape, prefix: str, form: _Form) -> dict | None:
    entry = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    out, index = {}, 1
    while f"{entry}.{index}.{key_name}" in form:
        out[form[f"{entry}.{index}.{key_name}"]] = _parse_value(d, shape.value, f"{entry}.{index}.{value_name}", form)
        index += 1
    return out or None


def _parse_value(d: Dialect, shape: Shape, prefix: str, form: _Form) -> Any:
    if isinstance(shape, StructureShape):
        return _parse_structure(d, shape, prefix, form)
    if isinstance(shape, ListShape):
        return _parse_list(d, shape, prefix, form)
    if isinstance(shape, MapShape):
        return _parse_map(d, shape, prefix, form)
    if prefix not in form:
        return None
    return convert_text(shape, form[prefix], prefix)


def parse_request(op: OperationModel, form: dict[str, str], dialect: Dialect = QUERY) -> dict[str, Any]:
    if op.input_shape is None:
        return {}
    return _parse_structure(dialect, op.input_shape, "", _Form(form)) or {}


# -- output ------------------------------------------------------------------

def _xml(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        return "".join(_xml_member(member, name, value[name])
                       for name, member in shape.members.items() if value.get(name) is not None)
    if isinstance(shape, ListShape):
        tag = shape.member.serialization.get("name", "member")
        return "".join(f"<{tag}>{_xml(shape.member, v)}</{tag}>" for v in value)
    if isinstance(shape, MapShape):
        return "".join(f"<entry><key>{escape(str(k))}</key><value>{_xml(shape.value, v)}</value></entry>"
                       for k, v in value.items())
    if kind == "timestamp":
        return escape(str(timestamp(shape, value, "iso8601")))
    if kind == "boolean":
        return "true" if value else "false"
    return escape(str(value))


def _xml_member(member: Shape, name: str, value: Any) -> str:
    tag = member.serialization.get("name", name)
    if isinstance(member, ListShape) and member.serialization.get("flattened"):
        return "".join(f"<{tag}>{_xml(member.member, v)}</{tag}>" for v in value)
    return f"<{tag}>{_xml(member, value)}</{tag}>"


def _namespace(model: ServiceModel) -> str:
    return model.metadata.get("xmlNamespace", "")


def _xml_response(status: int, body: str, request_id: str) -> Response:
    return Response(status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)],
                    ('<?xml version="1.0" encoding="UTF-8"?>' + body).encode())


def serialize_response(model: ServiceModel, op: OperationModel, result: dict, request_id: str,
                       dialect: Dialect = QUERY) -> Response:
    shape = op.output_shape
    inner = _xml(shape, result or {}) if shape is not None else ""
    if dialect.ec2:
        body = f'<{op.name}Response xmlns="{_namespace(model)}"><requestId>{request_id}</requestId>{inner}</{op.name}Response>'
        return _xml_response(200, body, request_id)
    wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
    if wrapper:
        inner = f"<{wrapper}>{inner}</{wrapper}>"
    body = (f'<{op.name}Response xmlns="{_namespace(model)}">{inner}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op.name}Response>")
    return _xml_response(200, body, request_id)


def _error_status(model: ServiceModel, code: str, default: int) -> int:
    shape = next((s for s in model.error_shapes
                  if isinstance(s, StructureShape) and (s.error_code == code or s.name == code)), None)
    return shape.metadata.get("error", {}).get("httpStatusCode", default) if shape else default


def serialize_error(model: ServiceModel, error: ServiceError, request_id: str, dialect: Dialect = QUERY) -> Response:
    code = (EC2_CODES if dialect.ec2 else COMMON_CODES).get(error.code, error.code)
    status = _error_status(model, code, error.status)
    if code == "AuthFailure":  # EC2 answers credential failures with 401
        status = 401
    message = escape(error.message)
    if dialect.ec2:
        body = (f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>")
        return _xml_response(status, body, request_id)
    kind = "Sender" if error.sender_fault else "Receiver"
    body = (f'<ErrorResponse xmlns="{_namespace(model)}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return _xml_response(status, body, request_id)


__all__ = ["parse_request", "serialize_response", "serialize_error", "ParseError", "QUERY", "EC2", "Dialect"]
