"""The signing proxy of ``latticework exec --sign``: SigV4 on behalf of a command that cannot sign.

Services and service networks whose ``authType`` is ``AWS_IAM`` take requests
signed with SigV4 for the signing name ``vpc-lattice-svcs`` and the
service's Region
(https://docs.aws.amazon.com/vpc-lattice/latest/ug/sigv4-authenticated-requests.html).
In AWS, a client that cannot sign goes through a sidecar proxy that does;
``exec --sign`` starts one for its command: a forward proxy on 127.0.0.1 (an
ephemeral port) in ``exec``'s own process, which the command finds in
``http_proxy``, ``https_proxy`` and their upper-case forms
(``proxy_environment``; ``no_proxy`` stays as the user set it).

A request (``SigningProxy._forward``)
    Plain HTTP comes in absolute form (``GET http://host[:port]/path``). The
    host is resolved as the command would resolve it inside the VPC
    (``VpcNames``): an IP literal is used as it is, a name in /etc/hosts
    next (the namespace's ``hosts: files dns``), anything else is asked of
    the VPC's resolver (an A query to its address, from the host's network
    namespace, where the proxy runs). A name the VPC does not resolve is
    answered 502 with a text saying so. The request goes to the address on
    the URL's port (80 by default) in origin form, with ``Host`` the URL's
    authority.

What is signed (``Signer``)
    Only requests whose host resolves to the VPC's Lattice address: every
    Lattice service the VPC reaches answers there, by its generated or
    custom name. Other requests are forwarded unsigned: the proxy is the
    command's proxy for all its HTTP, and the user's credentials are
    nobody else's business. A request that already carries a SigV4
    signature (``Authorization: AWS4-HMAC-SHA256 ...`` or a presigned
    ``X-Amz-Signature``) is forwarded as it is. Any other gets botocore's
    ``SigV4Auth`` for ``vpc-lattice-svcs``: signed headers ``host``,
    ``x-amz-content-sha256`` (``UNSIGNED-PAYLOAD``, so the body streams
    through unbuffered, as the Lattice guide shows), ``x-amz-date`` and, for
    temporary credentials, ``x-amz-security-token``. Those fields and
    ``Authorization`` replace any the command sent. The canonical query is
    built from the decoded parameters (``+`` read as a space), as the data
    plane's verifier (``latticework.sigv4``) builds it. Credentials are
    frozen per request in a worker thread, so that a refresh (an STS call
    for ``--role``) never stalls other connections.

The Region (``lattice_region``)
    A generated name ``...vpc-lattice-svcs.<region>.on.aws`` says it; for
    any other name (a custom domain name) the proxy's default Region is used:
    ``--region``, else the VPC's (a VPC reaches only services of its own
    Region).

Bodies and connections
    One request per client connection. The service gets it with
    ``Connection: close``; the command gets the response with
    ``Connection: close`` and the connection ends after it (clients open a
    new one for their next request: curl, Python, Go and Node do so by
    themselves). Interim answers (``100 Continue``) pass as they come. Bodies
    go both ways as they arrive, their framing unchanged (``Content-Length``,
    or chunked with its chunk sizes, extensions and trailers as sent), in
    pieces of at most ``PIECE`` bytes, each written before the next is read:
    a connection holds at most a head (``MAX_HEAD``) and a piece. A response
    with neither framing ends when the service closes. Hop-by-hop fields
    (``Connection`` and those it names, ``Keep-Alive``, ``Proxy-Connection``,
    ``Proxy-Authorization``, ``TE``, ``Upgrade``) are not passed on: as in
    Lattice, an upgrade (WebSocket, h2c) is a plain request.

HTTPS (``SigningProxy._tunnel``)
    ``CONNECT host:port``. A host that does not resolve to the Lattice
    address gets a plain tunnel to its address: TLS stays end to end, with
    the real server's certificate, unsigned. For a Lattice service the proxy
    answers 200, terminates the command's TLS with a certificate for the host
    issued by a CA made for this run of ``exec`` (``fabric.proxyca``: its key
    never leaves the process, and the command trusts it only through the CA
    bundle ``exec`` hands it), reads the request inside, signs it and sends
    it over a new TLS connection to the service (SNI the host,
    the certificate verified against Latticework's CA and the system's). Only
    ``http/1.1`` is offered by ALPN: HTTP/2 and gRPC are not signed.

Who may use it
    Only processes of the user running ``exec``: the owner of the connecting
    socket is looked up in ``/proc/net/tcp`` (``peer_uid``); anyone else
    gets 403. Such processes can read the user's credentials anyway; other
    users of the host could not use the proxy to sign with them.

Answers of the proxy itself (text/plain, ``Connection: close``): 400 a
malformed request, or one in origin form sent to the proxy as if it were a
server; 403 a connection from another user; 408 no complete request head
within ``HEAD_TIMEOUT``; 431 a head over ``MAX_HEAD``; 501 a transfer coding
other than chunked, or a scheme other than http in absolute form; 502 a
name the VPC does not resolve, a service that cannot be reached, whose TLS
certificate does not verify, or that closed without answering, and
credentials that cannot be had (an ``AssumeRole`` refused); 504 a connection
not established within ``CONNECT_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import re
import signal
import socket
import ssl
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Iterator, Mapping, Sequence
from urllib.parse import parse_qsl, quote, urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from dnslib import QTYPE, RCODE, DNSError, DNSLabelError, DNSRecord

from latticework.fabric.credentials import CredentialsError, frozen
from latticework.fabric.proxyca import ProxyCA

log = logging.getLogger("latticework.fabric.signing")

SIGNING_NAME = "vpc-lattice-svcs"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
LATTICE_NAME = re.compile(r"\.vpc-lattice-svcs\.([a-z0-9-]+)\.on\.aws\.?$")
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY")

MAX_HEAD = 64 * 1024
PIECE = 64 * 1024
HEAD_TIMEOUT = 60.0
CONNECT_TIMEOUT = 10.0
DNS_TIMEOUT = 5.0
LINGER = 2.0

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization",
                        "proxy-authenticate", "te", "upgrade"})
SIGNATURE_FIELDS = frozenset({"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"})
TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # in a field value or target: never passed on
DECIMAL = re.compile(r"[0-9]{1,18}")
STATUS = re.compile(r"[1-5][0-9][0-9]")
REASONS = {400: "Bad Request", 403: "Forbidden", 408: "Request Timeout", 431: "Request Header Fields Too Large",
           501: "Not Implemented", 502: "Bad Gateway", 504: "Gateway Timeout"}

CHUNKED, UNTIL_CLOSE = -1, -2  # body lengths that are not a number of bytes

Fields = tuple[tuple[str, str], ...]


class Refusal(Exception):
    """The proxy answers the command itself: status and text."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# -- message heads (pure) -------------------------------------------------------------------------

