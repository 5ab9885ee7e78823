"""The ASGI application: one endpoint for every AWS API Latticework serves.

It reads the request (bounded in size), answers Latticework's own paths
(``/_latticework/health``), and hands everything else to the ``Dispatcher``.
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


class Gateway:
    def __init__(self, dispatcher: Dispatcher):
        self.dispatcher = dispatcher

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
        if path == "/_latticework/health" and method in ("GET", "HEAD"):
            return _json(200, {"status": "ok", "revision": self.dispatcher.store.revision()})
        return _json(404, {"message": f"No such Latticework path: {path}"})

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.dispatcher.settle_all()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
