"""The HTTP/2 upstream: requests to targets of HTTP2 and GRPC target groups.

One multiplexed connection serves many requests to one target
(``TargetConnection``): opened on demand, given no new streams once the
target sends GOAWAY or the peer's ``SETTINGS_MAX_CONCURRENT_STREAMS`` is
reached (a further connection opens then), dropped when it fails or has been
unused for ``IDLE_SECONDS``.

- ``HTTP`` target groups speak cleartext HTTP/2 with prior knowledge (h2c);
  ``HTTPS`` ones TLS with ALPN ``h2`` and no certificate validation: Lattice
  does not validate target certificates
  (https://docs.aws.amazon.com/vpc-lattice/latest/ug/target-groups.html), and
  sends no SNI to targets addressed by IP.
- The request goes out with the headers the proxy rewrote: ``:authority`` is the
  request's authority, ``:scheme`` follows the target group's protocol, and gRPC
  requests carry ``te: trailers`` (gRPC servers require it).
- The request body streams as the target's windows allow while the response
  streams back; response DATA is acknowledged to the target only once the
  client side has taken it (``responder.data`` returned), so backpressure runs
  end to end. Trailers go to ``responder.end(trailers)``: gRPC's status lives there.
- A gRPC *trailers-only* response (one HEADERS frame with END_STREAM, the way
  servers answer errors) is relayed as headers plus trailers, because a client
  reads ``grpc-status`` from trailers unless it arrived in that single frame.

Errors before the response starts raise ``UpstreamError``: 502 when the target
cannot be reached, refuses or resets the stream, or is not speaking HTTP/2;
504 when connecting or waiting for the response head outlasts ``timeout``
(connecting alone is also bounded by ``limits.connect_timeout``), as Elastic
Load Balancing answers. A stream the target never processed (REFUSED_STREAM,
or above a GOAWAY's last stream id) is sent once more, on another connection
when the target is going away, provided none of the request body was consumed.
After the response has started, a failure aborts it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from typing import Callable, cast

from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated, DataReceived, RemoteSettingsChanged, ResponseReceived,
    StreamEnded, StreamReset, TrailersReceived, WindowUpdated,
)
from h2.exceptions import ProtocolError

from latticework.dataplane.exchange import HOP_BY_HOP, EmptyBody, Headers, Request, Responder, UpstreamError
from latticework.dataplane.http2common import (
    decode_headers, encode_headers, h2_connection, send_windowed, start_connection,
)
from latticework.dataplane.plane import Limits
from latticework.dataplane.tls import TLS12_CIPHERS
from latticework.snapshot.model import HTTPS, Target, TargetGroup

log = logging.getLogger("latticework.dataplane.upstream_http2")

IDLE_SECONDS = 60.0  # an unused connection to a target is closed after this long


class Retry(Exception):
    """The target never processed the stream: it may be sent again on another connection."""


def target_context() -> ssl.SSLContext:
    """TLS toward targets: the listener's protocols and suites, ALPN h2, no certificate validation."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(":".join(TLS12_CIPHERS))
    context.set_alpn_protocols(["h2"])
    return context


def request_headers(request: Request, target: Target, group: TargetGroup) -> list[tuple[bytes, bytes]]:
    scheme = "https" if group.protocol == HTTPS else "http"
    host, port = target.address or (target.id, target.port)
    pseudo = [(":method", request.method), (":scheme", scheme),
              (":authority", request.authority or f"{host}:{port}"), (":path", request.target or "/")]
    grpc = group.protocol_version == "GRPC" or request.is_grpc
    extra = [(b"te", b"trailers")] if grpc else []
    return [(n.encode(), v.encode("latin-1")) for n, v in pseudo] + encode_headers(request.headers) + extra


def split_trailers_only(headers: Headers) -> tuple[Headers, Headers]:
    """A gRPC trailers-only response's (headers, trailers): all but ``content-type`` is trailing metadata."""
    return ([(n, v) for n, v in headers if n == "content-type"],
            [(n, v) for n, v in headers if n != "content-type"])


