"""The HTTP/1.1 front end: one client connection, parsed strictly, answered in order.

Model
-----
``RequestReader`` is the sans-IO core: client bytes in, events out (``Head``,
``BodyData``, ``End``), or a ``Reject`` naming the status to answer. It runs
llhttp (through httptools) in its strict mode and adds what llhttp leaves to
its user, so that this proxy and any target behind it can never disagree
about where a request ends. Requests are re-framed toward targets (the
upstream writes its own ``content-length`` or chunked encoding), so a
request can only reach a target the way this reader understood it.

Refused, with the status, ``Connection: close``, and no byte parsed after:

- 400: ``Content-Length`` with ``Transfer-Encoding``; ``Content-Length``
  repeated (even with equal values), not a decimal number, or at least
  2**63 (it would overflow a signed 64-bit parser behind us);
  ``Transfer-Encoding`` other than exactly one ``chunked`` (so no
  ``chunked, identity``, ``gzip, chunked``, ``xchunked`` or repeats), or
  any ``Transfer-Encoding`` on HTTP/1.0; malformed chunk sizes, missing
  CRLFs, chunk extensions and trailers over 16 KiB per message (plus 32
  bytes per chunk); obs-fold, whitespace before a colon, bare CR or LF, NUL
  and other control bytes, invalid header names; a missing, repeated or
  malformed ``Host`` on HTTP/1.1; a fragment in the request target; an
  absolute-form target with user info; ``*`` for a method other than
  OPTIONS; methods llhttp does not know (it has a fixed list, so custom
  methods are refused too); the HTTP/2 connection preface (HTTP/2 reaches
  Lattice through HTTPS listeners and ALPN only).
- 405: CONNECT (Lattice tunnels nothing through HTTP listeners).
- 408: a request head not complete within ``Limits.header_read_timeout``
  from its first byte (slowloris), or a request body that stalls for the
  connection's idle timeout.
- 414: a request line over ``Limits.max_request_line``.
- 417: an ``Expect`` other than ``100-continue``.
- 431: a header line over ``Limits.max_header``, a head over
  ``Limits.max_headers`` or more than ``Limits.max_header_count`` fields.
- 505: any version but HTTP/1.0 and HTTP/1.1 (HTTP/0.9, ``HTTP/2.0`` as
  text, HTTP/3, HTTP/1.2).

``Http1Server`` is the asyncio driver, one ``Protocol`` per client
connection. Requests are served one at a time, in order (pipelined requests
wait, parsed, in a bounded queue); each is handed to ``proxy.serve`` with a
responder that writes HTTP/1.1 back, by plain calls or awaited. Answers given
by the proxy and exchanges over pooled target connections run without a
task; the proxy starts one only where something must be awaited (a streamed
body, a new target connection). A body received whole before its request is
served travels with it (``WholeBody``).

Decisions where Lattice says nothing
------------------------------------
- ``Expect: 100-continue`` is answered here, with ``100 Continue``, the
  first time the proxy asks for the body; it is not forwarded (the upstream
  sends the body without waiting). A response given without reading the
  body closes the connection afterwards, as does any response that leaves
  a request body unread.
- An ``Upgrade`` request (WebSocket, h2c) is forwarded as a plain request
  without its ``Upgrade``: Lattice does not proxy WebSockets, and the
  target's answer tells the client the upgrade did not happen.
- Response bodies keep ``Content-Length`` when the target gave one, else
  are chunked (HTTP/1.0 clients: delimited by closing the connection).
  HEAD, 1xx, 204 and 304 answers have no body. Response trailers are
  dropped; request trailers are passed to the upstream via ``Body.trailers``.
- Timeouts: keep-alive idle = the idle timeout of the service the
  connection used last (60 s before any); a client that stops reading a
  response for that long is disconnected. ``Limits.max_connection_duration``
  (from ``Connection.opened``) ends the connection at the next request
  boundary: the response in progress says ``Connection: close``.
- After an error answer the connection is half-closed and what the client
  still sends is read and dropped for up to ``LINGER`` seconds, so the
  answer is not destroyed by a reset.

Per request the driver keeps its costs flat: bytes for the client are
queued and leave in one send at the end of the loop iteration (a response's
head, body and end usually together; a head whose body is not there yet
still leaves at once), and the keep-alive idle clock moves by assignment:
one timer per connection re-arms itself when it fires early.
"""

