"""The HTTP/1.1 upstream: requests to targets of HTTP1 target groups.

Model
-----
``ResponseReader`` is the sans-IO core: target bytes in, events out
(``TargetHead``, ``TargetData``, ``TargetEnd``), or ``InvalidResponse``.
``TargetConnection`` is one connection to one target (an asyncio
``Protocol`` around a reader per exchange), and ``Http1Upstream`` keeps them
in a pool and runs exchanges over them.

- **Pool**: idle connections per (address, TLS, server name), at most
  ``MAX_IDLE`` each, closed after ``IDLE_SECONDS`` unused (one sweep timer
  for the whole pool, so an expiry comes up to a quarter of that later) or
  as soon as the target closes them. A connection goes back to the pool only after a
  complete response without ``Connection: close`` (HTTP/1.0 targets: with
  ``keep-alive``) to a request whose body was sent in full.
- **TLS** to HTTPS target groups, without validating the target's
  certificate: Lattice does not validate them (reference §4.1,
  https://docs.aws.amazon.com/vpc-lattice/latest/ug/target-groups.html).
  The server name is the request's host, none for an IP literal.
- **Request**: ``METHOD target HTTP/1.1``, ``host`` (the client's authority,
  unchanged), the headers the proxy rewrote, then the framing written here:
  ``content-length`` when the length is known, chunked encoding when it is
  not (the first chunk is awaited to tell an empty body from a streamed
  one; the request's trailers end a chunked body); bodiless
  GET/HEAD/DELETE/OPTIONS/TRACE requests get no framing field. The body streams while the response is read, so a target may
  answer before it has read everything (the connection is then not reused).
- **Response**: 1xx answers are dropped (no ``Expect`` is ever sent, and a
  101 is an error since no upgrade is ever asked for); hop-by-hop fields
  are removed, ``content-length`` kept, trailers handed to
  ``Responder.end``. An answer to HEAD ends with its head (llhttp cannot be
  told it has no body, so such connections are not reused: stray bytes
  would be taken for the next request's response).
- **Backpressure**: body bytes go to the responder one chunk at a time; the
  target is not read while more than ``HIGH_WATER`` bytes wait.
- **Retry**: a pooled connection found dead before any response byte, while
  no byte of the request body has been taken from the client, is replaced
  by a fresh one once.
- **Errors** before the response starts raise ``UpstreamError``: 502 when
  the target refuses, resets or closes the connection or answers something
  that is not HTTP/1.x; 504 when connecting takes longer than
  ``min(limits.connect_timeout, timeout)`` or no response head arrives within
  ``timeout`` (the clock stops while the client's body is awaited and
  restarts with each chunk the target takes: a target still reading is not
  idle). After the response has started, a failure aborts it.

The hot path allocates little per request: a connection keeps its response
parser from one response to the next, and the response deadline is one
timer per connection that moves by assignment
(``TargetConnection.expect_by``) rather than a timer armed and cancelled
per event. ``start`` runs the common exchange without a task or a future: a
request whose body is all here (or that has none), to a target with an idle
pooled connection, is written whole and its response handed to the front
end's ``Sink`` from the connection's own callbacks (``_Relay``). A coroutine
takes over only to wait: for a client that stopped reading, or for a fresh
connection replacing a dead pooled one. ``forward`` is the general path
(streamed bodies, new connections, HTTP/2 front ends).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Callable, Coroutine

import httptools

from latticework.dataplane import router
from latticework.dataplane.deadline import Deadline
from latticework.dataplane.exchange import (
    HOP_BY_HOP, EmptyBody, Finished, Headers, Request, Responder, Sink, UpstreamError, WholeBody, field_lines,
)
from latticework.dataplane.plane import Limits
from latticework.snapshot.model import HTTPS, Target, TargetGroup

IDLE_SECONDS = 30.0
MAX_IDLE = 32  # idle connections kept per target
HIGH_WATER = 256 * 1024  # response bytes waiting for the client above which the target is not read
LOW_WATER = 64 * 1024
BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length"}
FRAMING_LINES = {"none": "", "chunked": "transfer-encoding: chunked\r\n"}

PoolKey = tuple[str, int, bool, str | None]  # host, port, TLS, server name


class InvalidResponse(Exception):
    """The target's bytes are not a well-formed HTTP/1.x response."""


