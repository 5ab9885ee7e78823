"""What the wire protocols share: the parse error, the HTTP response, scalar text and timestamps.

``restjson`` (VPC Lattice) and ``query`` (STS, ELBv2, EC2) both read scalars
from text (path labels, query strings, headers, form fields) with
``convert_text`` and write timestamps in the model's ``timestampFormat`` with
``timestamp``; both answer a ``Response``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from botocore.model import ListShape, Shape

from latticework import formats

# A 204 or 304 ends at its headers (RFC 9110 §15.3.5): a body would be read as
# the start of the next response on a kept-alive connection.
NO_BODY_STATUSES = (204, 304)


class ParseError(Exception):
    """The request could not be read as this operation's input (bad JSON, bad type)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass
class Response:
    """An HTTP answer as the gateway sends it: status, headers in order, body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def convert_text(shape: Shape, text: str, field: str) -> Any:
    """``text`` (a label, query value, header or form field) as a value of ``shape``'s scalar type."""
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
        return [convert_text(shape.member, part.strip(), field) for part in text.split(",")]
    return text


def timestamp(shape: Shape, value: Any, default: str) -> Any:
    """A timestamp in the member's ``timestampFormat``, else the protocol's ``default`` format."""
    fmt = shape.serialization.get("timestampFormat") or default
    if isinstance(value, str) and fmt == "iso8601" and value.endswith("Z"):
        return value  # stored bodies already hold the wire form (``formats.iso8601``)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if fmt == "iso8601":
        return formats.iso8601(value)
    if fmt == "rfc822":
        return value.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return value.timestamp()