# -- one stream on a target connection ------------------------------------------------------

class ClientBodyError(Exception):
    """Reading the client's request body failed (the client went away or sent a broken body)."""


class Exchange:
    """One request on a target connection: the target's response head, body chunks and trailers."""

    def __init__(self, stream_id: int, local_ended: bool):
        self.id = stream_id
        self.head: asyncio.Future[tuple[int, Headers, bool]] = asyncio.get_running_loop().create_future()
        self.chunks: deque[tuple[bytes, int]] = deque()
        self.readable = asyncio.Event()
        self.writable = asyncio.Event()
        self.trailers: Headers = []
        self.ended = False  # the target finished its response
        self.local_ended = local_ended  # the whole request went out
        self.body_read = False  # some of the client's body was consumed: the request cannot be replayed
        self.error: BaseException | None = None

    @property
    def over(self) -> bool:
        return self.error is not None or (self.ended and self.local_ended)

    def fail(self, error: BaseException) -> None:
        self.error = self.error or error
        if not self.head.done():
            self.head.set_exception(error)
            self.head.exception()  # marked retrieved: the waiter may be gone already
        self.readable.set()
        self.writable.set()

    async def next_chunk(self) -> tuple[bytes, int]:
        """The next (data, flow-controlled length); ``(b"", 0)`` once the response has ended."""
        while not self.chunks:
            if self.ended:
                return b"", 0
            if self.error is not None:
                raise self.error
            self.readable.clear()
            await self.readable.wait()
        return self.chunks.popleft()