def field_values(fields: Fields, name: str) -> list[str]:
    """The values of the fields named ``name`` (lower-case), in order."""
    return [value for field, value in fields if field.lower() == name]


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    version: str
    fields: Fields

    def values(self, name: str) -> list[str]:
        return field_values(self.fields, name)


@dataclass(frozen=True)
class ResponseHead:
    status_line: str
    status: int
    fields: Fields


def parse_fields(lines: Sequence[str]) -> Fields:
    """Header fields of a head's lines (after the start line); obs-fold, malformed names, control bytes refused."""
    fields = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not TOKEN.match(name) or CONTROL.search(value):
            raise Refusal(400, f"malformed header field: {line[:80]!r}")
        fields.append((name, value.strip(" \t")))
    return tuple(fields)


def parse_request_head(data: bytes) -> RequestHead:
    lines = data.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not TOKEN.match(parts[0]) or parts[2] not in ("HTTP/1.0", "HTTP/1.1") \
            or CONTROL.search(parts[1]):
        raise Refusal(400, f"malformed request line: {lines[0][:80]!r}")
    return RequestHead(parts[0], parts[1], parts[2], parse_fields([line for line in lines[1:] if line]))


def parse_response_head(data: bytes) -> ResponseHead:
    lines = data.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not STATUS.fullmatch(parts[1]):
        raise Refusal(502, f"the service answered a malformed status line: {lines[0][:80]!r}")
    return ResponseHead(lines[0], int(parts[1]), parse_fields([line for line in lines[1:] if line]))


