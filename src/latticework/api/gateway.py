"""The ASGI application: one endpoint for every AWS API Latticework serves.

It reads the request (bounded in size), answers Latticework's own paths
(``/_latticework/...``: health, the data plane's state, a VPC's fabric
addresses, the local CA), and hands everything else to the ``Dispatcher``.
The lifespan starts and stops the data plane (when the server runs one).
"""

from __future__ import annotations

import json

from latticework.api.dispatch import Dispatcher
from latticework.api.restjson import NO_BODY_STATUSES, Response
from latticework.api.service import HttpRequest

MAX_BODY = 8 * 1024 * 1024  # above any API's largest document (auth policies: 100 KB)


class BodyTooLarge(Exception):
    pass


async def _read_body(receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _headers(scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def _json(status: int, payload: dict) -> Response:
    headers = [("Content-Type", "application/json")]
    if "__type" in payload:
        headers.append(("x-amzn-ErrorType", payload["__type"]))
    return Response(status, headers, json.dumps(payload).encode())


def _text(status: int, text: str, content_type: str = "text/plain") -> Response:
    return Response(status, [("Content-Type", content_type)], text.encode())


class Gateway:
    def __init__(self, dispatcher: Dispatcher, dataplane=None):
        self.dispatcher = dispatcher
        self.dataplane = dataplane  # runtime.DataPlane, started with the server

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response = await self._respond(scope, receive)
        headers = [(k.encode(), v.encode()) for k, v in response.headers]
        if response.status not in NO_BODY_STATUSES:
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _respond(self, scope, receive) -> Response:
        try:
            body = await _read_body(receive)
        except BodyTooLarge:
            return _json(413, {"__type": "RequestEntityTooLargeException", "message": "Request body too large"})
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        if raw_path.startswith("/_latticework/"):
            return self._own(scope["method"], raw_path)
        request = HttpRequest(scope["method"], raw_path, scope.get("query_string", b"").decode("latin-1"),
                              _headers(scope), body)
        return await self.dispatcher.handle(request)

    def _own(self, method: str, path: str) -> Response:
        if method not in ("GET", "HEAD"):
            return _json(405, {"message": f"{method} is not allowed on {path}"})
        if path == "/_latticework/health":
            return _json(200, {"status": "ok", "revision": self.dispatcher.store.revision()})
        if self.dataplane is not None:
            found = self._dataplane_path(path)
            if found is not None:
                return found
        return _json(404, {"message": f"No such Latticework path: {path}"})

    def _dataplane_path(self, path: str) -> Response | None:
        plane = self.dataplane
        if path == "/_latticework/dataplane":
            times = sorted(plane.compile_seconds) or [0.0]
            return _json(200, {"revision": self.dispatcher.store.revision(), "appliedRevision": plane.applied_revision,
                               "compileMillisecondsMedian": round(times[len(times) // 2] * 1000, 3),
                               "compileMillisecondsMax": round(times[-1] * 1000, 3)})
        if path == "/_latticework/ca.pem":
            return _text(200, plane.ca.pem, "application/x-pem-file")
        if path.startswith("/_latticework/vpcs/"):
            vpc_id = path.rsplit("/", 1)[1]
            info = plane.vpc_info(vpc_id)
            if info is None:
                return _json(404, {"message": f"VPC {vpc_id} does not exist or has no fabric addresses."})
            return _json(200, info)
        return None

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.dataplane is not None:
                    await self.dataplane.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _startup(self) -> None:
        if self.dataplane is None:
            self.dispatcher.settle_all()
        else:
            await self.dataplane.start()
