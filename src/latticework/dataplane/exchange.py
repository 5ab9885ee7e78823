"""What the front ends (HTTP/1.1, HTTP/2) and the upstreams exchange.

A front end parses a client connection into ``Request``s and hands each to
``proxy.handle`` (or ``proxy.serve``) with a ``Responder`` that writes back in its own protocol.
The proxy routes the request (``router``), picks a target (``balancer``),
rewrites headers and calls an ``Upstream`` for the target group's protocol
version, which streams the target's answer into the same ``Responder``. So
every pair (client protocol, target protocol) goes through one path, and
converting HTTP/1.1 <-> HTTP/2 is nothing more than a front end and an
upstream of different versions meeting here.

Header lists hold lower-case names and ``str`` values (latin-1 decoded) in
arrival order; pseudo-headers and hop-by-hop headers never appear in them:
front ends and upstreams add their own framing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from latticework.snapshot.model import Target, TargetGroup, VpcView

Headers = list[tuple[str, str]]

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
                        "trailer", "proxy-authenticate", "proxy-authorization", "http2-settings"})


def field_lines(headers: Headers, excluded: frozenset[str]) -> str:
    """HTTP/1.1 field lines (each ending in CRLF) for ``headers``, leaving out the ``excluded`` names
    and any field whose name or value holds CR, LF or NUL (it would break the message's framing).

    Checked on the joined text first: a clean block (the rule) costs two counts, not a scan per field.
    """
    if not headers:
        return ""
    kept = [f"{n}: {v}\r\n" for n, v in headers if n not in excluded]
    text = "".join(kept)
    if text.count("\r") == text.count("\n") == len(kept) and "\0" not in text:
        return text
    return "".join(line for line in kept if line.count("\r") == line.count("\n") == 1 and "\0" not in line)


@dataclass
class Connection:
    """One accepted client connection, as the listener saw it."""

    vpc: VpcView  # the VPC the client is in (from the connection's destination address)
    client: tuple[str, int]  # peer address
    local: tuple[str, int]  # fabric address and listener port
    scheme: str  # "http" | "https"
    sni: str | None = None  # TLS server name
    alpn: str | None = None  # "h2" | "http/1.1" | None
    opened: float = 0.0  # loop.time() at accept: the maximum connection duration counts from here

    @property
    def port(self) -> int:
        return self.local[1]


class Body(Protocol):
    """A request or response body, read in chunks."""

    async def read(self) -> bytes:
        """The next chunk; ``b""`` once the body has ended."""

    @property
    def trailers(self) -> Headers:
        """Trailers received after the body (HTTP/2, chunked HTTP/1.1); valid once ``read`` returned ``b""``."""


class EmptyBody:
    trailers: Headers = []

    async def read(self) -> bytes:
        return b""


class WholeBody:
    """A request body that had fully arrived before the request was forwarded: its bytes at hand."""

    __slots__ = ("data", "trailers", "_read")

    def __init__(self, data: bytes, trailers: Headers):
        self.data = data
        self.trailers = trailers
        self._read = False

    async def read(self) -> bytes:
        if self._read:
            return b""
        self._read = True
        return self.data


@dataclass
class Request:
    method: str
    target: str  # origin-form request target: path and query, as sent
    authority: str | None  # Host header or :authority, as sent (port included when sent)
    headers: Headers  # without pseudo-headers, Host and hop-by-hop headers
    version: str  # "1.1" | "2"
    body: Body = field(default_factory=EmptyBody)
    content_length: int | None = None  # when the client declared one
    # (n, lines): the headers after the first n of ``headers``, already written as HTTP/1.1 field lines
    # by the proxy that added them (Lattice's own), so an HTTP/1.1 upstream writes only the first n itself
    prewritten: tuple[int, str] | None = None

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name]

    def header_map(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name, value in self.headers:
            found.setdefault(name, []).append(value)
        return found

    @property
    def is_grpc(self) -> bool:
        return any(v.startswith("application/grpc") for v in self.values("content-type"))


class Responder(Protocol):
    """Where a response goes: the client's protocol, behind one interface."""

    @property
    def started(self) -> bool:
        """Whether ``start`` was called (after that, errors can only abort the stream)."""

    async def start(self, status: int, headers: Headers) -> None: ...

    async def data(self, chunk: bytes) -> None:
        """Send a body chunk; waits while the client is not reading (backpressure)."""

    async def end(self, trailers: Headers | None = None) -> None: ...

    def abort(self) -> None:
        """Stop the response mid-way (reset the stream or close the connection)."""


class Sink(Responder, Protocol):
    """A responder that also takes the response by plain calls, for exchanges driven by protocol
    callbacks (no task to await in). Nothing waits for the client there: ``writable`` tells whether
    it is reading, and ``drained`` is for the coroutine that takes over when it is not."""

    request_id: str | None  # x-amzn-requestid for the response, unless the target's answer has its own

    def send_head(self, status: int, headers: Headers) -> None: ...

    def send_data(self, chunk: bytes) -> None: ...

    def send_end(self, trailers: Headers | None = None) -> None: ...

    @property
    def writable(self) -> bool: ...

    async def drained(self) -> None:
        """Return once the client reads again (raises when it is gone)."""


Finished = Callable[[BaseException | None], None]  # told once an exchange is over: None, or what failed it


class Cancellable(Protocol):
    def cancel(self) -> object: ...


class UpstreamError(Exception):
    """The target could not be reached or answered wrongly, before any response was started."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Upstream(Protocol):
    """Sends requests to targets of one protocol version, with connection reuse."""

    async def forward(self, target: Target, group: TargetGroup, request: Request, responder: Responder,
                      timeout: float) -> None:
        """Send ``request`` (headers already rewritten) and stream the answer into ``responder``.

        Raises ``UpstreamError`` when nothing was started; ``timeout`` bounds
        connecting and waiting for the response head.
        """

    async def close(self) -> None: ...