def body_length(fields: Fields) -> int:
    """The body's length by its framing: bytes, ``CHUNKED``, or ``UNTIL_CLOSE`` (neither framing)."""
    codings, lengths = field_values(fields, "transfer-encoding"), set(field_values(fields, "content-length"))
    if codings:
        if lengths:
            raise Refusal(400, "a message with both Content-Length and Transfer-Encoding")
        if [c.strip().lower() for c in ",".join(codings).split(",")] != ["chunked"]:
            raise Refusal(501, f"Transfer-Encoding {', '.join(codings)} is not supported (only chunked)")
        return CHUNKED
    if not lengths:
        return UNTIL_CLOSE
    if len(lengths) > 1 or not DECIMAL.fullmatch(next(iter(lengths))):
        raise Refusal(400, f"invalid Content-Length: {', '.join(sorted(lengths))}")
    return int(next(iter(lengths)))


def request_body_length(head: RequestHead) -> int:
    found = body_length(head.fields)
    return 0 if found == UNTIL_CLOSE else found  # a request without framing has no body (RFC 9112 §6.3)


def response_body_length(method: str, head: ResponseHead) -> int:
    if method == "HEAD" or head.status in (204, 304) or 100 <= head.status < 200:
        return 0
    return body_length(head.fields)


def connection_tokens(fields: Fields) -> frozenset[str]:
    return frozenset(t.strip().lower() for n, v in fields if n.lower() == "connection" for t in v.split(","))


def end_to_end(fields: Fields, dropped: frozenset[str] = frozenset()) -> Fields:
    """``fields`` without hop-by-hop ones (and those their ``Connection`` names), nor ``dropped``."""
    gone = HOP_BY_HOP | connection_tokens(fields) | dropped
    return tuple((n, v) for n, v in fields if n.lower() not in gone)


def head_bytes(start_line: str, fields: Fields) -> bytes:
    return "".join([start_line, "\r\n", *(f"{n}: {v}\r\n" for n, v in fields), "\r\n"]).encode("latin-1")