@dataclass(slots=True)
class TargetHead:
    status: int
    headers: Headers
    keep_alive: bool


@dataclass(slots=True)
class TargetData:
    data: bytes


@dataclass(slots=True)
class TargetEnd:
    trailers: Headers


TargetEvent = TargetHead | TargetData | TargetEnd


# -- the sans-IO reader -------------------------------------------------------------------------

class ResponseReader:
    """Parses the response to one request. ``started``: some byte arrived; ``complete``: the
    response ended; ``reusable``: nothing stray arrived, the connection can serve another."""

    def __init__(self, head_only: bool, max_head: int):
        self.head_only = head_only
        self.max_head = max_head
        self._parser = httptools.HttpResponseParser(self)
        self._events: list[TargetEvent] = []
        self.reset()

    def reset(self) -> None:
        """Ready for the next response on the same connection (the parser carries on)."""
        self.started = self.complete = False
        self.reusable = True
        self._fields: list[tuple[bytes, bytes]] = []
        self._trailers: Headers = []
        self._head_size = self._partial = 0  # exact bytes of complete fields; bytes fed to an unfinished head
        self._in_body = self._until_eof = self._informational = False

    @property
    def continues(self) -> bool:
        """Whether the parser can read a next response: this one ended cleanly and was not to a HEAD."""
        return self.complete and self.reusable and not self.head_only

    def feed(self, data: bytes) -> list[TargetEvent]:
        self.started = True
        self._events = []
        if self.complete:
            self.reusable = False  # bytes nobody asked for
            return []
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as error:
            if not self.complete:
                cause = error.__context__  # what a callback of ours raised, kept by httptools
                raise cause if isinstance(cause, InvalidResponse) else InvalidResponse(str(error)) from None
            self.reusable = False
        if not self._in_body and not self.complete:
            self._partial += len(data)  # a head not finished yet: bound what it may take
            if self._partial > self.max_head:
                raise InvalidResponse("response head too large")
        return self._events

    def eof(self) -> list[TargetEvent]:
        """The target closed its side: the end of a body delimited by the connection, else a cut."""
        if self.complete:
            return []
        if self._until_eof:
            self.complete = True
            return [TargetEnd([])]
        raise InvalidResponse("the target closed the connection mid-response")

    # -- llhttp callbacks --

    def on_message_begin(self) -> None:
        if self.complete:
            raise InvalidResponse("a second response")
        self._fields, self._head_size, self._partial = [], 0, 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size > self.max_head:
            raise InvalidResponse("response head too large")
        if self._in_body:
            self._trailers.append((name.decode("latin-1").lower(), value.decode("latin-1").strip(" \t")))
        else:
            self._fields.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status == 101:
            raise InvalidResponse("101 Switching Protocols without an upgrade request")
        if status < 200:
            self._informational = True  # 100, 102, 103: nothing for the client of a proxy that never asked
            return
        tokens: set[str] = set()
        framed = False
        headers: Headers = []
        for raw_name, raw_value in self._fields:  # one pass: decoded, and what decides reuse and framing
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1").strip(" \t")
            if name in HOP_BY_HOP:
                if name == "connection":
                    tokens.update(t.strip().lower() for t in value.split(","))
                elif name == "transfer-encoding":
                    framed = True
                continue
            if name == "content-length":
                framed = True
            headers.append((name, value))
        if tokens:  # the fields the Connection header names are hop-by-hop too
            headers = [(n, v) for n, v in headers if n not in tokens]
        keep_alive = "close" not in tokens and (self._parser.get_http_version() == "1.1" or "keep-alive" in tokens)
        self._until_eof = not framed and not self.head_only and status not in (204, 304)
        self._in_body = True
        # After HEAD, llhttp still expects the announced body: a fresh connection is safer than trusting
        # a target never to send one (its bytes would be taken for the next client's response).
        reuse = keep_alive and not self._until_eof and not self.head_only
        self._events.append(TargetHead(status, headers, reuse))
        if self.head_only:
            self._end()

    def on_body(self, data: bytes) -> None:
        if not self.complete:
            self._events.append(TargetData(data))

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
        elif not self.complete:
            self._end()

    def _end(self) -> None:
        self.complete = True
        self._events.append(TargetEnd(self._trailers))


