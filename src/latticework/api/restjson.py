"""The ``rest-json`` protocol (VPC Lattice), entirely from the botocore model.

* ``Router`` turns each operation's ``requestUri`` template into a regex and
  picks the operation by method and path; literal segments outrank labels
  (``/services/{id}/listeners`` beats ``/services/{id}``).
* ``parse_request`` gathers input members from their model locations (uri,
  querystring, header, JSON body), converting strings to the member's type.
* ``serialize_response``/``serialize_error`` write output members back to
  headers, status code and JSON body, with the model's timestamp formats and
  the status codes the model declares.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from latticework.api.errors import ServiceError

_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")
# A 204 or 304 ends at its headers (RFC 9110 §15.3.5): a body would be read as
# the start of the next response on a kept-alive connection.
NO_BODY_STATUSES = (204, 304)


class ParseError(Exception):
    """The request could not be read as this operation's input (bad JSON, bad type)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Route:
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
        self._routes: dict[str, list[Route]] = {}
        for name in model.operation_names:
            op = model.operation_model(name)
            pattern, weight, fixed = _compile(op.http["requestUri"])
            self._routes.setdefault(op.http["method"], []).append(Route(op, pattern, weight, fixed))
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

def _convert_text(shape: Shape, text: str, field: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError:
        raise ParseError(f"Value '{text}' at '{field}' could not be parsed as {kind}", field) from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ParseError(f"Value '{text}' at '{field}' could not be parsed as boolean", field)
        return text.lower() == "true"
    if isinstance(shape, ListShape):
        return [_convert_text(shape.member, part.strip(), field) for part in text.split(",")]
    return text


def _from_query(shape: Shape, name: str, query: dict[str, list[str]]) -> Any:
    values = query.get(name)
    if values is None:
        return None
    if isinstance(shape, ListShape):
        return [_convert_text(shape.member, v, name) for v in values]
    return _convert_text(shape, values[-1], name)


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
            value = _convert_text(member, labels[wire], name) if wire in labels else None
        elif location == "querystring":
            value = _from_query(member, wire, query)
        elif location == "header":
            value = _convert_text(member, headers[wire.lower()], name) if wire.lower() in headers else None
        elif name == payload:
            value = _body(body) if member.type_name == "structure" else body
        else:
            value = json_body.get(wire)
        if value is not None:
            params[name] = value
    return params


# -- output ------------------------------------------------------------------

def _timestamp(shape: Shape, value: Any, default: str) -> Any:
    fmt = shape.serialization.get("timestampFormat") or default
    if isinstance(value, str) and fmt == "iso8601" and value.endswith("Z"):
        return value  # stored bodies already hold the wire form (UTC, milliseconds, Z)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if fmt == "iso8601":
        return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if fmt == "rfc822":
        return value.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return value.timestamp()


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
        return _timestamp(shape, value, "unixTimestamp")
    if kind == "blob":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else value
    return value


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return str(_timestamp(shape, value, "rfc822"))
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return str(value)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


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