from __future__ import annotations

import asyncio
import http
import logging
import re
from collections import deque
from dataclasses import dataclass
from typing import NoReturn

import httptools

from latticework.dataplane import proxy
from latticework.dataplane.deadline import Deadline
from latticework.dataplane.exchange import (
    HOP_BY_HOP, Cancellable, Connection, Headers, Request, WholeBody, field_lines,
)
from latticework.dataplane.plane import Limits, Plane

log = logging.getLogger(__name__)

HIGH_WATER = 256 * 1024  # buffered request bytes above which the connection stops reading
LOW_WATER = 64 * 1024  # ... and below which it reads again
MAX_PIPELINE = 16  # parsed requests waiting for their turn
LINGER = 2.0  # seconds to drain a client after an error answer, before closing
DEFAULT_IDLE = 60.0  # Lattice's default idle timeout, until the connection has used a service
MAX_CONTENT_LENGTH = (1 << 63) - 1
CHUNK_FRAMING = 16 * 1024  # chunk-extension and trailer bytes allowed per message...
CHUNK_LINE = 32  # ... plus this much per chunk for its size line and CRLFs
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
LOCAL_FIELDS = frozenset({"host", "expect", "content-length"})  # consumed here: the upstream writes its own
WRITTEN_HERE = HOP_BY_HOP | {"content-length"}  # response fields the front end writes itself, if at all
NOT_PASSED = HOP_BY_HOP | LOCAL_FIELDS  # request fields the proxy does not pass on
NO_TOKENS: frozenset[str] = frozenset()
FRAMING_FIELDS = frozenset({"host", "transfer-encoding", "content-length", "expect", "connection"})  # read here

DIGITS = re.compile(r"[0-9]+")
HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(:[0-9]*)?")
ABSOLUTE = re.compile(r"(?i)(https?)://([^/?#]*)(.*)", re.S)