# -- one connection -----------------------------------------------------------------------------

class TargetConnection(asyncio.Protocol):
    def __init__(self, key: PoolKey, lost: Callable[[TargetConnection], None]):
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.reader: ResponseReader | None = None
        self.busy = False  # an exchange is using the connection (else it is new or parked)
        self.parked_at = 0.0
        self.closed = False
        self.error: BaseException | None = None
        self._lost = lost
        self._loop = asyncio.get_running_loop()
        self._events: deque[TargetEvent] = deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future | None = None  # the exchange waiting for the next event
        self.sink: _Relay | None = None  # the exchange taking events by callback instead (then nothing waits)
        self._writable = asyncio.Event()
        self._writable.set()
        self._deadline = Deadline(self._loop, lambda: self.fail(TimeoutError("no response event before the deadline")))

    # -- Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.busy or self.reader is None:
            return self.abort()  # the target speaks unasked: it cannot be trusted with a request
        try:
            self._push(self.reader.feed(data))
        except InvalidResponse as error:
            self.fail(error)
            self.abort()

    def eof_received(self) -> bool:
        if self.reader is not None:
            try:
                self._push(self.reader.eof())
            except InvalidResponse as error:
                self.fail(ConnectionResetError(str(error)) if not self.reader.started else error)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._deadline.cancel()
        self.fail(exc or ConnectionResetError("the target closed the connection"))
        self._writable.set()
        self._lost(self)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- for the exchange --

    def begin(self, head_only: bool, max_head: int) -> None:
        reader = self.reader
        if reader is not None and not head_only and reader.continues:
            reader.reset()
        else:
            self.reader = ResponseReader(head_only, max_head)
        self.busy = True
        self.error = None
        self._events.clear()
        self._buffered = 0

    def expect_by(self, deadline: float | None) -> None:
        """The loop time by which the next response event must arrive (None: no deadline). Past it,
        the exchange fails with ``TimeoutError``."""
        self._deadline.set(deadline)

    def write(self, data: bytes) -> None:
        assert self.transport is not None  # connection_made ran before anyone got this protocol
        if not self.closed:
            self.transport.write(data)

    async def drain(self) -> None:
        await self._writable.wait()
        if self.closed:
            raise ConnectionResetError("the target closed the connection")

    async def next_event(self) -> TargetEvent:
        """The next event of the response; raises what broke the connection once none is left."""
        while not self._events:
            if self.error is not None:
                raise self.error
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        event = self._events.popleft()
        if isinstance(event, TargetData):
            self._buffered -= len(event.data)
            if self._paused and self._buffered <= LOW_WATER and not self.closed:
                self._paused = False
                assert self.transport is not None  # connection_made ran before anyone got this protocol
                self.transport.resume_reading()
        return event

    def fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        if self.sink is not None:
            return self.sink.on_error(self.error)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def reusable(self) -> bool:
        reader = self.reader
        assert self.transport is not None  # connection_made ran before anyone got this protocol
        return not self.closed and not self.transport.is_closing() and reader is not None \
            and reader.complete and reader.reusable and self.error is None

    def park(self) -> None:
        self.busy = False
        self._deadline.set(None)
        self.parked_at = self._loop.time()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def _push(self, events: list[TargetEvent]) -> None:
        if self.sink is not None:
            if events:
                self.sink.on_events(events)  # last: the sink may end the exchange and start the next one
            return
        for event in events:
            self._events.append(event)
            if isinstance(event, TargetData):
                self._buffered += len(event.data)
        if events:
            self._wake()
        if self._buffered > HIGH_WATER and not self._paused:
            self._paused = True
            assert self.transport is not None  # connection_made ran before anyone got this protocol
            self.transport.pause_reading()


