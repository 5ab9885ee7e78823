"""The HTTP/2 front end: one client connection that negotiated ALPN ``h2``.

``h2`` is the sans-IO core (frames, HPACK, stream states, flow-control
windows); ``Http2Server`` is its asyncio driver. Each client stream becomes an
``exchange.Request`` handed to the proxy as a task of its own, so streams
proceed independently:

- the request body (``StreamBody``) hands DATA to the proxy as it reads it and
  only then returns the bytes to the client's flow-control window, so a target
  that reads slowly slows the client, not the proxy's memory. Each stream's
  window is ``http2common.STREAM_WINDOW``; the connection's is large enough for every
  stream's window at once, so one stalled stream never starves the others;
- the response (``StreamResponder``) is sent as the client's windows allow:
  ``data`` waits for WINDOW_UPDATE and for the socket to drain;
- a stream the client resets cancels its task (which resets the target's
  stream); a stream whose handler fails is reset (INTERNAL_ERROR) alone; a
  response sent in full before the request body ended is followed by
  RST_STREAM(NO_ERROR), as RFC 9113 §8.1 allows.

Connection errors (a bad preface, malformed frames, HPACK errors, malformed
header blocks, flow-control violations) answer GOAWAY with h2's error code and
close the connection. ``h2`` treats a malformed request header block as a
connection error, where RFC 9113 §8.1.1 asks for a stream error: the client
still learns what went wrong, from the GOAWAY's code.

Timeouts (https://docs.aws.amazon.com/vpc-lattice/latest/ug/services.html):
a connection without any open stream for the idle timeout of the service it
last used (60 s before any request) is closed with GOAWAY. A stream in
progress keeps the connection open, as in Envoy (the per-request timeout
toward the target is the proxy's); at the maximum connection duration (10
minutes from accept) the server sends GOAWAY, accepts no new streams, and
closes once the open ones finish. ``drain()`` does the same on demand (shutdown).

Frames for the client leave together: what every stream queued during one
loop iteration goes out in one write (one TLS record, one send) at its end,
or at once past ``WRITE_AT`` bytes so that a large body still meets the
transport's backpressure promptly.

The h2 connection itself (settings, windows, graceful GOAWAY, header
conversion) is the one the HTTP/2 upstream uses too: ``http2common``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Awaitable, Callable, Iterable, cast

from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated, DataReceived, RemoteSettingsChanged, RequestReceived, StreamEnded, StreamReset,
    TrailersReceived, WindowUpdated,
)
from h2.exceptions import ProtocolError

from latticework.dataplane import proxy
from latticework.dataplane.exchange import HOP_BY_HOP, Connection, EmptyBody, Headers, Request
from latticework.dataplane.http2common import (
    decode_headers, encode_headers, h2_connection, send_windowed, start_connection,
)
from latticework.dataplane.plane import Plane
from latticework.dataplane.router import route_for

log = logging.getLogger("latticework.dataplane.http2")

DEFAULT_IDLE_TIMEOUT = 60.0  # Lattice's default idleTimeoutSeconds
LINGER = 2.0  # seconds a closed connection still drops what the client sends (``_close``)
WRITE_AT = 64 * 1024  # queued bytes for the client are written at once from this size on

Handler = Callable[[Plane, Connection, Request, "StreamResponder"], Awaitable[None]]


class StreamClosed(ConnectionResetError):
    """The stream can no longer carry data: reset by either side, or the connection is gone."""


# -- header conversion ----------------------------------------------------------------------

def request_from_headers(fields: Iterable[tuple[bytes, bytes]], body) -> Request:
    """An ``exchange.Request`` from a request header block as h2 delivers it (bytes, pseudo-headers
    included), decoded (latin-1) and sorted in one pass."""
    pseudo: dict[str, str] = {}
    regular: Headers = []
    cookies: list[str] = []
    host = length = None
    for raw_name, raw_value in fields:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if name.startswith(":"):
            pseudo.setdefault(name, value)
        elif name == "host":
            host = value if host is None else host
        elif name == "cookie":
            cookies.append(value)
        elif name not in HOP_BY_HOP:
            regular.append((name, value))
            if name == "content-length" and length is None:
                length = int(value)  # h2 has already refused a non-numeric one
    if cookies:  # RFC 9113 §8.2.3: split cookie fields are joined with "; " for HTTP/1.1 and for matching
        regular.append(("cookie", "; ".join(cookies)))
    return Request(method=pseudo.get(":method", ""), target=pseudo.get(":path", ""),
                   authority=pseudo.get(":authority") or host, headers=regular, version="2", body=body,
                   content_length=length)


# -- one stream -----------------------------------------------------------------------------

class StreamBody:
    """A request body read by the proxy; bytes go back to the client's window only once read."""

    def __init__(self, acknowledge: Callable[[int], None]):
        self._acknowledge = acknowledge
        self._chunks: deque[tuple[bytes, int]] = deque()
        self._readable = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None
        self.trailers: Headers = []

    def feed(self, data: bytes, flow_length: int) -> None:
        if not data:  # padding only, or an empty DATA frame: nothing to wait for
            self._acknowledge(flow_length)
            return
        self._chunks.append((data, flow_length))
        self._readable.set()

    def finish(self) -> None:
        self._ended = True
        self._readable.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._readable.set()

    def release(self) -> None:
        """Give back the window of bytes never read (the stream is over)."""
        while self._chunks:
            self._acknowledge(self._chunks.popleft()[1])

    async def read(self) -> bytes:
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._ended:
                return b""
            self._readable.clear()
            await self._readable.wait()
        data, flow_length = self._chunks.popleft()
        self._acknowledge(flow_length)
        return data