def text_answer(status: int, message: str) -> bytes:
    body = f"latticework exec: {message}\n".encode()
    fields = (("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
              ("Connection", "close"))
    return head_bytes(f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}", fields) + body


# -- where a request goes (pure) --------------------------------------------------------------------

@dataclass(frozen=True)
class Destination:
    host: str  # lower-case, without brackets or trailing dot
    port: int
    authority: str  # the Host field toward the service
    origin: str  # the origin-form target: path and query


def absolute_destination(target: str) -> Destination:
    """Where an absolute-form target (``http://host[:port]/path?query``) goes."""
    scheme, sep, rest = target.partition("://")
    if not sep:
        raise Refusal(400, f"{target[:80]!r} is not an absolute URL: this is latticework exec's signing "
                           "proxy, which takes requests as a proxy does (http_proxy)")
    if scheme.lower() != "http":
        raise Refusal(501, f"{scheme}:// requests are not proxied in absolute form (HTTPS goes through CONNECT)")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, origin = rest[:cut], rest[cut:]
    if "#" in origin:
        origin = origin.partition("#")[0]
    host, port = split_authority(authority, 80)
    return Destination(host, port, authority, origin if origin.startswith("/") else "/" + origin)


def split_authority(authority: str, default_port: int) -> tuple[str, int]:
    """``(host, port)`` of ``host[:port]`` or ``[v6]:port``; user info refused."""
    if "@" in authority or not authority:
        raise Refusal(400, f"invalid authority {authority!r}")
    if authority.startswith("["):
        host, _, port_text = authority[1:].partition("]")
        port_text = port_text[1:] if port_text.startswith(":") else port_text
    else:
        host, _, port_text = authority.partition(":")
    if not host or (port_text and not (DECIMAL.fullmatch(port_text) and 0 < int(port_text) < 65536)):
        raise Refusal(400, f"invalid authority {authority!r}")
    return host.rstrip(".").lower(), int(port_text) if port_text else default_port


def tunnelled_destination(head: RequestHead, host: str, port: int) -> Destination:
    """Where a request read inside a CONNECT tunnel goes: the tunnel's host and port, its own Host field."""
    if not head.target.startswith("/"):
        raise Refusal(400, f"inside a tunnel a request target is a path, not {head.target[:80]!r}")
    hosts = head.values("host")
    authority = hosts[0] if len(hosts) == 1 else (host if port == 443 else f"{host}:{port}")
    return Destination(host, port, authority, head.target)


def lattice_region(host: str) -> str | None:
    """The Region a generated Lattice service name names; None for any other name."""
    found = LATTICE_NAME.search(host.lower())
    return found.group(1) if found else None


def signed_by_client(head: RequestHead, origin: str) -> bool:
    """Whether the command signed the request itself (its signature is then left alone)."""
    return any(v.startswith("AWS4-") for v in head.values("authorization")) or "X-Amz-Signature=" in origin


def proxy_environment(base: Mapping[str, str], url: str) -> dict[str, str]:
    """``base`` with the proxy variables naming ``url`` (replacing the user's: the proxy does not chain)."""
    return {**base, **{name: url for name in PROXY_VARIABLES}}


# -- signing -----------------------------------------------------------------------------------------

class Signer:
    """SigV4 fields for requests to Lattice services, with the credentials of the command's caller."""

    def __init__(self, credentials: Credentials, region: str):
        self.credentials = credentials
        self.region = region

    async def fields(self, method: str, destination: Destination) -> Fields:
        """``Authorization``, ``X-Amz-Date``, ``X-Amz-Security-Token`` (when temporary) and the payload hash."""
        try:
            now = await asyncio.to_thread(frozen, self.credentials)
        except CredentialsError as exc:
            raise Refusal(502, f"no credentials to sign with: {exc}") from None
        return sign(now, lattice_region(destination.host) or self.region, method, destination)


def sign(credentials: ReadOnlyCredentials, region: str, method: str, destination: Destination) -> Fields:
    """The SigV4 fields of one request (pure but for the clock)."""
    path, _, query = destination.origin.partition("?")
    # The parameters decoded and encoded again, as the verifier reads them; botocore sorts them.
    encoded = urlencode(parse_qsl(query, keep_blank_values=True), quote_via=quote, safe="-_.~")
    url = f"http://{destination.authority}{path}" + (f"?{encoded}" if encoded else "")
    request = AWSRequest(method=method, url=url,
                         headers={"host": destination.authority, "x-amz-content-sha256": UNSIGNED_PAYLOAD})
    SigV4Auth(credentials, SIGNING_NAME, region).add_auth(request)
    names = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
    return (*((n, request.headers[n]) for n in names if n in request.headers),
            ("x-amz-content-sha256", UNSIGNED_PAYLOAD))


def outbound_head(head: RequestHead, destination: Destination, signature: Fields) -> bytes:
    """The request as the service gets it: origin form, Host first, signature fields, ``Connection: close``."""
    dropped = frozenset({"host"}) | (SIGNATURE_FIELDS if signature else frozenset())
    fields = (("Host", destination.authority), *end_to_end(head.fields, dropped), *signature,
              ("Connection", "close"))
    return head_bytes(f"{head.method} {destination.origin} {head.version}", fields)


def final_response_head(head: ResponseHead) -> bytes:
    """The service's final response head for the command: hop-by-hop fields out, ``Connection: close``."""
    return head_bytes(head.status_line, (*end_to_end(head.fields), ("Connection", "close")))


# -- names as the VPC resolves them -------------------------------------------------------------------

class VpcNames:
    """Addresses of names as a command inside the VPC gets them: IP literals, /etc/hosts, the VPC's resolver."""

    def __init__(self, vpc_id: str, resolver: tuple[str, int], hosts: Mapping[str, str]):
        self.vpc_id = vpc_id
        self.resolver = resolver
        self.hosts = hosts

    async def address(self, host: str) -> str:
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_address(host))
        if host in self.hosts:
            return self.hosts[host]
        return self._first_address(host, await self._ask(host))

    async def _ask(self, host: str) -> DNSRecord:
        try:
            query = DNSRecord.question(host, "A")
        except DNSLabelError:  # a label over 63 bytes, an empty one...
            raise Refusal(400, f"{host[:80]!r} is not a valid host name") from None
        try:
            reply = await asyncio.wait_for(self._udp(query), DNS_TIMEOUT)
            if reply.header.tc:
                reply = await asyncio.wait_for(self._tcp(query), DNS_TIMEOUT)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, DNSError):
            raise Refusal(502, f"the resolver of {self.vpc_id} ({self.resolver[0]}) did not answer for "
                               f"{host}; is the Latticework server running?") from None
        return reply

    async def _udp(self, query: DNSRecord) -> DNSRecord:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.connect(self.resolver)
            await loop.sock_sendall(sock, query.pack())
            while True:  # a connected socket hears only the resolver; stray late replies have another id
                reply = DNSRecord.parse(await loop.sock_recv(sock, 65535))
                if reply.header.id == query.header.id:
                    return reply

    async def _tcp(self, query: DNSRecord) -> DNSRecord:
        reader, writer = await asyncio.open_connection(*self.resolver)
        try:
            data = query.pack()
            writer.write(struct.pack("!H", len(data)) + data)
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            return DNSRecord.parse(await reader.readexactly(size))
        finally:
            writer.close()

    def _first_address(self, host: str, reply: DNSRecord) -> str:
        if reply.header.rcode == RCODE.NXDOMAIN:
            raise Refusal(502, f"{host} does not resolve in {self.vpc_id} (NXDOMAIN): no such name, or a "
                               "Lattice service the VPC cannot reach (not associated with its service networks)")
        if reply.header.rcode != RCODE.NOERROR:
            raise Refusal(502, f"the resolver of {self.vpc_id} answered {RCODE.get(reply.header.rcode)} for {host}")
        found = [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]
        if not found:
            raise Refusal(502, f"{host} has no IPv4 address in {self.vpc_id}")
        return found[0]


