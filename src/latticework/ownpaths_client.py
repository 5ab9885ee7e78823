"""A client of the server's own endpoints, ``/_latticework/...``, which need no AWS credentials.

- ``GET /_latticework/health``: whether a server answers at all (``fetch``);
- ``GET /_latticework/vpcs/<vpc-id>``: the VPC's resolver and Lattice
  addresses (``vpc_info``);
- ``GET /_latticework/ca.pem``: the local CA that signs the certificates of
  HTTPS listeners (``ca_pem``);
- ``POST /_latticework/explain``: an auth decision and its reasons (``explain``).

The ``latticework`` commands for clients of the data plane, ``latticework
demo``, tests and benchmarks ask the running server through it. A server
that cannot be reached, or answers an error, raises ``ServerError`` with a
message meant for the user.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from latticework import config
from latticework.fabric.exec import VpcInfo

ENDPOINT_VARIABLE = "LATTICEWORK_ENDPOINT"
DEFAULT_ENDPOINT = f"http://{config.DEFAULT_HOST}:{config.DEFAULT_PORT}"
TIMEOUT = 10.0


class ServerError(Exception):
    """The server could not be reached or refused the request."""


def fetch(endpoint: str, path: str, payload: dict | None = None) -> bytes:
    """GET ``path`` from the server's introspection endpoints (POST ``payload`` as JSON when given)."""
    url = endpoint.rstrip("/") + path
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise ServerError(_message(exc)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServerError(f"cannot reach the Latticework server at {endpoint} ({reason}); "
                          f"is `latticework up` running? (--endpoint or ${ENDPOINT_VARIABLE} names another)") from None


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        return json.loads(exc.read())["message"]
    except (ValueError, KeyError, TypeError, OSError):
        return f"the server answered {exc.code} {exc.reason}"


def vpc_info(endpoint: str, vpc_id: str) -> VpcInfo:
    """The fabric addresses of a VPC, from a running server."""
    body = json.loads(fetch(endpoint, "/_latticework/vpcs/" + urllib.parse.quote(vpc_id, safe="")))
    return VpcInfo.from_json(body)


def explain(endpoint: str, description: dict) -> dict:
    """The auth decision the data plane would take on a described request (``dataplane.explain``)."""
    return json.loads(fetch(endpoint, "/_latticework/explain", description))


def ca_pem(endpoint: str) -> str:
    """The local CA certificate, PEM-encoded."""
    return fetch(endpoint, "/_latticework/ca.pem").decode()
