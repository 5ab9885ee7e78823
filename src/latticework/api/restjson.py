"""The ``rest-json`` protocol (VPC Lattice), entirely from the botocore model.

* ``Router`` turns each operation's ``requestUri`` template into a regex and
  picks the operation by method and path; literal segments outrank labels
  (``/services/{id}/listeners`` beats ``/services/{id}``).
* ``parse_request`` gathers input members from their model locations (uri,
  querystring, header, JSON body), converting strings to the member's type.
* ``serialize_response``/``serialize_error`` write output members back to
  headers, status code and JSON body, with the model's timestamp formats and
  the status codes the model declares.

Scalar conversion, timestamp formats and ``Response`` are shared with the
query protocols (``api.wire``).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from latticework.api.errors import ServiceError
from latticework.api.wire import NO_BODY_STATUSES, ParseError, Response, convert_text, timestamp

_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")


@dataclass(frozen=True)
class OperationRoute:
    """The operation an HTTP method and path template (``requestUri``) lead to."""

    operation: OperationModel
    pattern: re.Pattern[str]
    literal_weight: int
    fixed_query: tuple[tuple[str, str], ...]


def _compile(uri: str) -> tuple[re.Pattern[str], int, tuple]:
    path, _, query = uri.partition("?")
    regex = ""
    position = 0
    for match in _LABEL.finditer(path):
        regex += re.escape(path[position:match.start()])
        regex += f"(?P<{match.group(1)}>.+)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)"
        position = match.end()
    regex += re.escape(path[position:])
    literals = len(_LABEL.sub("", path))
    fixed = tuple(parse_qsl(query, keep_blank_values=True))
    return re.compile(f"^{regex}/?$"), literals, fixed


class Router:
    """Operation lookup by HTTP method and raw path."""

    def __init__(self, model: ServiceModel):
        self.model = model
        self._routes: dict[str, list[OperationRoute]] = {}
        for name in model.operation_names:
            op = model.operation_model(name)
            pattern, weight, fixed = _compile(op.http["requestUri"])
            self._routes.setdefault(op.http["method"], []).append(OperationRoute(op, pattern, weight, fixed))
        for routes in self._routes.values():
            routes.sort(key=lambda r: -r.literal_weight)

    def match(self, method: str, raw_path: str, query: dict[str, list[str]]) -> tuple[OperationModel, dict] | None:
        for route in self._routes.get(method, []):
            found = route.pattern.match(raw_path)
            if found and all(v in query.get(k, []) or (not v and k in query) for k, v in route.fixed_query):
                return route.operation, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def path_exists(self, raw_path: str) -> bool:
        return any(r.pattern.match(raw_path) for routes in self._routes.values() for r in routes)


# -- input -------------------------------------------------------------------

def _from_query(shape: Shape, name: str, query: dict[str, list[str]]) -> Any:
    values = query.get(name)
    if values is None:
        return None
    if isinstance(shape, ListShape):
        return [convert_text(shape.member, v, name) for v in values]
    return convert_text(shape, values[-1], name)


def _body(raw: bytes) -> dict:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly nested input
        raise ParseError("Unable to parse request body as JSON") from None
    if not isinstance(data, dict):
        raise ParseError("Request body must be a JSON object")
    return data


def parse_request(op: OperationModel, labels: dict[str, str], query: dict[str, list[str]],
                  headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The operation's input as a dict keyed by member name (unknown body members are ignored)."""
    shape = op.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    json_body = _body(body) if payload is None and any(
        "location" not in m.serialization for m in shape.members.values()) else {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            value = convert_text(member, labels[wire], name) if wire in labels else None
        elif location == "querystring":
            value = _from_query(member, wire, query)
        elif location == "header":
            value = convert_text(member, headers[wire.lower()], name) if wire.lower() in headers else None
        elif name == payload:
            value = _body(body) if member.type_name == "structure" else body
        else:
            value = json_body.get(wire)
        if value is not None:
            params[name] = value
    return params


# -- output ------------------------------------------------------------------

def to_wire(shape: Shape, value: Any) -> Any:
    """A Python value as JSON for ``shape`` (camelCase names, typed timestamps/blobs)."""
    kind = shape.type_name
    if value is None:
        return None
    if isinstance(shape, StructureShape):
        return {m.serialization.get("name", n): to_wire(m, value[n])
                for n, m in shape.members.items() if value.get(n) is not None}
    if isinstance(shape, ListShape):
        return [to_wire(shape.member, v) for v in value]
    if isinstance(shape, MapShape):
        return {k: to_wire(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return timestamp(shape, value, "unixTimestamp")
    if kind == "blob":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else value
    return value


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return str(timestamp(shape, value, "rfc822"))
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return str(value)


def _split_output(shape: StructureShape | None, result: dict) -> tuple[int | None, list[tuple[str, str]], Any]:
    status = None
    headers: list[tuple[str, str]] = []
    if shape is None:
        return status, headers, None
    payload = shape.serialization.get("payload")
    body: dict[str, Any] = {}
    for name, member in shape.members.items():
        value = result.get(name)
        if value is None:
            continue
        location = member.serialization.get("location")
        if location == "statusCode":
            status = int(value)
        elif location == "header":
            headers.append((member.serialization.get("name", name), _header_text(member, value)))
        elif location == "headers":
            prefix = member.serialization.get("name", "")
            headers.extend((prefix + k, str(v)) for k, v in value.items())
        elif name == payload:
            return status, headers, to_wire(member, value)
        else:
            body[member.serialization.get("name", name)] = to_wire(member, value)
    return status, headers, body


def serialize_response(op: OperationModel, result: dict, request_id: str) -> Response:
    status, headers, body = _split_output(op.output_shape, result or {})
    status = status or op.http.get("responseCode", 200)
    headers.append(("x-amzn-RequestId", request_id))
    if status in NO_BODY_STATUSES:
        return Response(status, headers, b"")
    headers.append(("Content-Type", "application/json"))
    if body is None:
        return Response(status, headers, b"{}")
    raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    return Response(status, headers, raw)


def serialize_error(model: ServiceModel, error: ServiceError, request_id: str) -> Response:
    """An error as AWS's rest-json front ends send it: type header + JSON body."""
    shape = next((s for s in model.error_shapes if isinstance(s, StructureShape) and s.name == error.code), None)
    fields = {"message": error.message, **error.fields}
    status = error.status
    headers: list[tuple[str, str]] = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code)]
    if shape is not None:
        status = shape.metadata.get("error", {}).get("httpStatusCode", status)
        _, extra_headers, body = _split_output(shape, fields)
        headers.extend(extra_headers)
    else:
        body = {"message": error.message, **error.fields}
    body = {"__type": error.code, **(body or {})}
    headers.append(("Content-Type", "application/json"))
    return Response(status, headers, json.dumps(body, separators=(",", ":"), default=str).encode())
