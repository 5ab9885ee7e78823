"""The ``query`` protocol (form-encoded input, XML output), from the botocore model.

Used by STS now and by ELBv2 and EC2 (its ``ec2`` flavour: flattened lists,
different error envelope) as they arrive. Lists are ``Name.member.N`` unless
flattened, maps ``Name.entry.N.key``/``.value``; output is wrapped in
``<OperationResponse><OperationResult>`` with ``ResponseMetadata``.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel, Shape

from latticework.api.errors import ServiceError
from latticework.api.restjson import ParseError, Response, _convert_text, _timestamp

# The same front-door failures carry different codes in query services.
COMMON_CODES = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
}


def _member_prefix(shape: Shape, name: str) -> str:
    return shape.serialization.get("name", name)


def _parse_value(shape: Shape, prefix: str, form: dict[str, str]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            value = _parse_value(member, f"{prefix}.{_member_prefix(member, name)}" if prefix else
                                 _member_prefix(member, name), form)
            if value is not None:
                out[name] = value
        return out or None
    if kind == "list":
        item = prefix if shape.serialization.get("flattened") else f"{prefix}.member"
        values, index = [], 1
        while any(k == f"{item}.{index}" or k.startswith(f"{item}.{index}.") for k in form):
            values.append(_parse_value(shape.member, f"{item}.{index}", form))
            index += 1
        if not values and prefix in form and form[prefix] == "":
            return []
        return values or None
    if kind == "map":
        out, index = {}, 1
        while f"{prefix}.entry.{index}.key" in form:
            key = form[f"{prefix}.entry.{index}.key"]
            out[key] = _parse_value(shape.value, f"{prefix}.entry.{index}.value", form)
            index += 1
        return out or None
    if prefix not in form:
        return None
    return _convert_text(shape, form[prefix], prefix)


def parse_request(op: OperationModel, form: dict[str, str]) -> dict[str, Any]:
    if op.input_shape is None:
        return {}
    return _parse_value(op.input_shape, "", form) or {}


def _xml(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "structure":
        parts = []
        for name, member in shape.members.items():
            if value.get(name) is None:
                continue
            tag = member.serialization.get("name", name)
            if member.type_name == "list" and member.serialization.get("flattened"):
                parts.extend(f"<{tag}>{_xml(member.member, v)}</{tag}>" for v in value[name])
            else:
                parts.append(f"<{tag}>{_xml(member, value[name])}</{tag}>")
        return "".join(parts)
    if kind == "list":
        tag = shape.member.serialization.get("name", "member")
        return "".join(f"<{tag}>{_xml(shape.member, v)}</{tag}>" for v in value)
    if kind == "map":
        return "".join(f"<entry><key>{escape(str(k))}</key><value>{_xml(shape.value, v)}</value></entry>"
                       for k, v in value.items())
    if kind == "timestamp":
        return escape(str(_timestamp(shape, value, "iso8601")))
    if kind == "boolean":
        return "true" if value else "false"
    return escape(str(value))


def _namespace(model: ServiceModel) -> str:
    return model.metadata.get("xmlNamespace", "")


def serialize_response(model: ServiceModel, op: OperationModel, result: dict, request_id: str) -> Response:
    inner = _xml(op.output_shape, result or {}) if op.output_shape is not None else ""
    wrapper = op.output_shape.serialization.get("resultWrapper") if op.output_shape is not None else None
    if wrapper:
        inner = f"<{wrapper}>{inner}</{wrapper}>"
    body = (f'<{op.name}Response xmlns="{_namespace(model)}">{inner}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{op.name}Response>")
    return Response(200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode())


def serialize_error(model: ServiceModel, error: ServiceError, request_id: str) -> Response:
    code = COMMON_CODES.get(error.code, error.code)
    shape = next((s for s in model.error_shapes if s.error_code == code or s.name == code), None)
    status = shape.metadata.get("error", {}).get("httpStatusCode", error.status) if shape else error.status
    kind = "Sender" if error.sender_fault else "Receiver"
    body = (f'<ErrorResponse xmlns="{_namespace(model)}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return Response(status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode())


__all__ = ["parse_request", "serialize_response", "serialize_error", "ParseError"]