def hosts_file(path: str = "/etc/hosts") -> dict[str, str]:
    """Names of the hosts file and their first IPv4 address (the namespace reads it before DNS)."""
    found: dict[str, str] = {}
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in Path(path).read_text().splitlines():
            words = line.partition("#")[0].split()
            if len(words) >= 2 and _is_ipv4(words[0]):
                for name in words[1:]:
                    found.setdefault(name.rstrip(".").lower(), words[0])
    return found


def _is_ipv4(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv4Address)
    except ValueError:
        return False


# -- who connects ------------------------------------------------------------------------------------

def peer_uid(peer: tuple[str, int], local: tuple[str, int], table: str = "/proc/net/tcp") -> int | None:
    """The uid owning the socket at ``peer`` connected to ``local`` (IPv4, on this host), if listed."""
    wanted = (_proc_address(peer), _proc_address(local))
    with contextlib.suppress(OSError):
        with open(table) as lines:
            for line in lines:
                words = line.split()
                if len(words) > 7 and (words[1], words[2]) == wanted:
                    return int(words[7])
    return None


def _proc_address(address: tuple[str, int]) -> str:
    # /proc/net/tcp prints the address as the host-order integer of its network-order bytes.
    return "%08X:%04X" % (struct.unpack("=I", socket.inet_aton(address[0]))[0], address[1])


# -- relaying bodies --------------------------------------------------------------------------------

async def relay_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int) -> None:
    """Copy one body of ``length`` (bytes, ``CHUNKED`` or ``UNTIL_CLOSE``) from ``reader`` to ``writer``."""
    if length == CHUNKED:
        await relay_chunked(reader, writer)
    elif length == UNTIL_CLOSE:
        while piece := await reader.read(PIECE):
            await _send(writer, piece)
    else:
        await relay_exactly(reader, writer, length)


async def relay_exactly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int) -> None:
    while length > 0:
        piece = await reader.read(min(length, PIECE))
        if not piece:
            raise asyncio.IncompleteReadError(b"", length)
        length -= len(piece)
        await _send(writer, piece)


async def relay_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy a chunked body as it is: size lines, data, the last chunk and trailers."""
    while True:
        line = await _line(reader)
        size = _chunk_size(line)
        await _send(writer, line)
        if size == 0:
            break
        await relay_exactly(reader, writer, size)
        if (end := await reader.readexactly(2)) != b"\r\n":
            raise Refusal(400, "a chunk not followed by CRLF")
        await _send(writer, end)
    while (line := await _line(reader)) != b"\r\n":  # trailer fields, then the empty line
        await _send(writer, line)
    await _send(writer, line)


def _chunk_size(line: bytes) -> int:
    size = line.split(b";", 1)[0].strip()
    if not size or len(size) > 16 or not all(c in b"0123456789abcdefABCDEF" for c in size):
        raise Refusal(400, f"malformed chunk size line {line[:40]!r}")
    return int(size, 16)


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\r\n")
    except asyncio.LimitOverrunError:
        raise Refusal(400, "a chunk line over the size limit") from None


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def read_head(reader: asyncio.StreamReader, timeout: float | None = None, too_large: int = 431) \
        -> bytes | None:
    """The next head (through its empty line), or None when the peer closed before sending one."""
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    except asyncio.LimitOverrunError:
        raise Refusal(too_large, f"a message head over {MAX_HEAD} bytes") from None
    except asyncio.TimeoutError:
        raise Refusal(408, f"no complete request within {HEAD_TIMEOUT:.0f} s") from None


async def linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """End our side and read what the command still sends until it closes (``LINGER`` at most): closing
    with unread input would reset the connection, which may destroy the answer before it is read. Over
    TLS there is no half-close: the connection just closes."""
    if writer.is_closing() or not writer.can_write_eof():
        return
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        writer.write_eof()
        await asyncio.wait_for(_discard(reader), LINGER)


async def _discard(reader: asyncio.StreamReader) -> None:
    while await reader.read(PIECE):
        pass


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until ``reader`` ends, then end ``writer``'s side (a tunnel's one direction)."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        await relay_body(reader, writer, UNTIL_CLOSE)
        if writer.can_write_eof():
            writer.write_eof()


# -- the proxy ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Vpc:
    """What the proxy knows of the command's VPC."""

    vpc_id: str
    resolver: tuple[str, int]
    lattice: str  # the address every Lattice service the VPC reaches answers on
    lattice_ca_pem: str | None  # Latticework's CA: HTTPS listeners' certificates chain to it