class TargetConnection(asyncio.Protocol):
    """One HTTP/2 client connection to a target (h2 as the sans-IO core)."""

    ASSUMED_STREAM_LIMIT = 100  # until the target's SETTINGS arrive (RFC 9113 §6.5.2 advises at least 100)

    def __init__(self, limits: Limits, on_idle: Callable[[TargetConnection], None]):
        self.h2 = h2_connection(client_side=True, max_header_list_size=limits.max_headers)
        self.exchanges: dict[int, Exchange] = {}
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.going_away = False
        self._settings_seen = False
        self._paused = False
        self._on_idle = on_idle
        self._idle_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream connection's transport
        self.loop = asyncio.get_running_loop()
        self.peer = transport.get_extra_info("peername")
        start_connection(self.h2)
        self.flush()
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except ProtocolError as exc:  # h2 has queued a GOAWAY for the target
            log.debug("target %s broke HTTP/2: %s", self.peer, exc)
            self.flush()
            self.close(ConnectionError(f"target broke HTTP/2: {exc}"))
            return
        for event in events:
            self._dispatch(event)
        self.flush()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_idle()
        error = ConnectionError(f"target connection lost: {exc}" if exc else "target closed the connection")
        for exchange in list(self.exchanges.values()):
            exchange.fail(error)
        self.exchanges.clear()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake(0)

    # -- use ------------------------------------------------------------------------------------
    def has_room(self) -> bool:
        limit = self.h2.remote_settings.max_concurrent_streams if self._settings_seen else self.ASSUMED_STREAM_LIMIT
        return not self.closed and not self.going_away and self.h2.open_outbound_streams < limit

    def open(self, headers: list[tuple[bytes, bytes]], end_stream: bool) -> Exchange:
        stream_id = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream_id, headers, end_stream=end_stream)
        exchange = self.exchanges[stream_id] = Exchange(stream_id, local_ended=end_stream)
        self._cancel_idle()
        self.flush()
        return exchange

    async def send_body(self, exchange: Exchange, body) -> None:
        """Stream the client's request body and trailers to the target, as its windows allow."""
        while True:
            try:
                chunk = await body.read()
            except Exception as exc:
                raise ClientBodyError(str(exc)) from exc
            if not chunk:
                break
            exchange.body_read = True
            await self._send_data(exchange, chunk)
        self._check(exchange)
        trailers = encode_headers(getattr(body, "trailers", None) or [])
        if trailers:
            self.h2.send_headers(exchange.id, trailers, end_stream=True)
        else:
            self.h2.end_stream(exchange.id)
        exchange.local_ended = True
        self.flush()
        self._settle(exchange)

    def acknowledge(self, stream_id: int, size: int) -> None:
        if size and not self.closed:
            self.h2.acknowledge_received_data(size, stream_id)
            self.flush()

    def cancel(self, exchange: Exchange, code: ErrorCodes = ErrorCodes.CANCEL) -> None:
        """Reset a stream this side no longer wants, and give back the window of its unread bytes."""
        if exchange.id in self.exchanges and not self.closed:
            try:
                self.h2.reset_stream(exchange.id, code)
            except ProtocolError:  # already closed on both sides
                pass
        exchange.fail(ConnectionError("stream cancelled"))
        while exchange.chunks:
            self.acknowledge(exchange.id, exchange.chunks.popleft()[1])
        self.flush()
        self._settle(exchange)

    def close(self, error: BaseException | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        self._cancel_idle()
        for exchange in list(self.exchanges.values()):
            exchange.fail(error or ConnectionError("target connection closed"))
        self.exchanges.clear()
        if self.transport is not None:
            self.transport.close()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    # -- frames in ------------------------------------------------------------------------------
    def _dispatch(self, event) -> None:
        exchange = self.exchanges.get(getattr(event, "stream_id", None) or 0)
        if isinstance(event, DataReceived):
            self._on_data(exchange, event)
        elif isinstance(event, (WindowUpdated, RemoteSettingsChanged)):
            self._settings_seen |= isinstance(event, RemoteSettingsChanged)
            self._wake(getattr(event, "stream_id", 0))
        elif isinstance(event, ConnectionTerminated):
            self._on_goaway(event)
        elif exchange is not None:
            self._on_stream_event(exchange, event)

    def _on_stream_event(self, exchange: Exchange, event) -> None:
        if isinstance(event, ResponseReceived) and not exchange.head.done():
            status = int(dict(event.headers)[b":status"])
            exchange.head.set_result((status, _regular(event.headers), event.stream_ended is not None))
        elif isinstance(event, TrailersReceived):
            exchange.trailers = _regular(event.headers)
        elif isinstance(event, StreamEnded):
            exchange.ended = True
            exchange.readable.set()
            self._settle(exchange)
        elif isinstance(event, StreamReset):
            refused = event.error_code == ErrorCodes.REFUSED_STREAM
            exchange.fail(Retry() if refused else ConnectionError(f"target reset the stream ({event.error_code!r})"))
            self._settle(exchange)
        # InformationalResponseReceived: 1xx heads are not relayed

    def _on_data(self, exchange: Exchange | None, event: DataReceived) -> None:
        if exchange is None or exchange.error is not None or not event.data:
            self.acknowledge(event.stream_id, event.flow_controlled_length)
            return
        exchange.chunks.append((event.data, event.flow_controlled_length))
        exchange.readable.set()

    def _on_goaway(self, event: ConnectionTerminated) -> None:
        self.going_away = True
        for exchange in list(self.exchanges.values()):
            if exchange.id > (event.last_stream_id or 0):  # never processed: safe to send again
                exchange.fail(Retry())
                self._settle(exchange)
        if event.error_code != ErrorCodes.NO_ERROR:
            self.close(ConnectionError(f"target sent GOAWAY ({event.error_code!r})"))
        elif not self.exchanges:
            self.close()

    # -- frames out -----------------------------------------------------------------------------
    async def _send_data(self, exchange: Exchange, chunk: bytes) -> None:
        def sendable() -> bool:  # raises once the exchange failed
            self._check(exchange)
            return not self._paused

        await send_windowed(self.h2, exchange.id, chunk, exchange.writable, sendable, self.flush)

    def _check(self, exchange: Exchange) -> None:
        if exchange.error is not None:
            raise exchange.error
        if self.closed:
            raise ConnectionError("target connection closed")

    # -- bookkeeping ---------------------------------------------------------------------------
    def _settle(self, exchange: Exchange) -> None:
        """Forget a stream that is over in both directions (its unread chunks stay readable)."""
        if not exchange.over or self.exchanges.pop(exchange.id, None) is None or self.exchanges:
            return
        if self.going_away:
            self.close()
        else:
            self._arm_idle()

    def _wake(self, stream_id: int) -> None:
        targets = self.exchanges.values() if stream_id == 0 else filter(None, [self.exchanges.get(stream_id)])
        for exchange in targets:
            exchange.writable.set()

    def _arm_idle(self) -> None:
        self._cancel_idle()
        self._idle_timer = self.loop.call_later(IDLE_SECONDS, self._idle_expired)

    def _cancel_idle(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _idle_expired(self) -> None:
        if not self.exchanges and not self.closed:
            self.h2.close_connection()
            self.flush()
            self.close()
            self._on_idle(self)


def _regular(raw) -> Headers:
    """Response headers without pseudo-headers and hop-by-hop fields."""
    return [(n, v) for n, v in decode_headers(raw) if not n.startswith(":") and n not in HOP_BY_HOP]


# -- the upstream ---------------------------------------------------------------------------------

class Http2Upstream:
    """``exchange.Upstream`` for HTTP2 and GRPC target groups."""

    MAX_OPENINGS = 3  # new connections one request waits for before giving up (the target closes them at once)

    def __init__(self, limits: Limits):
        self.limits = limits
        self._pools: dict[tuple, list[TargetConnection]] = {}
        self._opening: dict[tuple, asyncio.Task] = {}
        self._context: ssl.SSLContext | None = None

    async def forward(self, target: Target, group: TargetGroup, request: Request, responder: Responder,
                      timeout: float) -> None:
        if target.address is None:
            raise UpstreamError(502, f"target {target.id} has no address")
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            await self._attempt(target, group, request, responder, deadline)
        except Retry:
            log.debug("target %s refused a stream; sending it again on a new connection", target.id)
            try:
                await self._attempt(target, group, request, responder, deadline)
            except Retry:
                raise UpstreamError(502, f"target {target.id} refused the stream") from None

    async def close(self) -> None:
        for task in list(self._opening.values()):
            task.cancel()
        for pool in self._pools.values():
            for connection in pool:
                connection.close()
        self._pools.clear()

    # -- one attempt ---------------------------------------------------------------------------
    async def _attempt(self, target: Target, group: TargetGroup, request: Request, responder: Responder,
                       deadline: float) -> None:
        connection = await self._connection(target, group, deadline)
        exchange, sender = self._send(connection, request, request_headers(request, target, group))
        try:
            status, headers, ended = await self._head(exchange, target, deadline)
            await self._relay(connection, exchange, status, headers, ended, responder)
        finally:
            await self._stop_sending(sender)
            if not exchange.over:  # cancelled, failed, or answered before the request body ended
                connection.cancel(exchange, ErrorCodes.NO_ERROR if exchange.ended else ErrorCodes.CANCEL)

    def _send(self, connection: TargetConnection, request: Request, headers) -> tuple[Exchange, asyncio.Task | None]:
        empty = isinstance(request.body, EmptyBody) or request.content_length == 0
        try:
            exchange = connection.open(headers, end_stream=empty)
        except ProtocolError as exc:  # the target lowered its stream limit meanwhile
            raise Retry() from exc
        if empty:
            return exchange, None
        return exchange, asyncio.get_running_loop().create_task(self._send_body(connection, exchange, request))

    async def _send_body(self, connection: TargetConnection, exchange: Exchange, request: Request) -> None:
        try:
            await connection.send_body(exchange, request.body)
        except ClientBodyError as exc:  # the target must not take a truncated request as whole
            log.debug("request body from the client failed: %s", exc)
            connection.cancel(exchange)
        except (ConnectionError, Retry, ProtocolError):
            pass  # the response side reports what happened to the stream

    @staticmethod
    async def _stop_sending(sender: asyncio.Task | None) -> None:
        if sender is not None and not sender.done():
            sender.cancel()
            await asyncio.wait([sender])  # a retry must not race this attempt for the body

    async def _head(self, exchange: Exchange, target: Target, deadline: float) -> tuple[int, Headers, bool]:
        remaining = max(deadline - asyncio.get_running_loop().time(), 0)
        try:
            async with asyncio.timeout(remaining):
                return await exchange.head
        except TimeoutError:
            raise UpstreamError(504, f"target {target.id} sent no response in time") from None
        except Retry:
            if exchange.body_read:  # part of the body is gone: the request cannot be sent again
                raise UpstreamError(502, f"target {target.id} refused the stream") from None
            raise
        except ConnectionError as exc:
            raise UpstreamError(502, f"target {target.id}: {exc}") from None

    async def _relay(self, connection: TargetConnection, exchange: Exchange, status: int, headers: Headers,
                     ended: bool, responder: Responder) -> None:
        if ended and any(n == "grpc-status" for n, _ in headers):
            headers, trailers = split_trailers_only(headers)
            await responder.start(status, headers)
            await responder.end(trailers)
            return
        await responder.start(status, headers)
        while True:
            try:
                chunk, size = await exchange.next_chunk()
            except (ConnectionError, Retry) as exc:  # the target side broke; client-side errors propagate
                log.debug("response from %s broke off: %r", connection.peer, exc)
                responder.abort()
                return
            if not chunk:
                break
            await responder.data(chunk)
            connection.acknowledge(exchange.id, size)  # only now may the target send more
        await responder.end(exchange.trailers or None)

    # -- connections ---------------------------------------------------------------------------
    async def _connection(self, target: Target, group: TargetGroup, deadline: float) -> TargetConnection:
        """A connection to ``target`` with room for one more stream, opening one if none has."""
        key = (target.address, group.protocol == HTTPS)
        for _ in range(self.MAX_OPENINGS):
            pool = self._pools.setdefault(key, [])
            pool[:] = [c for c in pool if not c.closed]
            ready = next((c for c in pool if c.has_room()), None)
            if ready is not None:
                return ready
            opening = self._opening.get(key)
            if opening is None:
                opening = self._opening[key] = asyncio.get_running_loop().create_task(self._open(key, deadline))
                opening.add_done_callback(lambda _task: self._opening.pop(key, None))
            await asyncio.shield(opening)  # several requests wait for one new connection
        raise UpstreamError(502, f"target {target.id} keeps closing new connections")

    async def _open(self, key: tuple, deadline: float) -> TargetConnection:
        (host, port), tls = key
        loop = asyncio.get_running_loop()
        budget = max(min(self.limits.connect_timeout, deadline - loop.time()), 0)
        try:
            async with asyncio.timeout(budget):
                _, connection = await loop.create_connection(
                    lambda: TargetConnection(self.limits, self._dropper(key)), host, port,
                    ssl=self._tls() if tls else None, server_hostname=None)
        except TimeoutError:
            raise UpstreamError(504, f"connecting to {host}:{port} timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamError(502, f"cannot connect to {host}:{port}: {exc}") from None
        assert connection.transport is not None  # create_connection returns it connected
        if tls and connection.transport.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":
            connection.close()
            raise UpstreamError(502, f"target {host}:{port} does not speak HTTP/2 over TLS")
        self._pools.setdefault(key, []).append(connection)
        return connection

    def _dropper(self, key: tuple) -> Callable[[TargetConnection], None]:
        def drop(connection: TargetConnection) -> None:
            pool = self._pools.get(key, [])
            if connection in pool:
                pool.remove(connection)
        return drop

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = target_context()
        return self._context
