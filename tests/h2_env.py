"""A small HTTP/2 client over asyncio streams, for tests that drive an HTTP/2 front end.

``Client`` speaks h2 (by ``h2``'s state machine) to a server on 127.0.0.1,
plain or over TLS, and collects each stream's answer in a ``Reply``:
status, headers, body, trailers, or the reset code. It acknowledges received
data by itself unless told not to (for flow-control tests).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from h2.config import H2Configuration
from h2.events import (
    ConnectionTerminated, DataReceived, PingAckReceived, ResponseReceived, StreamEnded, StreamReset,
    TrailersReceived, WindowUpdated,
)

from latticework.dataplane.http2common import GracefulConnection

LATTICE = "127.0.0.1"
NAME = "echo-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-east-1.on.aws"


@dataclass
class Reply:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    trailers: dict[str, str] = field(default_factory=dict)
    reset: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    data_seen: asyncio.Event = field(default_factory=asyncio.Event)


class Client:
    def __init__(self, auto_ack: bool = True):
        self.h2 = GracefulConnection(H2Configuration(client_side=True, header_encoding="latin-1"))
        self.auto_ack = auto_ack
        self.replies: dict[int, Reply] = {}
        self.goaway: ConnectionTerminated | None = None
        self.closed = asyncio.Event()
        self.window = asyncio.Event()
        self.pinged = asyncio.Event()

    async def connect(self, port: int, tls: ssl.SSLContext | None = None, server_hostname: str | None = None,
                      preface: bool = True) -> Client:
        self.reader, self.writer = await asyncio.open_connection(LATTICE, port, ssl=tls,
                                                                 server_hostname=server_hostname)
        if preface:
            self.h2.initiate_connection()
            self.flush()
        self.task = asyncio.get_running_loop().create_task(self._read())
        return self

    def flush(self) -> None:
        self.writer.write(self.h2.data_to_send())

    async def _read(self) -> None:
        while data := await self.reader.read(65536):
            for event in self.h2.receive_data(data):
                self._on(event)
            self.flush()
        self.closed.set()
        for reply in self.replies.values():
            reply.done.set()

    def _on(self, event) -> None:
        reply = self.replies.get(getattr(event, "stream_id", 0))
        if isinstance(event, ResponseReceived):
            reply.headers = dict(event.headers)
            reply.status = int(reply.headers.pop(":status"))
        elif isinstance(event, DataReceived):
            reply.body += event.data
            reply.data_seen.set()
            if self.auto_ack:
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, TrailersReceived):
            reply.trailers = dict(event.headers)
        elif isinstance(event, StreamEnded):
            reply.done.set()
        elif isinstance(event, StreamReset):
            reply.reset = event.error_code
            reply.done.set()
        elif isinstance(event, ConnectionTerminated):
            self.goaway = event
        elif isinstance(event, WindowUpdated):
            self.window.set()
        elif isinstance(event, PingAckReceived):
            self.pinged.set()

    def open(self, method: str, path: str, headers: list[tuple[str, str]] = (), end: bool = False,
             authority: str = NAME) -> int:
        sid = self.h2.get_next_available_stream_id()
        self.replies[sid] = Reply()
        self.h2.send_headers(sid, [(":method", method), (":scheme", "https"), (":authority", authority),
                                   (":path", path), *headers], end_stream=end)
        self.flush()
        return sid

    async def send(self, sid: int, body: bytes, trailers: list[tuple[str, str]] | None = None,
                   end: bool = True) -> None:
        view = memoryview(body)
        while view:
            window = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
            if window <= 0:
                self.window.clear()
                await self.window.wait()
                continue
            self.h2.send_data(sid, view[:window].tobytes())
            self.flush()
            view = view[window:]
        if trailers:
            self.h2.send_headers(sid, trailers, end_stream=True)
        elif end:
            self.h2.end_stream(sid)
        self.flush()

    async def request(self, method: str, path: str, body: bytes = b"", headers=(), trailers=None,
                      authority: str = NAME) -> Reply:
        sid = self.open(method, path, list(headers), end=not body and not trailers, authority=authority)
        if body or trailers:
            await self.send(sid, body, trailers)
        await self.replies[sid].done.wait()
        return self.replies[sid]

    async def ping(self) -> None:
        """A round trip: every frame sent before has been processed by the server."""
        self.pinged.clear()
        self.h2.ping(b"12345678")
        self.flush()
        await self.pinged.wait()

    async def close(self) -> None:
        self.writer.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