class SigningProxy:
    """The forward proxy (see the module docstring); ``start`` listens, ``close`` stops."""

    def __init__(self, vpc: Vpc, signer: Signer, uid: int | None = None, hosts: Mapping[str, str] | None = None):
        self.vpc = vpc
        self.signer = signer
        self.names = VpcNames(vpc.vpc_id, vpc.resolver, hosts_file() if hosts is None else hosts)
        self.uid = os.geteuid() if uid is None else uid
        self.ca = ProxyCA(f"latticework exec signing proxy {os.getpid()}")
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task] = set()
        self._upstream_tls = upstream_context(vpc.lattice_ca_pem)

    @property
    def url(self) -> str:
        return f"http://{self.address[0]}:{self.address[1]}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, limit=MAX_HEAD)
        self.address = self._server.sockets[0].getsockname()[:2]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
            await linger(reader, writer)
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered = _Answered(writer)
        try:
            self._check_peer(writer)
            head = await read_head(reader, HEAD_TIMEOUT)
            if head is None:
                return
            request = parse_request_head(head)
            if request.method == "CONNECT":
                await self._tunnel(request, reader, answered)
            else:
                await self._forward(request, absolute_destination(request.target), reader, answered, None)
        except Refusal as refusal:
            answered.refuse(refusal)
        except (OSError, asyncio.IncompleteReadError):
            pass  # a side went away: nothing to answer, nobody to tell
        except Exception as exc:  # a bug here must not end the proxy, nor leave the command waiting
            log.exception("latticework exec's signing proxy failed on a request")
            answered.refuse(Refusal(502, f"the signing proxy failed: {exc!r}"))

    def _check_peer(self, writer: asyncio.StreamWriter) -> None:
        owner = peer_uid(writer.get_extra_info("peername"), writer.get_extra_info("sockname"))
        if owner != self.uid:
            raise Refusal(403, f"this proxy signs with the credentials of uid {self.uid}; it serves only that "
                               f"user's processes (the connection is uid {owner}'s)")

    async def _forward(self, head: RequestHead, destination: Destination, reader: asyncio.StreamReader,
                       answered: _Answered, tls: ssl.SSLContext | None) -> None:
        """Send one request to its service (signed when it is a Lattice service) and relay the answer."""
        address = await self.names.address(destination.host)
        signature: Fields = ()
        if address == self.vpc.lattice and not signed_by_client(head, destination.origin):
            signature = await self.signer.fields(head.method, destination)
        length = request_body_length(head)
        up_reader, up_writer = await self._connect(address, destination, tls)
        try:
            up_writer.write(outbound_head(head, destination, signature))
            upload = asyncio.create_task(relay_body(reader, up_writer, length))
            upload.add_done_callback(lambda done: _abort_on_failure(done, up_writer))
            try:
                await self._relay_response(head.method, up_reader, answered)
            except (Refusal, OSError, asyncio.IncompleteReadError):
                _raise_failure(upload)  # the request body broke off: that is what the command hears about
                raise
            finally:
                upload.cancel()
        finally:
            up_writer.close()

    async def _connect(self, address: str, destination: Destination, tls: ssl.SSLContext | None) \
            -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        where = f"{destination.host}:{destination.port} ({address})"
        try:
            return await asyncio.wait_for(asyncio.open_connection(
                address, destination.port, ssl=tls, server_hostname=destination.host if tls else None,
                limit=MAX_HEAD), CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            raise Refusal(504, f"no connection to {where} within {CONNECT_TIMEOUT:.0f} s") from None
        except ssl.SSLCertVerificationError as exc:
            raise Refusal(502, f"TLS to {where}: {exc.verify_message}") from None
        except OSError as exc:
            raise Refusal(502, f"cannot connect to {where}: {exc.strerror or exc}") from None

    async def _relay_response(self, method: str, up_reader: asyncio.StreamReader, answered: _Answered) -> None:
        while True:
            data = await read_head(up_reader, too_large=502)
            if data is None:
                raise Refusal(502, "the service closed the connection without answering")
            head = parse_response_head(data)
            if not 100 <= head.status < 200 or head.status == 101:
                break
            await answered.send(data)  # 100 Continue and other interim answers pass as they are
        await answered.send(final_response_head(head))
        await relay_body(up_reader, answered.writer, response_body_length(method, head))

    async def _tunnel(self, head: RequestHead, reader: asyncio.StreamReader, answered: _Answered) -> None:
        host, port = split_authority(head.target, 443)
        address = await self.names.address(host)
        if address != self.vpc.lattice:
            return await self._blind_tunnel(address, Destination(host, port, head.target, "/"), reader, answered)
        await answered.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
        answered.reset()  # inside the tunnel the command waits for an answer of its own
        await answered.writer.start_tls(self.ca.context_for(host))
        inner = await read_head(reader, HEAD_TIMEOUT)
        if inner is not None:
            request = parse_request_head(inner)
            await self._forward(request, tunnelled_destination(request, host, port), reader, answered,
                                self._upstream_tls)

    async def _blind_tunnel(self, address: str, destination: Destination, reader: asyncio.StreamReader,
                            answered: _Answered) -> None:
        up_reader, up_writer = await self._connect(address, destination, None)
        try:
            await answered.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, answered.writer))
        finally:
            up_writer.close()