# -- the request side ---------------------------------------------------------------------------

class _Sending:
    """The request body on its way: what was taken from the client, and the response deadline,
    which stops while the client is awaited and restarts whenever the target takes bytes."""

    def __init__(self, request: Request, timeout: float, conn: TargetConnection):
        self.request = request
        self.timeout = timeout
        self.consumed = False  # a body byte was taken from the client: the request cannot be replayed
        self.done = False  # the whole request was written
        self._conn = conn
        self._head_awaited = False  # the response head is awaited: the deadline runs
        self._awaiting_client = False

    def await_head(self, awaited: bool) -> None:
        """The response side starts or stops waiting for the head (and so for the deadline)."""
        self._head_awaited = awaited
        if not awaited:
            self._conn.expect_by(None)
        elif not self._awaiting_client:
            self.progress()

    async def read(self) -> bytes:
        self._awaiting_client = True
        self._reschedule(None)
        try:
            chunk = await self.request.body.read()
        finally:
            self._awaiting_client = False
            self.progress()
        self.consumed = self.consumed or bool(chunk)
        return chunk

    def progress(self) -> None:
        self._reschedule(asyncio.get_running_loop().time() + self.timeout)

    def _reschedule(self, when: float | None) -> None:
        if self._head_awaited:
            self._conn.expect_by(when)


def request_head(request: Request, host: str, framing: str, length: int) -> bytes:
    """Request line and fields toward the target; ``framing`` is none | length | chunked."""
    prewritten = request.prewritten
    if prewritten is None:
        fields = field_lines(request.headers, NOT_FORWARDED)
    else:  # Lattice's fields were written (and checked) by the proxy: only the client's are left
        count, lines = prewritten
        fields = field_lines(request.headers[:count], NOT_FORWARDED) + lines if count else lines
    framed = FRAMING_LINES[framing] if framing != "length" else f"content-length: {length}\r\n"
    return f"{request.method} {request.target} HTTP/1.1\r\nhost: {host}\r\n{fields}{framed}\r\n".encode(
        "latin-1", "replace")


def body_framing(method: str, length: int | None, first: bytes) -> str:
    """none | length | chunked: how a body of ``length`` (None: unknown, ``first`` read) travels."""
    if length is None and first:
        return "chunked"
    if (length or 0) > 0 or method not in BODYLESS_METHODS:
        return "length"
    return "none"


def _fields(headers: Headers) -> bytes:
    """Header lines, without those written here and any that would break the framing."""
    return field_lines(headers, NOT_FORWARDED).encode("latin-1", "replace")


def _write_head(conn: TargetConnection, request: Request, framing: str) -> None:
    host = request.authority or "%s:%d" % conn.key[:2]
    conn.write(request_head(request, host, framing, request.content_length or 0))


def _chunk(data: bytes) -> bytes:
    return b"".join((b"%x\r\n" % len(data), data, b"\r\n"))


# -- the upstream -------------------------------------------------------------------------------

class _Dead(Exception):
    """The connection died before any response byte."""


