"""The ASGI application: one endpoint for every AWS API Latticework serves.

It reads the request (bounded in size), hands Latticework's own paths
(``/_latticework/...``) to ``OwnPaths`` and everything else to the
``Dispatcher``. The lifespan starts and stops the server's parts.
"""

from __future__ import annotations

from latticework.api.dispatch import Dispatcher
from latticework.api.ownpaths import PREFIX, OwnPaths, json_response
from latticework.api.wire import NO_BODY_STATUSES, Response
from latticework.api.awsapi import HttpRequest
from latticework.seams import Lifecycle

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


class Gateway:
    """The ASGI application; ``parts`` start and stop with the server (the data plane, when there is one)."""

    def __init__(self, dispatcher: Dispatcher, own: OwnPaths, parts: Lifecycle):
        self.dispatcher = dispatcher
        self.own = own
        self.parts = parts

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
            return json_response(413, {"__type": "RequestEntityTooLargeException",
                                       "message": "Request body too large"})
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        if raw_path.startswith(PREFIX):
            return self.own.answer(scope["method"], raw_path, body)
        request = HttpRequest(scope["method"], raw_path, scope.get("query_string", b"").decode("latin-1"),
                              _headers(scope), body)
        return await self.dispatcher.handle(request)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.parts.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.parts.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