class _Answered:
    """The command's side of a connection: whether anything was sent yet (a refusal needs a clean slate)."""

    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer
        self.sent = False

    async def send(self, data: bytes) -> None:
        self.sent = True
        await _send(self.writer, data)

    def reset(self) -> None:
        self.sent = False

    def refuse(self, refusal: Refusal) -> None:
        if not self.sent and not self.writer.is_closing():
            self.sent = True
            self.writer.write(text_answer(refusal.status, refusal.message))


def _abort_on_failure(upload: asyncio.Task, up_writer: asyncio.StreamWriter) -> None:
    """A request body that broke off (the command went away, bad chunking) ends the exchange."""
    if not upload.cancelled() and upload.exception() is not None:
        up_writer.transport.abort()


def _raise_failure(upload: asyncio.Task) -> None:
    if upload.done() and not upload.cancelled() and (failure := upload.exception()) is not None:
        raise failure


def upstream_context(lattice_ca_pem: str | None) -> ssl.SSLContext:
    """TLS toward services: the system's CAs (and ``SSL_CERT_FILE``) plus Latticework's; HTTP/1.1."""
    context = ssl.create_default_context()
    if lattice_ca_pem:
        context.load_verify_locations(cadata=lattice_ca_pem)
    context.set_alpn_protocols(["http/1.1"])
    return context


# -- running beside the command ------------------------------------------------------------------------

@contextlib.contextmanager
def serving(proxy: SigningProxy) -> Iterator[SigningProxy]:
    """Run ``proxy`` on an event loop of its own in a thread, for the duration of the ``with``."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=_run_loop, args=(loop,), name="latticework-signing-proxy", daemon=True)
    everything = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        thread.start()  # with every signal blocked: they stay the main thread's (``exec`` waits on them)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, everything)
    try:
        _call(loop, proxy.start)
        yield proxy
    finally:
        with contextlib.suppress(Exception):
            _call(loop, proxy.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


def _call(loop: asyncio.AbstractEventLoop, coroutine: Callable[[], Awaitable[None]]) -> None:
    asyncio.run_coroutine_threadsafe(_awaited(coroutine), loop).result(30)


async def _awaited(coroutine: Callable[[], Awaitable[None]]) -> None:
    await coroutine()