class StreamResponder:
    """Writes one response on its stream (the ``exchange.Responder`` of HTTP/2 clients)."""

    def __init__(self, server: Http2Server, stream: _Stream):
        self._server = server
        self._stream = stream
        self.started = False
        self.ended = False

    async def start(self, status: int, headers: Headers) -> None:
        if self.started:
            raise RuntimeError("response already started")
        self._server.send_headers(self._stream, [(b":status", str(status).encode())] + encode_headers(headers))
        self.started = True

    async def data(self, chunk: bytes) -> None:
        if not self.started or self.ended:
            raise RuntimeError("data outside a started response")
        await self._server.send_data(self._stream, chunk)

    async def end(self, trailers: Headers | None = None) -> None:
        if not self.started or self.ended:
            raise RuntimeError("end outside a started response")
        self._server.end_stream(self._stream, encode_headers(trailers or []))
        self.ended = True

    def abort(self) -> None:
        self._server.reset(self._stream, ErrorCodes.INTERNAL_ERROR)


class _Stream:
    def __init__(self, server: Http2Server, stream_id: int):
        self.id = stream_id
        self.body = StreamBody(lambda size: server.acknowledge(stream_id, size))
        self.responder = StreamResponder(server, self)
        self.writable = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.reset = False  # by either side: nothing more may be sent
        self.remote_ended = False


# -- the connection ---------------------------------------------------------------------------

