"""Latticework's own HTTP paths, beside the AWS APIs on the same endpoint.

``/_latticework/health``
    the server answers and the store's revision;
``/_latticework/dataplane``
    the revision the data plane serves, its compile times and the loopback
    fabric range its VPC addresses come from (``fabric``);
``/_latticework/ca.pem``
    the local certificate authority HTTPS listeners' certificates chain to;
``/_latticework/vpcs/<vpc-id>``
    what the data plane serves for one VPC (its resolver and Lattice
    addresses, the names it reaches, the ports bound, its load balancer and
    endpoint interfaces with their fabric addresses, its private endpoint names);
``POST /_latticework/explain``
    the auth decision the data plane would take on a request described in
    the JSON body, with the statements that made it
    (``dataplane.explain``; ``latticework explain`` prints it).

Only GET and HEAD, but for ``explain``. The data plane's paths ask it through
``seams.Introspection``; without a data plane they are 404.
"""

from __future__ import annotations

import json

from latticework.api.wire import Response
from latticework.seams import Introspection
from latticework.store import Store

PREFIX = "/_latticework/"


def json_response(status: int, payload: dict) -> Response:
    headers = [("Content-Type", "application/json")]
    if "__type" in payload:
        headers.append(("x-amzn-ErrorType", payload["__type"]))
    return Response(status, headers, json.dumps(payload).encode())


class OwnPaths:
    def __init__(self, store: Store, dataplane: Introspection | None = None):
        self.store = store
        self.dataplane = dataplane

    def answer(self, method: str, path: str, body: bytes = b"") -> Response:
        if path == PREFIX + "explain" and method == "POST" and self.dataplane is not None:
            return self._explain(self.dataplane, body)
        if method not in ("GET", "HEAD"):
            return json_response(405, {"message": f"{method} is not allowed on {path}"})
        if path == PREFIX + "health":
            return json_response(200, {"status": "ok", "revision": self.store.revision()})
        found = self._dataplane_path(self.dataplane, path) if self.dataplane is not None else None
        return found or json_response(404, {"message": f"No such Latticework path: {path}"})

    def _explain(self, plane: Introspection, body: bytes) -> Response:
        try:
            description = json.loads(body or b"{}")
            if not isinstance(description, dict):
                raise ValueError("the body must be a JSON object describing the request")
            return json_response(200, plane.explain(description))
        except (ValueError, KeyError, TypeError) as bad:  # JSONDecodeError is a ValueError
            return json_response(400, {"message": str(bad)})

    def _dataplane_path(self, plane: Introspection, path: str) -> Response | None:
        if path == PREFIX + "dataplane":
            return json_response(200, {"revision": self.store.revision(), **plane.status()})
        if path == PREFIX + "ca.pem":
            return Response(200, [("Content-Type", "application/x-pem-file")], plane.ca_pem().encode())
        if path.startswith(PREFIX + "vpcs/"):
            vpc_id = path.rsplit("/", 1)[1]
            info = plane.vpc_info(vpc_id)
            if info is None:
                return json_response(404, {"message": f"VPC {vpc_id} does not exist or has no fabric addresses."})
            return json_response(200, info)
        return None