class Reject(Exception):
    """A request refused: answered with ``status`` and the connection closed."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.events: list[Event] = []  # what the same feed parsed before the fault: still to be served


class ClientGone(Exception):
    """The client stopped sending or reading; the request in progress cannot finish."""


@dataclass(slots=True)
class Head:
    request: Request
    keep_alive: bool  # what the client asked for
    expect_continue: bool
    has_body: bool
    http10: bool


@dataclass(slots=True)
class BodyData:
    data: bytes


@dataclass(slots=True)
class End:
    trailers: Headers


Event = Head | BodyData | End


# -- the sans-IO reader -------------------------------------------------------------------------

class RequestReader:
    """Feed client bytes, get events. After a ``Reject`` it must not be fed again; after a
    request that does not keep the connection alive, later bytes are ignored (``finished``)."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.finished = False
        self.state = "idle"  # idle | head | body
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[Event] = []
        self._error: Reject | None = None
        self._resuming = False  # feeding a synthetic head to re-enter a body (see _upgrade)
        self._upgrade_body = False
        self._began = False  # a message began during the current feed
        self._begin_message()

    @property
    def in_head(self) -> bool:
        return self.state == "head"

    def feed(self, data: bytes) -> list[Event]:
        if self.finished:
            return []
        self._events, self._began, self._body_bytes = [], False, 0
        was = self.state
        try:
            self._execute(data)
            self._guard(len(data), was)
        except Reject as reject:
            reject.events = self._events
            raise
        return self._events

    def _execute(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._upgrade(data[upgrade.args[0]:])
        except httptools.HttpParserError as error:
            if not self.finished:  # else: bytes after a "Connection: close" request, ignored
                raise self._error or _refusal(error) from None

    def _upgrade(self, rest: bytes) -> None:
        """llhttp stops after the head of an Upgrade request, its body unread. The request is
        served as a plain one, so parsing goes on with a fresh parser; when a body follows,
        a synthetic head (skipped by the callbacks) re-enters the same body framing."""
        self._parser = httptools.HttpRequestParser(self)
        if self.finished:
            return
        if self._upgrade_body:
            self._upgrade_body, self._resuming = False, True
            framing = b"transfer-encoding: chunked" if self._chunked else b"content-length: %d" % self._length
            self._parser.feed_data(b"POST / HTTP/1.1\r\nhost: resume\r\n%s\r\n\r\n" % framing)
        self._execute(rest)

    def _guard(self, size: int, was: str) -> None:
        """Bounds llhttp cannot see: a head that never ends, chunk extensions that never end.
        Only feeds wholly inside one head or one body are counted, so the count is exact."""
        if self._began or self.state != was:
            return
        if was == "head":
            self._head_tail += size
            if self._head_tail > self.limits.max_headers:
                raise Reject(431, "request header fields too large")
        elif was == "body" and self._chunked:
            self._framing += size - self._body_bytes
            if self._framing > CHUNK_FRAMING + CHUNK_LINE * self._chunks:
                raise Reject(400, "chunk extensions or trailers too long")

    def _fail(self, status: int, reason: str) -> NoReturn:
        # Raised inside a parser callback: llhttp stops, and feed() raises this instead of its own error.
        self._error = Reject(status, reason)
        raise self._error

    # -- llhttp callbacks --

    def _begin_message(self) -> None:
        self._url = bytearray()
        self._fields: list[tuple[bytes, bytes]] = []
        self._trailers: Headers = []
        self._head_size = self._head_tail = self._chunks = self._framing = 0
        self._chunked, self._length, self._keep_alive = False, 0, True

    def on_message_begin(self) -> None:
        if not self._resuming:
            self.state, self._began = "head", True
            self._begin_message()

    def on_url(self, part: bytes) -> None:
        if self._resuming:
            return
        self._url += part
        line = len(self._parser.get_method()) + 1 + len(self._url) + len(" HTTP/1.1\r\n")
        if line > self.limits.max_request_line:
            self._fail(414, "request line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._resuming:
            return
        if self.state == "body":
            return self._trailer(name, value)
        size = len(name) + len(value) + 4
        self._head_size += size
        self._fields.append((name, value))
        if size > self.limits.max_header or self._head_size > self.limits.max_headers \
                or len(self._fields) > self.limits.max_header_count:
            self._fail(431, "request header fields too large")

    def _trailer(self, name: bytes, value: bytes) -> None:
        self._framing += len(name) + len(value) + 4
        if len(self._trailers) >= self.limits.max_header_count:
            self._fail(400, "too many trailer fields")
        self._trailers.append((name.decode("latin-1").lower(), value.decode("latin-1").strip(" \t")))

    def on_headers_complete(self) -> None:
        if self._resuming:
            self._resuming = False
            return
        head = self._head()
        if self._parser.should_upgrade():
            self._upgrade_body = head.has_body
        self.state, self._keep_alive = "body", head.keep_alive
        self._events.append(head)

    def on_body(self, data: bytes) -> None:
        self._body_bytes += len(data)
        self._events.append(BodyData(data))

    def on_chunk_header(self) -> None:
        self._chunks += 1

    def on_message_complete(self) -> None:
        if self._upgrade_body:
            return  # the body is still to come, on the next parser
        self._events.append(End(self._trailers))
        self.state = "idle"
        self.finished = not self._keep_alive

    # -- the head, checked --

    def _head(self) -> Head:
        parser = self._parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            self._fail(505, f"HTTP/{version} is not supported")
        method = parser.get_method().decode("ascii")
        if method == "CONNECT":
            self._fail(405, "CONNECT is not supported")
        http10 = version == "1.0"
        hosts: list[str] = []
        framing: dict[str, list[str]] = {}  # the other fields that decide framing
        headers: Headers = []  # what is passed on (before the Connection header's options are dropped)
        for raw_name, raw_value in self._fields:  # one pass: decoded, sorted out
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1").strip(" \t")
            if name == "host":
                hosts.append(value)
            elif name in FRAMING_FIELDS:
                framing.setdefault(name, []).append(value)
            elif name not in NOT_PASSED:
                headers.append((name, value))
        target, absolute = self._target(method)
        host = self._host(hosts, http10)
        if framing:
            self._chunked, self._length = self._body_framing(framing, http10)
            expect = self._expect(framing.get("expect", []), http10)
            connection = framing.get("connection")
            tokens = connection_tokens(connection) if connection else NO_TOKENS
        else:  # the rule for a request without a body
            self._chunked, self._length, expect, tokens = False, 0, False, NO_TOKENS
        keep_alive = "close" not in tokens and (not http10 or "keep-alive" in tokens)
        if tokens:
            headers = [(n, v) for n, v in headers if n not in tokens]
        request = Request(method, target, absolute or host, headers, "1.1",
                          content_length=None if self._chunked else self._length)
        return Head(request, keep_alive, expect, self._chunked or self._length > 0, http10)

    def _target(self, method: str) -> tuple[str, str | None]:
        """Origin-form target and, for an absolute-form one, its authority (which wins over Host)."""
        url = self._url.decode("latin-1")
        if url.startswith("/") and "#" not in url:
            return url, None
        if url == "*" and method == "OPTIONS":
            return url, None
        match = ABSOLUTE.fullmatch(url)
        if not match or "#" in url or not HOST.fullmatch(match[2]):
            self._fail(400, "invalid request target")
        rest = match[3]
        return (rest if rest.startswith("/") else "/" + rest), match[2]

    def _host(self, hosts: list[str], http10: bool) -> str | None:
        if len(hosts) > 1:
            self._fail(400, "more than one Host header")
        if not hosts or not hosts[0]:
            if http10:
                return None
            self._fail(400, "missing Host header")
        if not HOST.fullmatch(hosts[0]):
            self._fail(400, "invalid Host header")
        return hosts[0]

    def _body_framing(self, framing: dict[str, list[str]], http10: bool) -> tuple[bool, int]:
        """(chunked, content length); llhttp has already refused both at once and repeated lengths."""
        codings = framing.get("transfer-encoding")
        if codings:
            if http10 or len(codings) > 1 or codings[0].lower() != "chunked":
                self._fail(400, "unsupported Transfer-Encoding")
            return True, 0
        lengths = framing.get("content-length")
        if not lengths:
            return False, 0
        if len(lengths) > 1 or not DIGITS.fullmatch(lengths[0]) or int(lengths[0]) > MAX_CONTENT_LENGTH:
            self._fail(400, "invalid Content-Length")
        return False, int(lengths[0])

    def _expect(self, values: list[str], http10: bool) -> bool:
        expected = [v.lower() for v in values]
        if not expected or http10:  # HTTP/1.0 clients cannot wait for 100 Continue (RFC 9110 §10.1.1)
            return False
        if expected != ["100-continue"]:
            self._fail(417, "only 100-continue can be expected")
        return True


def connection_tokens(values: list[str]) -> frozenset[str]:
    """Options of the Connection header values: ``close``, ``keep-alive`` and hop-by-hop field names."""
    return frozenset(t.strip().lower() for v in values for t in v.split(",")) - {""}


def _refusal(error: httptools.HttpParserError) -> Reject:
    reason = str(error) or "malformed request"
    if isinstance(error, httptools.HttpParserInvalidMethodError):
        return Reject(400, "unknown or malformed method")
    if "HTTP version" in reason:
        return Reject(505, "HTTP version not supported")
    if "PRI" in reason:
        return Reject(400, "HTTP/2 is only served on HTTPS listeners, through ALPN")
    return Reject(400, f"malformed request: {reason}")


# -- responses ----------------------------------------------------------------------------------

@dataclass(slots=True)
class ResponseHead:
    data: bytes
    framing: str  # none | length | chunked | close
    length: int | None
    keep_alive: bool


def response_head(status: int, headers: Headers, method: str, http10: bool, keep_alive: bool,
                  request_id: str | None = None) -> ResponseHead:
    """The status line and fields of a response, and how its body is framed; ``x-amzn-requestid: request_id``
    is added unless the headers carry their own."""
    bodiless = method == "HEAD" or status in (204, 304) or status < 200
    lengths = [v for n, v in headers if n == "content-length"]
    length = int(lengths[0]) if lengths and lengths.count(lengths[0]) == len(lengths) \
        and DIGITS.fullmatch(lengths[0]) else None
    framing = "none" if bodiless else "length" if length is not None else "close" if http10 else "chunked"
    keep_alive = keep_alive and framing != "close"
    fields = field_lines(headers, WRITTEN_HERE)
    if request_id is not None and not any(n == proxy.REQUEST_ID for n, _ in headers):
        fields += f"{proxy.REQUEST_ID}: {request_id}\r\n"
    sized = f"content-length: {length}\r\n" if length is not None and status != 204 and status >= 200 else ""
    text = f"{_status_line(status)}{fields}{sized}{ENDINGS[framing == 'chunked', keep_alive, http10]}"
    return ResponseHead(text.encode("latin-1", "replace"), framing, length, keep_alive)


STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in http.HTTPStatus}
ENDINGS = {  # (chunked, keep_alive, http10) -> the framing fields the front end writes, and the blank line
    (chunked, keep, http10): ("transfer-encoding: chunked\r\n" if chunked else "")
    + ("connection: close\r\n" if not keep else "connection: keep-alive\r\n" if http10 else "") + "\r\n"
    for chunked in (False, True) for keep in (False, True) for http10 in (False, True)}


def _status_line(status: int) -> str:
    return STATUS_LINES.get(status) or f"HTTP/1.1 {status} Status\r\n"


def error_response(status: int, reason: str) -> bytes:
    """A complete text/plain answer that closes the connection."""
    body = (reason + "\n").encode("utf-8")
    fields = [("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(body)))]
    return response_head(status, fields, "GET", False, keep_alive=False).data + body


# -- the asyncio driver -------------------------------------------------------------------------

class Http1Server(asyncio.Protocol):
    """One client connection. The runtime builds it with the ``Connection`` it accepted, then
    calls ``connection_made`` and forwards the other ``Protocol`` callbacks."""

    def __init__(self, plane: Plane, conn: Connection):
        self.plane = plane
        self.conn = conn
        self.reader = RequestReader(plane.limits)
        self.transport: asyncio.Transport  # set by connection_made, the first callback the runtime makes
        self.queue: deque[_Exchange] = deque()  # parsed requests; the first one is being served
        self.active: _Exchange | None = None
        self.idle_timeout = DEFAULT_IDLE
        self._timeout_of: tuple[object, str | None] = (None, None)  # (snapshot, authority) idle_timeout is for
        self.closing = False  # close at the next request boundary
        self.client_eof = False
        self._writable = asyncio.Event()
        self._writable.set()
        self._out: list[bytes] = []  # bytes for the client, sent together by _flush
        self._idle: Deadline  # closes an idle connection; set by connection_made
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._failure: Reject | None = None  # answered once the requests before it are done
        self._rejected = False  # nothing more is parsed
        self._lingering = False  # answered and closing: what arrives is dropped
        self._closed = False
        self._eof_sent = False
        self._reading_paused = False

    # -- Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        loop = self._loop = asyncio.get_running_loop()
        self._idle = Deadline(loop, self._idle_expired)
        opened = self.conn.opened or loop.time()
        self._timers["lifetime"] = loop.call_at(opened + self.plane.limits.max_connection_duration, self.drain)
        self._next()

    def data_received(self, data: bytes) -> None:
        if self._lingering or self._rejected:
            return
        self._idle.set(None)
        try:
            events, reject = self.reader.feed(data), None
        except Reject as refused:
            events, reject = refused.events, refused
        except Exception:  # a fault of ours must cost this connection only, and not crash the server
            log.exception("parsing a request from %s failed", self.conn.client)
            events, reject = [], Reject(400, "malformed request")
        for event in events:
            self._on_event(event)
        if reject is not None:
            return self._reject(reject)
        self._watch_head()
        self._flow()
        self._next()

    def eof_received(self) -> bool:
        if self._lingering or not self.queue:
            return False  # nothing to answer: let the transport close
        self.client_eof = True
        if not self.queue[-1].complete:
            self._reject(Reject(400, "connection closed inside a request body"))
        return True  # keep the write side open for the answers

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = self._lingering = True
        self._idle.cancel()
        for name in list(self._timers):
            self._cancel(name)
        self._writable.set()
        for ex in self.queue:
            if ex.handle is not None:
                ex.handle.cancel()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def drain(self) -> None:
        """Finish the request in progress (its response says ``Connection: close``), then close."""
        self.closing = True
        if self.active is None:
            self._close()

    # -- requests in order --

    def _on_event(self, event: Event) -> None:
        if type(event) is Head:
            self.queue.append(_Exchange(self, event))
        elif type(event) is BodyData:
            self.queue[-1].push(event.data)
        else:
            assert type(event) is End
            self.queue[-1].finish_body(event.trailers)

    def _next(self) -> None:
        if self.active is not None or self._lingering:
            return
        if self.queue:
            return self._begin(self.queue[0])
        if self._failure is not None:
            self._write(error_response(self._failure.status, self._failure.reason))
            return self._close()
        if self.closing or self.client_eof:
            return self._close()
        if not self.reader.in_head:
            self._idle_from_now()

    def _begin(self, ex: _Exchange) -> None:
        self.active = ex
        self._idle.set(None)
        if ex.complete and ex.chunks:  # the whole body is here: it travels with the head
            ex.request.body = WholeBody(ex.take_body(), ex.trailers)
            if self._reading_paused:
                self._flow()
        try:
            ex.handle = proxy.serve(self.plane, self.conn, ex.request, ex.responder, ex.finished)
        except Exception as error:  # a fault of ours: this request fails, the connection goes on
            ex.finished(error)

    def _finish(self, ex: _Exchange, error: BaseException | None) -> None:
        """The exchange is over (``error``: what failed it, None when it ran to its end or was cancelled)."""
        if error is not None and not isinstance(error, ClientGone):
            log.error("%s %s failed", ex.request.method, ex.request.target, exc_info=error)
        self.queue.popleft()
        self.active = None
        self._learn_idle_timeout(ex.request.authority)
        if self._closed:
            return
        if ex.failed is not None:
            return self._answer(ex, ex.failed)
        if error is not None or not ex.responder.ended:
            return self._answer(ex, Reject(500, "the request could not be completed"))
        if not (ex.complete and ex.keep_alive) or self.closing:
            return self._close()
        if self._reading_paused:  # fewer requests wait now: reading may resume
            self._flow()
        self._next()

    def _learn_idle_timeout(self, authority: str | None) -> None:
        """The idle timeout is the last service's: looked up again only when the service or snapshot may differ."""
        snapshot = self.plane.snapshot
        if snapshot is self._timeout_of[0] and authority == self._timeout_of[1]:
            return
        self._timeout_of = (snapshot, authority)
        self.idle_timeout = proxy.idle_timeout_for(self.plane, self.conn, authority) or self.idle_timeout

    def _answer(self, ex: _Exchange, reject: Reject) -> None:
        """A request that failed: its own error answer if nothing was sent yet, else a cut connection."""
        if ex.responder.started:
            return self._abort()
        self._write(error_response(reject.status, reject.reason))
        self._close()

    def _reject(self, reject: Reject) -> None:
        """Nothing more is parsed. Requests complete before the bad one are still answered."""
        self._rejected = True
        self._cancel("head")
        broken = self.queue[-1] if self.queue and not self.queue[-1].complete else None
        if broken is not None and broken is self.active:
            broken.failed = reject
            assert broken.handle is not None  # the active exchange is being served: it awaits the body
            broken.handle.cancel()
            return
        if broken is not None:
            self.queue.pop()
        self._failure = reject
        self._next()

    # -- timers --

    def _timer(self, name: str, delay: float, callback) -> None:
        self._cancel(name)
        self._timers[name] = asyncio.get_running_loop().call_later(delay, callback)

    def _cancel(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _watch_head(self) -> None:
        """A head must be complete within header_read_timeout of its first byte. The clock stops
        while reading is paused: the client is not the one being slow then."""
        if not self.reader.in_head or self._reading_paused:
            self._cancel("head")
        elif "head" not in self._timers:
            self._timer("head", self.plane.limits.header_read_timeout, self._head_expired)

    def _head_expired(self) -> None:
        self._timers.pop("head", None)
        self._reject(Reject(408, "request head not received in time"))

    def _idle_from_now(self) -> None:
        """Close the connection if nothing happens for the idle timeout."""
        self._idle.set(self._loop.time() + self.idle_timeout)

    def _idle_expired(self) -> None:
        if self.active is None and not self.queue:
            self._flush()
            self._closed = self._lingering = True
            self.transport.close()

    # -- writing and closing --

    def _write(self, data: bytes) -> None:
        """Queue bytes for the client: they leave together at the end of this loop iteration."""
        if self._closed or self._eof_sent or self.transport.is_closing():
            return
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(data)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and not self._closed and not self._eof_sent and not self.transport.is_closing():
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    async def wait_writable(self) -> None:
        """Backpressure: wait while the client is not reading, at most the idle timeout."""
        if not self._writable.is_set():
            try:
                async with asyncio.timeout(self.idle_timeout):
                    await self._writable.wait()
            except TimeoutError:
                self._abort()
        if self._closed or self.transport.is_closing():
            raise ClientGone("the client connection is closed")

    def _flow(self) -> None:
        """Backpressure on the client: stop reading while too much of what it sent waits here."""
        queue = self.queue
        if self._lingering or not self._reading_paused and len(queue) <= 1 \
                and (not queue or queue[0].buffered <= HIGH_WATER):
            return  # the rule: reading, and at most one request here
        buffered = sum(ex.buffered for ex in queue)
        crowded = buffered > HIGH_WATER or len(self.queue) > MAX_PIPELINE
        if crowded and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
            self._watch_head()
        elif self._reading_paused and buffered <= LOW_WATER and len(self.queue) <= MAX_PIPELINE:
            self._reading_paused = False
            self.transport.resume_reading()
            self._watch_head()

    def _close(self) -> None:
        """Half-close after the last answer and drop what still arrives, so the kernel does not
        answer unread bytes with a reset that would destroy the answer in flight."""
        if self._lingering:
            return
        self._flush()
        self._lingering = True
        self._idle.cancel()
        for name in list(self._timers):
            self._cancel(name)
        if self.client_eof or not self.transport.can_write_eof():
            return self.transport.close()  # nothing more will come, or no half-close on this transport
        self._eof_sent = True
        self.transport.write_eof()
        if self._reading_paused:
            self.transport.resume_reading()
        self._timer("linger", LINGER, self.transport.close)

    def _abort(self) -> None:
        self._lingering = True
        self._out = []
        if not self._closed:
            self.transport.abort()

    def send_continue(self, ex: _Exchange) -> None:
        if ex.head.expect_continue and not ex.continued and not ex.responder.started:
            ex.continued = True
            self._write(CONTINUE)


class _Exchange:
    """One request of the connection: its body as it arrives, and its response."""

    __slots__ = ("server", "head", "request", "keep_alive", "chunks", "buffered", "complete", "trailers", "arrived",
                 "failed", "handle", "over", "continued", "responder")

    def __init__(self, server: Http1Server, head: Head):
        self.server = server
        self.head = head
        self.request = head.request
        self.keep_alive = head.keep_alive  # lowered by the response when it must close
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.trailers: Headers = []
        self.failed: Reject | None = None
        self.handle: Cancellable | None = None  # cancels the exchange while it runs
        self.over = self.continued = False
        self.responder = _Responder(server, self)
        if head.has_body:
            self.complete = False
            self.arrived: asyncio.Event | None = asyncio.Event()  # set when body bytes or the end arrive
            self.request.body = _RequestBody(self)
        else:
            self.complete, self.arrived = True, None

    def push(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.arrived is not None:
            self.arrived.set()

    def finish_body(self, trailers: Headers) -> None:
        self.complete, self.trailers = True, trailers
        if self.arrived is not None:
            self.arrived.set()

    def take_body(self) -> bytes:
        data, self.buffered = b"".join(self.chunks), 0
        self.chunks.clear()
        return data

    def finished(self, error: BaseException | None) -> None:
        if not self.over:  # once, whoever reports it
            self.over = True
            self.server._finish(self, error)


class _RequestBody:
    """``exchange.Body`` over the bytes the reader delivers for one request."""

    def __init__(self, ex: _Exchange):
        self._ex = ex

    @property
    def trailers(self) -> Headers:
        return self._ex.trailers

    async def read(self) -> bytes:
        ex, server = self._ex, self._ex.server
        arrived = ex.arrived
        assert arrived is not None  # only requests with a body have a _RequestBody
        while not ex.chunks and not ex.complete:
            server.send_continue(ex)
            arrived.clear()
            try:
                async with asyncio.timeout(server.idle_timeout):
                    await arrived.wait()
            except TimeoutError:
                ex.failed = Reject(408, "request body not received in time")
                raise ClientGone("the request body stalled") from None
        if not ex.chunks:
            return b""
        chunk = ex.chunks.popleft()
        ex.buffered -= len(chunk)
        server._flow()
        return chunk


class _Responder:
    """``exchange.Sink`` writing one HTTP/1.1 response to the client. The plain calls write; the
    coroutines write, then wait while the client is not reading."""

    __slots__ = ("_server", "_ex", "request_id", "started", "ended", "_framing", "_remaining")

    def __init__(self, server: Http1Server, ex: _Exchange):
        self._server = server
        self._ex = ex
        self.request_id: str | None = None
        self.started = False
        self.ended = False
        self._framing = "none"
        self._remaining = 0

    def send_head(self, status: int, headers: Headers) -> None:
        if self.started:
            raise RuntimeError("response already started")
        ex, server = self._ex, self._server
        head = response_head(status, headers, ex.request.method, ex.head.http10,
                             ex.head.keep_alive and not server.closing and not server.client_eof, self.request_id)
        self.started = True
        self._framing, self._remaining = head.framing, head.length or 0
        ex.keep_alive = head.keep_alive
        server._write(head.data)

    async def start(self, status: int, headers: Headers) -> None:
        self.send_head(status, headers)
        await self._server.wait_writable()

    def send_data(self, chunk: bytes) -> None:
        if not chunk or self._framing == "none" or self.ended:
            return
        if self._framing == "length":
            chunk = chunk[:self._remaining]  # never more than announced: the framing must hold
            self._remaining -= len(chunk)
        elif self._framing == "chunked":
            chunk = b"".join((b"%x\r\n" % len(chunk), chunk, b"\r\n"))
        self._server._write(chunk)

    async def data(self, chunk: bytes) -> None:
        if chunk and self._framing != "none" and not self.ended:
            self.send_data(chunk)
            await self._server.wait_writable()

    @property
    def writable(self) -> bool:
        return self._server._writable.is_set()

    async def drained(self) -> None:
        await self._server.wait_writable()

    def send_end(self, trailers: Headers | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        if self._framing == "chunked":
            self._server._write(b"0\r\n\r\n")
        elif self._framing == "length" and self._remaining:
            self._server._abort()  # shorter than announced: the client would wait for the rest forever

    async def end(self, trailers: Headers | None = None) -> None:
        self.send_end(trailers)

    def abort(self) -> None:
        self.ended = True
        self._ex.keep_alive = False
        self._server._abort()