class Http2Server(asyncio.Protocol):
    """Serves one HTTP/2 client connection; ``handler`` defaults to ``proxy.handle``."""

    def __init__(self, plane: Plane, conn: Connection, handler: Handler | None = None):
        self.plane = plane
        self.conn = conn
        self.handler = handler or proxy.handle
        self.streams: dict[int, _Stream] = {}
        self.transport: asyncio.Transport | None = None
        self.h2 = h2_connection(client_side=False, max_header_list_size=plane.limits.max_headers)
        self._closed = False
        self._paused = False
        self._goaway_sent: int | None = None  # last stream id announced in our GOAWAY
        self._draining = False  # no new streams; close once the open ones finish
        self._idle_timeout = DEFAULT_IDLE_TIMEOUT
        self._noted: tuple[int, str | None] | None = None  # (snapshot revision, authority) of the last lookup
        self._last_activity = 0.0
        self._lifetime: asyncio.TimerHandle | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._out: list[bytes] = []  # frames for the client, written together (``_flush``)
        self._out_size = 0

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream connection's transport
        self.loop = asyncio.get_running_loop()
        self._last_activity = self.loop.time()
        start_connection(self.h2)
        self._flush()
        opened = self.conn.opened or self._last_activity
        self._lifetime = self.loop.call_at(opened + self.plane.limits.max_connection_duration, self._expire)
        self._idle = self.loop.call_later(self._idle_timeout, self._idle_check)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            events = self.h2.receive_data(data)
        except ProtocolError as exc:  # h2 has queued a GOAWAY with the right code
            log.debug("HTTP/2 connection error from %s: %s", self.conn.client, exc)
            self._flush()
            self._close()
            return
        for event in events:
            if self._closed:
                return
            self._dispatch(event)
        self._flush()

    def eof_received(self) -> bool:
        return False  # an HTTP/2 client never half-closes: end the connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        for timer in (self._lifetime, self._idle, self._linger):
            if timer is not None:
                timer.cancel()
        for stream in list(self.streams.values()):
            self._abandon(stream, StreamClosed("client connection closed"))

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake(0)

    # -- frames in --------------------------------------------------------------------------
    def _dispatch(self, event) -> None:
        if isinstance(event, RequestReceived):
            self._open_stream(event)
        elif isinstance(event, DataReceived):
            self._on_data(event)
        elif isinstance(event, TrailersReceived):
            self._on_trailers(event)
        elif isinstance(event, StreamEnded):
            self._on_end(event.stream_id)
        elif isinstance(event, StreamReset):
            self._on_reset(event.stream_id)
        elif isinstance(event, (WindowUpdated, RemoteSettingsChanged)):
            self._wake(getattr(event, "stream_id", 0))
        elif isinstance(event, ConnectionTerminated):
            self._on_goaway(event)

    def _open_stream(self, event: RequestReceived) -> None:
        sid = event.stream_id
        if self._goaway_sent is not None and sid > self._goaway_sent:
            self._reset_id(sid, ErrorCodes.REFUSED_STREAM)  # the client may retry it on a new connection
            return
        stream = self.streams[sid] = _Stream(self, sid)
        ended = event.stream_ended is not None
        request = request_from_headers(event.headers, EmptyBody() if ended else stream.body)
        self._note_service(request)
        work = self._refuse(stream, 431) if len(event.headers) > self.plane.limits.max_header_count else \
            self.handler(self.plane, self.conn, request, stream.responder)
        stream.task = self.loop.create_task(self._serve(stream, work))

    def _on_data(self, event: DataReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is None:  # a stream already finished here: only the connection window matters
            self.acknowledge(event.stream_id, event.flow_controlled_length)
            return
        stream.body.feed(event.data, event.flow_controlled_length)

    def _on_trailers(self, event: TrailersReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            stream.body.trailers = [(n, v) for n, v in decode_headers(event.headers) if n not in HOP_BY_HOP]

    def _on_end(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None:
            stream.remote_ended = True
            stream.body.finish()

    def _on_reset(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None:
            self._abandon(stream, StreamClosed(f"stream {stream_id} reset by the client"))

    def _on_goaway(self, event: ConnectionTerminated) -> None:
        if event.error_code != ErrorCodes.NO_ERROR:
            log.debug("client %s sent GOAWAY %s", self.conn.client, event.error_code)
            self._close()
            return
        self.drain()  # the client opens no new stream: finish the open ones

    # -- streams --------------------------------------------------------------------------------
    async def _serve(self, stream: _Stream, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            pass  # the client reset the stream or went away
        except StreamClosed:
            pass
        except Exception:
            log.exception("stream %s from %s failed", stream.id, self.conn.client)
        finally:
            self._finish(stream)

    async def _refuse(self, stream: _Stream, status: int) -> None:
        await stream.responder.start(status, [("content-length", "0")])
        await stream.responder.end()

    def _finish(self, stream: _Stream) -> None:
        if not self._closed and not stream.reset:
            if not stream.responder.ended:
                self.reset(stream, ErrorCodes.INTERNAL_ERROR)
            elif not stream.remote_ended:  # the response is complete; the rest of the request is not wanted
                self.reset(stream, ErrorCodes.NO_ERROR)
        stream.body.release()
        self.streams.pop(stream.id, None)
        self._flush()
        if not self.streams:
            self._last_activity = self.loop.time()  # idle from now
            if self._draining:
                self._close()

    def _abandon(self, stream: _Stream, error: StreamClosed) -> None:
        stream.reset = True
        stream.body.fail(error)
        stream.writable.set()
        if stream.task is not None:
            stream.task.cancel()

    def _note_service(self, request: Request) -> None:
        """The idle timeout becomes that of the service this request reaches (looked up again only when the
        authority or the snapshot changes: clients send the same one on every stream, as a rule)."""
        noted = (self.plane.snapshot.revision, request.authority)
        if noted == self._noted:
            return
        self._noted = noted
        vpc = self.plane.snapshot.view_for(self.conn.vpc.vpc_id, self.conn.local[0]) or self.conn.vpc
        route = route_for(vpc, request.authority or self.conn.sni)
        if route is not None and route.service.idle_timeout != self._idle_timeout:
            self._idle_timeout = route.service.idle_timeout
            if self._idle is not None:
                self._idle.cancel()
            self._idle = self.loop.call_at(self._last_activity + self._idle_timeout, self._idle_check)

    # -- frames out (called by StreamResponder and StreamBody) ----------------------------------
    def send_headers(self, stream: _Stream, headers: list[tuple[bytes, bytes]], end: bool = False) -> None:
        self._check(stream)
        self.h2.send_headers(stream.id, headers, end_stream=end)
        self._flush()

    async def send_data(self, stream: _Stream, chunk: bytes) -> None:
        def sendable() -> bool:  # raises once the stream or the connection is gone
            self._check(stream)
            return not self._paused

        await send_windowed(self.h2, stream.id, chunk, stream.writable, sendable, self._flush)

    def end_stream(self, stream: _Stream, trailers: list[tuple[bytes, bytes]]) -> None:
        if trailers:
            self.send_headers(stream, trailers, end=True)
            return
        self._check(stream)
        self.h2.end_stream(stream.id)
        self._flush()

    def reset(self, stream: _Stream, code: ErrorCodes) -> None:
        if not stream.reset and not self._closed:
            self._reset_id(stream.id, code)
            self._flush()
        stream.reset = True
        stream.writable.set()

    def acknowledge(self, stream_id: int, size: int) -> None:
        if size and not self._closed:
            self.h2.acknowledge_received_data(size, stream_id)
            self._flush()

    def _check(self, stream: _Stream) -> None:
        if self._closed or stream.reset:
            raise StreamClosed(f"stream {stream.id} is closed")

    def _reset_id(self, stream_id: int, code: ErrorCodes) -> None:
        try:
            self.h2.reset_stream(stream_id, code)
        except ProtocolError:  # already closed on both sides: nothing to reset
            pass

    def _wake(self, stream_id: int) -> None:
        targets = self.streams.values() if stream_id == 0 else filter(None, [self.streams.get(stream_id)])
        for stream in targets:
            stream.writable.set()

    def _flush(self) -> None:
        """Queue what h2 has for the client: it leaves at the end of this loop iteration, every stream's
        frames in one write (one TLS record, one send), or at once past ``WRITE_AT`` bytes, so the
        transport sees a large body soon enough to push back (``pause_writing``)."""
        data = self.h2.data_to_send()
        if not data or self._closed:
            return
        if not self._out:
            self.loop.call_soon(self._write_out)
        self._out.append(data)
        self._out_size += len(data)
        if self._out_size >= WRITE_AT:
            self._write_out()

    def _write_out(self) -> None:
        out, self._out, self._out_size = self._out, [], 0
        if out and self.transport is not None and not self._closed:
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    # -- connection lifetime ----------------------------------------------------------------
    def _expire(self) -> None:
        """The maximum connection duration is reached: no new streams, close when the open ones end."""
        log.debug("connection from %s reached its maximum duration", self.conn.client)
        self.drain()

    def drain(self) -> None:
        """GOAWAY(NO_ERROR): the client opens no new stream; close once the open ones finish."""
        if self._goaway_sent is None and not self._closed:
            self._goaway_sent = self.h2.highest_inbound_stream_id
            self.h2.announce_goaway(self._goaway_sent)
            self._flush()
        self._draining = True
        if not self.streams:
            self._close()

    def _idle_check(self) -> None:
        if self._closed:
            return
        deadline = self._last_activity + self._idle_timeout
        if self.streams:  # busy: look again later
            self._idle = self.loop.call_later(self._idle_timeout, self._idle_check)
            return
        if self.loop.time() < deadline:
            self._idle = self.loop.call_at(deadline, self._idle_check)
            return
        log.debug("connection from %s idle for %ss", self.conn.client, self._idle_timeout)
        self.drain()

    def _close(self) -> None:
        """Write what is queued (the GOAWAY last), then half-close and drop what still arrives until the
        client closes, for up to ``LINGER`` seconds: bytes left unread would make the kernel answer
        with a reset, which can destroy the GOAWAY in flight. A transport without half-close (TLS)
        closes at once, as the HTTP/1.1 front end does."""
        if self._closed:
            return
        self._flush()
        self._write_out()
        self._closed = True
        if self.transport is None:
            return
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER, self.transport.close)