class Http1Upstream:
    """``exchange.Upstream`` for HTTP1 target groups."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.idle_seconds = IDLE_SECONDS
        self._idle: dict[PoolKey, list[TargetConnection]] = {}  # per key, oldest parked first
        self._sweeper: asyncio.TimerHandle | None = None
        self._tls = _client_context()

    async def forward(self, target: Target, group: TargetGroup, request: Request, responder: Responder,
                      timeout: float) -> None:
        key = pool_key(target, group, request)
        address = f"{key[0]}:{key[1]}"
        conn = self._checkout(key)
        if conn is not None:
            try:
                return await self._exchange(conn, request, responder, timeout, address)
            except _Dead as dead:
                if dead.args[0]:  # a body byte was taken from the client: the request cannot be sent again
                    raise UpstreamError(502, f"target {address} closed the connection without answering") from None
        await self._fresh(key, request, responder, timeout)

    async def _fresh(self, key: PoolKey, request: Request, responder: Responder, timeout: float) -> None:
        """The exchange on a new connection: the first try without an idle one, or the one retry."""
        conn = await self._connect(key, timeout)
        address = f"{key[0]}:{key[1]}"
        try:
            await self._exchange(conn, request, responder, timeout, address)
        except _Dead:
            raise UpstreamError(502, f"target {address} closed the connection without answering") from None

    def start(self, target: Target, group: TargetGroup, request: Request, responder: Sink, timeout: float,
              done: Finished) -> _Relay | None:
        """``forward`` without a task, where it can be: a request whose body is all here (or that has
        none), to a target with an idle pooled connection, runs on that connection's callbacks and
        reports to ``done`` (an ``UpstreamError`` when nothing was sent). None: call ``forward``."""
        body = request.body
        if type(body) is WholeBody:
            data = body.data
        elif type(body) is EmptyBody and not request.content_length:
            data = b""
        else:
            return None
        conn = self._checkout(pool_key(target, group, request))
        if conn is None:
            return None
        relay = _Relay(self, conn, request, responder, timeout, done)
        relay.begin(data)
        return relay

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()

    # -- the pool --

    def _checkout(self, key: PoolKey) -> TargetConnection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to have been closed by the target
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn
            conn.close()
        return None

    def _checkin(self, conn: TargetConnection) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= MAX_IDLE:
            return conn.close()
        conn.park()
        idle.append(conn)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(self.idle_seconds / 4, self._sweep)

    def _sweep(self) -> None:
        """Close the connections parked for ``idle_seconds``; runs every quarter of that while any is."""
        self._sweeper = None
        expired = asyncio.get_running_loop().time() - self.idle_seconds
        for key, idle in list(self._idle.items()):
            while idle and idle[0].parked_at <= expired:
                idle.pop(0).close()
            if not idle:
                del self._idle[key]
        if self._idle:
            self._sweeper = asyncio.get_running_loop().call_later(self.idle_seconds / 4, self._sweep)

    def _forget(self, conn: TargetConnection) -> None:
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    async def _connect(self, key: PoolKey, timeout: float) -> TargetConnection:
        host, port, tls, name = key
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(min(self.limits.connect_timeout, timeout)):
                _, conn = await loop.create_connection(
                    lambda: TargetConnection(key, self._forget), host, port,
                    ssl=self._tls if tls else None, server_hostname=(name or "") if tls else None)
        except TimeoutError:
            raise UpstreamError(504, f"connecting to target {host}:{port} timed out") from None
        except ssl.SSLError:
            raise UpstreamError(502, f"the TLS handshake with target {host}:{port} failed") from None
        except OSError as error:
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise UpstreamError(502, f"could not connect to target {host}:{port}: {reason.lower()}") from None
        return conn

    # -- one exchange --

    async def _exchange(self, conn: TargetConnection, request: Request, responder: Responder, timeout: float,
                        address: str) -> None:
        conn.begin(request.method == "HEAD", self.limits.max_headers)
        sending = _Sending(request, timeout, conn)
        sender = None
        if type(request.body) is EmptyBody and not request.content_length:
            self._write_bodiless(conn, sending)  # the common case: no task to run
        else:
            sender = asyncio.get_running_loop().create_task(self._send(conn, sending))
        try:
            head = await self._head(conn, sending, address)
            await responder.start(head.status, head.headers)
            complete = await self._relay(conn, responder, timeout)
        except BaseException:
            conn.abort()
            raise
        finally:
            await _stop(sender)
        if complete and sending.done and head.keep_alive and conn.reusable:
            self._checkin(conn)
        else:
            conn.close()

    async def _send(self, conn: TargetConnection, sending: _Sending) -> None:
        try:
            await self._write_request(conn, sending)
            sending.done = True
        except OSError:
            pass  # the target went away: the response side tells what happened
        except Exception as error:  # the client's body failed: the target must not take a cut request as whole
            conn.fail(error)
            conn.abort()

    def _write_bodiless(self, conn: TargetConnection, sending: _Sending) -> None:
        _write_head(conn, sending.request, body_framing(sending.request.method, 0, b""))
        sending.done = True

    async def _write_request(self, conn: TargetConnection, sending: _Sending) -> None:
        request = sending.request
        first = await sending.read() if request.content_length is None else b""
        framing = body_framing(request.method, request.content_length, first)
        _write_head(conn, request, framing)
        sent = await self._write_body(conn, sending, framing, first)
        if framing == "length" and sent != (request.content_length or 0):
            raise UpstreamError(400, "the request body does not match its content-length")

    async def _write_body(self, conn: TargetConnection, sending: _Sending, framing: str, first: bytes) -> int:
        sent = 0
        chunk = first or (await sending.read() if framing != "none" else b"")
        while chunk:
            sent += len(chunk)
            conn.write(_chunk(chunk) if framing == "chunked" else chunk)
            await conn.drain()
            sending.progress()
            chunk = await sending.read()
        if framing == "chunked":
            conn.write(b"0\r\n" + _fields(sending.request.body.trailers) + b"\r\n")
        return sent

    async def _head(self, conn: TargetConnection, sending: _Sending, address: str) -> TargetHead:
        sending.await_head(True)
        try:
            event = await conn.next_event()
        except (OSError, InvalidResponse) as error:  # TimeoutError included
            assert conn.reader is not None  # begin() gave this exchange its reader
            failure = head_failure(error, conn.reader.started, address, sending.timeout)
            if failure is None:
                raise _Dead(sending.consumed) from None
            raise failure from None
        finally:
            sending.await_head(False)
        assert isinstance(event, TargetHead)  # the reader's first event is always the head
        return event

    async def _relay(self, conn: TargetConnection, responder: Responder, timeout: float) -> bool:
        """Stream the body into the responder; False when the target failed and the response was cut."""
        loop = asyncio.get_running_loop()
        while True:
            conn.expect_by(loop.time() + timeout)
            try:
                event = await conn.next_event()
            except (OSError, InvalidResponse):  # TimeoutError included
                responder.abort()
                return False
            finally:
                conn.expect_by(None)
            if isinstance(event, TargetEnd):
                await responder.end(event.trailers)
                return True
            assert isinstance(event, TargetData)  # the head was the first event, _head took it
            await responder.data(event.data)


def head_failure(error: BaseException, started: bool, address: str, timeout: float) -> UpstreamError | None:
    """The answer to an exchange that failed before the response head; None when the connection died
    before any response byte (a pooled one may then be replaced)."""
    if isinstance(error, TimeoutError):
        return UpstreamError(504, f"target {address} did not answer within {timeout:g} s")
    if isinstance(error, InvalidResponse):
        return UpstreamError(502, f"target {address} sent an invalid response: {error}")
    if not started:
        return None
    return UpstreamError(502, f"target {address} closed the connection mid-response")


class _Relay:
    """One exchange over a pooled connection, driven by the connection's callbacks: the request is
    written whole, and the response goes to the responder as it is parsed, with no task and no future.

    A coroutine takes over only where something must be waited for: the client stopped reading
    (``Http1Upstream._relay`` streams the rest, with backpressure), or the pooled connection was
    found dead before any response byte and a request without a body is sent again on a fresh one.
    ``done`` is called once, when the exchange is over; ``cancel`` ends it early (the client is gone).
    """

    __slots__ = ("upstream", "conn", "request", "responder", "timeout", "done", "replayable", "head", "task", "over")

    def __init__(self, upstream: Http1Upstream, conn: TargetConnection, request: Request, responder: Sink,
                 timeout: float, done: Finished):
        self.upstream = upstream
        self.conn = conn
        self.request = request
        self.responder = responder
        self.timeout = timeout
        self.done = done
        self.replayable = True
        self.head: TargetHead | None = None
        self.task: asyncio.Task | None = None
        self.over = False

    @property
    def address(self) -> str:
        return "%s:%d" % self.conn.key[:2]

    def begin(self, data: bytes) -> None:
        conn, request = self.conn, self.request
        conn.begin(request.method == "HEAD", self.upstream.limits.max_headers)
        conn.sink = self
        self.replayable = not data
        framing = body_framing(request.method, request.content_length, data)
        head = request_head(request, request.authority or self.address, framing, len(data))
        if framing == "chunked":
            conn.write(b"".join((head, _chunk(data), b"0\r\n", _fields(request.body.trailers), b"\r\n")))
        else:
            conn.write(head + data if data else head)
        conn.expect_by(conn._loop.time() + self.timeout)

    # -- from the connection --

    def on_events(self, events: list[TargetEvent]) -> None:
        responder = self.responder
        try:
            for event in events:
                if isinstance(event, TargetData):
                    responder.send_data(event.data)
                elif isinstance(event, TargetHead):
                    self.head = event
                    responder.send_head(event.status, event.headers)
                else:
                    responder.send_end(event.trailers)
                    return self._settle()
        except Exception as error:  # a fault of ours: this exchange fails, the connection cannot be trusted
            self.conn.sink = None
            self.conn.abort()
            return self._finish(error)
        if not responder.writable:
            self._take_over(self._relay_rest())
        else:
            self.conn.expect_by(self.conn._loop.time() + self.timeout)  # the target is not idle

    def on_error(self, error: BaseException) -> None:
        conn = self.conn
        conn.sink = None
        conn.abort()
        if self.head is not None:  # the response started: it can only be cut
            self.responder.abort()
            return self._finish(None)
        assert conn.reader is not None  # begin() gave this exchange its reader
        failure = head_failure(error, conn.reader.started, self.address, self.timeout)
        if failure is not None:
            return self._finish(failure)
        if not self.replayable:
            return self._finish(UpstreamError(502, f"target {self.address} closed the connection without answering"))
        self._take_over(self.upstream._fresh(conn.key, self.request, self.responder, self.timeout))

    # -- for the front end --

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
        elif not self.over:
            self.conn.sink = None
            self.conn.abort()  # mid-exchange: it cannot serve another request
            self._finish(None)

    # -- ending --

    def _settle(self) -> None:
        conn = self.conn
        conn.sink = None
        assert self.head is not None  # the end comes after the head
        if self.head.keep_alive and conn.reusable:
            self.upstream._checkin(conn)
        else:
            conn.close()
        self._finish(None)

    def _finish(self, error: BaseException | None) -> None:
        if not self.over:
            self.over = True
            self.done(error)

    def _take_over(self, step: Coroutine[None, None, None]) -> None:
        self.conn.sink = None
        self.conn.expect_by(None)
        self.task = asyncio.get_running_loop().create_task(self._run(step))

    async def _run(self, step: Coroutine[None, None, None]) -> None:
        try:
            await step
        except asyncio.CancelledError:
            self._finish(None)
        except Exception as error:
            self._finish(error)
        else:
            self._finish(None)

    async def _relay_rest(self) -> None:
        """The rest of the response, once the client reads again."""
        conn, responder = self.conn, self.responder
        try:
            await responder.drained()
            complete = await self.upstream._relay(conn, responder, self.timeout)
        except BaseException:
            conn.abort()
            raise
        assert self.head is not None  # taken over after the head
        if complete and self.head.keep_alive and conn.reusable:
            self.upstream._checkin(conn)
        else:
            conn.close()


async def _stop(sender: asyncio.Task | None) -> None:
    if sender is None:
        return
    if not sender.done():
        sender.cancel()
        await asyncio.wait([sender])
    if not sender.cancelled():
        sender.exception()  # retrieved: a failure was already reported through the connection


def pool_key(target: Target, group: TargetGroup, request: Request) -> PoolKey:
    assert target.address is not None  # targets connected to have one (Lambda functions are invoked)
    host, port = target.address
    tls = group.protocol == HTTPS
    name = router.host_name(request.authority) if tls else None
    return host, port, tls, (name if name and not _is_ip(name) else None)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


def _client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # Lattice does not validate target certificates
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context
