"""The AWS services' front: HTTPS on the addresses their names resolve to in a VPC, forwarded upstream.

Sockets (``wanted``): port 443 on

- a VPC's AWS-services address (``VpcView.aws_services``, ``.11`` of its block) while the VPC has a
  gateway endpoint to S3 or DynamoDB: their public names resolve there (``snapshot.compile``);
- each interface of an ``Interface`` endpoint to an AWS service (``VpcView.aws_endpoints``): its DNS
  names, and with private DNS the service's public names, resolve there.

TLS is terminated with a certificate from Latticework's CA for the name the client asks for (SNI), when
that name resolves to the connection's address in the VPC; ``latticework exec`` makes clients trust
the CA. No SNI, or a name that does not lead here, fails the handshake.

Each HTTP/1.1 request (h11; keep-alive, ``Expect: 100-continue`` answered here, ``IDLE_TIMEOUT``
without a byte closes) is judged, then
forwarded unchanged (the ``Host`` header and every signed header kept, so the signature still holds)
to the service's upstream (``--aws-upstream s3=http://127.0.0.1:5000``), or without one to the name
the client asked for on port 443 (the real service, as from a VPC with an internet gateway). Which
endpoint carries it:

- at an interface's address: that interface endpoint;
- at the AWS-services address: the VPC's gateway endpoint to the service that is associated with the
  route table the client uses. A client of ``latticework exec --vpc`` uses the VPC's main route table
  (its subnet is not modelled). A gateway endpoint on other route tables only: the public path.

The public path has no endpoint policy. An endpoint's policy refusing the request (``policy.denial``)
answers in the service's own error shape: S3's XML ``AccessDenied`` (403), DynamoDB's JSON
``AccessDeniedException`` (400). An upstream that cannot be reached answers 502.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import ssl
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import h11

from latticework.config import Credential
from latticework.dataplane.awsservices.operations import DynamoDbOperations, Operation, S3Operations
from latticework.dataplane.awsservices.policy import credential_of, denial
from latticework.dataplane.tls import CertificateAuthority, load_chain, server_name
from latticework.snapshot.model import (
    GATEWAY_SERVICE_NAMES, VPC_ENDPOINT, AwsEndpoint, Snapshot, VpcView, gateway_service_names, lookup,
)

log = logging.getLogger("latticework.dataplane")

PORT = 443
MAX_DYNAMODB_BODY = 16 * 1024 * 1024  # DynamoDB's request size limit: its body is read whole to find the tables
READ_SIZE = 65536
# No byte from the client (between requests too) or from the upstream for this long closes the connection:
# S3 closes idle connections after about 20 s; a minute also covers a slow upstream's first byte.
IDLE_TIMEOUT = 60.0
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"})


@dataclass(frozen=True)
class Upstream:
    scheme: str  # http | https
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> "Upstream":
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream {url!r} must be an http:// or https:// URL with a host")
        return cls(parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


@dataclass(frozen=True)
class Place:
    """What a listening address serves: a VPC's AWS-services address (``endpoint`` None) or an interface
    endpoint's interface."""

    vpc_id: str
    endpoint: str | None


def wanted(snapshot: Snapshot) -> dict[str, Place]:
    """Fabric address -> what it serves, for every address the AWS services' front listens on."""
    found: dict[str, Place] = {}
    for view in snapshot.vpcs.values():
        if view.aws_services and any(e.type == "Gateway" for e in view.aws_endpoints.values()):
            found[view.aws_services] = Place(view.vpc_id, None)
    for address, interface in snapshot.interfaces.items():
        owner = snapshot.vpcs.get(interface.vpc_id)
        endpoint = owner.aws_endpoints.get(interface.owner) if owner and interface.owner_kind == VPC_ENDPOINT else None
        if endpoint is not None and endpoint.type == "Interface":
            found[address] = Place(interface.vpc_id, endpoint.id)
    return found


def gateway_service(view: VpcView, host: str) -> str | None:
    """The gateway service (``s3``, ``dynamodb``) whose public name ``host`` is, in the VPC's Region."""
    for service in GATEWAY_SERVICE_NAMES:
        if lookup({n: () for n in gateway_service_names(service, view.region)}, host) is not None:
            return service
    return None


def carrier(view: VpcView, place: Place, service: str) -> AwsEndpoint | None:
    """The endpoint a request takes: the interface endpoint it reached, or the gateway endpoint to its service
    on the client's route table (the VPC's main one); None: the public path."""
    if place.endpoint is not None:
        return view.aws_endpoints.get(place.endpoint)
    return next((e for e in view.aws_endpoints.values() if e.type == "Gateway" and e.service == service
                 and view.main_route_table in e.route_tables), None)


# -- error shapes --------------------------------------------------------------------------------

def request_id() -> str:
    return secrets.token_hex(8).upper()


def access_denied(service: str, text: str, head: bool) -> tuple[int, list[tuple[str, str]], bytes]:
    """The service's own answer to a refused request: (status, headers, body)."""
    rid = request_id()
    if service == "s3":
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                f"<Message>{escape(text)}</Message><RequestId>{rid}</RequestId>"
                f"<HostId>{secrets.token_urlsafe(48)}</HostId></Error>").encode()
        headers = [("content-type", "application/xml"), ("x-amz-request-id", rid)]
        return 403, headers, b"" if head else body
    body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "Message": text},
                      separators=(",", ":")).encode()
    return 400, [("content-type", "application/x-amz-json-1.0"), ("x-amzn-requestid", rid)], body


# -- the front ------------------------------------------------------------------------------------

class AwsServiceFronts:
    """Listens where ``wanted`` says, for the snapshot ``current()`` returns, and forwards to ``upstreams``."""

    def __init__(self, ca: CertificateAuthority, upstreams: Mapping[str, str], current: Callable[[], Snapshot],
                 port: int = PORT):
        self.ca = ca
        self.upstreams = {service: Upstream.parse(url) for service, url in upstreams.items()}
        self.current = current
        self.port = port
        self.places: dict[str, Place] = {}
        self.servers: dict[str, asyncio.Server] = {}
        self.unbound: set[str] = set()
        self._s3: S3Operations | None = None
        self._dynamodb: DynamoDbOperations | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}

    @property
    def s3(self) -> S3Operations:
        if self._s3 is None:  # botocore's model, read once (``apply`` reads it beside the loop first)
            self._s3 = S3Operations()
        return self._s3

    @property
    def dynamodb(self) -> DynamoDbOperations:
        if self._dynamodb is None:
            self._dynamodb = DynamoDbOperations()
        return self._dynamodb

    async def apply(self, snapshot: Snapshot) -> None:
        self.places = wanted(snapshot)
        if self.places and self._s3 is None:  # reading the models takes a third of a second: not on the loop
            self._s3, self._dynamodb = await asyncio.to_thread(lambda: (S3Operations(), DynamoDbOperations()))
        for address in list(self.servers):
            if address not in self.places:
                self.servers.pop(address).close()
        self.unbound &= set(self.places)
        for address in self.places:
            if address not in self.servers:
                await self._open(address)

    async def close(self) -> None:
        for server in self.servers.values():
            server.close()
        self.servers.clear()

    async def _open(self, address: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, self.port))
        except OSError as exc:
            sock.close()
            if address not in self.unbound:
                log.warning("cannot listen on %s:%s for AWS services (%s)", address, self.port, exc.strerror or exc)
            self.unbound.add(address)
            return
        self.unbound.discard(address)
        serve = lambda reader, writer: self._serve(address, reader, writer)
        self.servers[address] = await asyncio.start_server(serve, sock=sock, ssl=self._tls(address),
                                                           ssl_handshake_timeout=60)

    # -- TLS ------------------------------------------------------------------------------------
    def _tls(self, address: str) -> ssl.SSLContext:
        context = _server_context()

        def choose(ssl_object, name: str | None, _context) -> int | None:
            chosen = self._context_for(address, name)
            if chosen is None:
                return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
            ssl_object.context = chosen
            return None

        context.sni_callback = choose
        return context

    def _context_for(self, address: str, name: str | None) -> ssl.SSLContext | None:
        """A context with a certificate for ``name`` when that name leads to ``address`` in its VPC."""
        place, snapshot = self.places.get(address), self.current()
        view = snapshot.vpcs.get(place.vpc_id) if place else None
        if view is None or not name:
            return None
        name = name.lower().rstrip(".")
        if address not in (lookup(view.names, name) or lookup(snapshot.names, name) or ()):
            return None
        context = self._contexts.get(name)
        if context is None:
            context = _server_context()
            load_chain(context, *self.ca.issue([name]))
            self._contexts[name] = context
        return context

    # -- HTTP ------------------------------------------------------------------------------------
    async def _serve(self, address: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        sni = server_name(writer.get_extra_info("ssl_object"))
        try:
            while True:
                event = await _next(conn, reader)
                if not isinstance(event, h11.Request):
                    break
                await self._exchange(address, sni, conn, event, reader, writer)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except (h11.ProtocolError, ConnectionError, ssl.SSLError, asyncio.TimeoutError):
            pass  # a malformed or idle client, or an upstream gone mid-answer: the connection closes
        finally:
            writer.close()

    async def _exchange(self, address: str, sni: str | None, conn: h11.Connection, request: h11.Request,
                        reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request: which service, through which endpoint, judged, then forwarded or refused."""
        snapshot, place = self.current(), self.places.get(address)
        view = snapshot.vpcs.get(place.vpc_id) if place else None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        host, head = _host_name(headers.get("host") or sni or ""), request.method == b"HEAD"
        service = _service(view, place, host) if view and place else None
        if view is None or place is None or service is None:
            await _answer(conn, writer, 404, [("content-type", "text/plain")], b"no AWS service here\n", head)
            return
        body: bytes | None = None
        if service == "dynamodb":  # the tables are in the body
            body = await _whole_body(conn, reader, writer)
            if body is None:
                return
        target = request.target.decode("latin-1")
        credential = credential_of(snapshot, headers, target.partition("?")[2])
        operation = self._identify(service, request.method.decode(), host, target, headers, body, view, credential)
        refused = denial(view, carrier(view, place, service), operation, credential) if operation else None
        if refused is not None:
            status, extra, text = access_denied(service, refused, head)
            await _answer(conn, writer, status, extra + [("connection", "close")], text, head)
            return
        await self._forward(service, host, conn, request, body, reader, writer)

    def _identify(self, service: str, method: str, host: str, target: str, headers: Mapping[str, str],
                  body: bytes | None, view: VpcView, credential: Credential | None) -> Operation | None:
        if service == "s3":
            return self.s3.identify(method, host, target, headers, view.region)
        if service == "dynamodb":
            account = credential.account_id if credential is not None else view.account
            return self.dynamodb.identify(headers.get("x-amz-target"), body or b"", view.region, account)
        return None  # other services: not judged (their endpoint policies are not enforced yet)

    async def _forward(self, service: str, host: str, conn: h11.Connection, request: h11.Request,
                       body: bytes | None, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """To the service's upstream, else to the name asked for (the real service)."""
        upstream = self.upstreams.get(service) or Upstream("https", host, 443)
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(
                upstream.host, upstream.port, ssl=_client_tls(upstream), server_hostname=upstream.host
                if upstream.scheme == "https" else None), 10)
        except (OSError, asyncio.TimeoutError) as exc:
            log.warning("AWS service upstream %s:%s unreachable: %s", upstream.host, upstream.port, exc)
            await _answer(conn, writer, 502, [("content-type", "text/plain"), ("connection", "close")],
                          b"upstream unreachable\n", request.method == b"HEAD")
            return
        try:
            await _relay(conn, request, body, reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()



def _service(view: VpcView, place: Place, host: str) -> str | None:
    """The service a request is for: the interface endpoint's, or the gateway service the host name is of."""
    endpoint = view.aws_endpoints.get(place.endpoint) if place.endpoint else None
    return endpoint.service if endpoint else gateway_service(view, host)


async def _relay(conn: h11.Connection, request: h11.Request, body: bytes | None, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, up_reader: asyncio.StreamReader,
                 up_writer: asyncio.StreamWriter) -> None:
    """The request to the upstream (``body`` when already read, else streamed from the client), then its answer
    back."""
    up = h11.Connection(h11.CLIENT)
    forwarded = [(k, v) for k, v in request.headers if k.decode("latin-1").lower() not in HOP_BY_HOP]
    up_writer.write(up.send(h11.Request(method=request.method, target=request.target,
                                        headers=forwarded + [(b"connection", b"close")])))
    if body is not None:
        up_writer.write(up.send(h11.Data(data=body)) if body else b"")
    else:
        _continue(conn, writer)
        while not isinstance(event := await _next(conn, reader), h11.EndOfMessage):
            if not isinstance(event, h11.Data):
                raise h11.RemoteProtocolError("request body ended early")
            up_writer.write(up.send(h11.Data(data=event.data)))
            await up_writer.drain()
    up_writer.write(up.send(h11.EndOfMessage()))
    await up_writer.drain()
    await _relay_response(up, up_reader, conn, writer)


def _continue(conn: h11.Connection, writer: asyncio.StreamWriter) -> None:
    """``100 Continue`` to a client waiting for it before sending its body."""
    if conn.they_are_waiting_for_100_continue:
        writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))


async def _relay_response(up: h11.Connection, up_reader: asyncio.StreamReader, conn: h11.Connection,
                          writer: asyncio.StreamWriter) -> None:
    while True:
        event = await _next(up, up_reader)
        if isinstance(event, h11.InformationalResponse):
            continue
        if isinstance(event, h11.Response):
            headers = [(k, v) for k, v in event.headers if k.decode("latin-1").lower() not in HOP_BY_HOP]
            writer.write(conn.send(h11.Response(status_code=event.status_code, headers=headers,
                                                reason=event.reason)))
        elif isinstance(event, h11.Data):
            writer.write(conn.send(h11.Data(data=event.data)))
            await writer.drain()
        elif isinstance(event, h11.EndOfMessage):
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
            return
        else:
            raise ConnectionError("upstream closed mid-response")


def _host_name(host: str) -> str:
    """A ``Host`` header's name, without its port."""
    return (host.rsplit(":", 1)[0] if host.count(":") == 1 else host).lower().rstrip(".")


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


def _client_tls(upstream: Upstream) -> ssl.SSLContext | None:
    return ssl.create_default_context() if upstream.scheme == "https" else None


async def _next(conn: h11.Connection, reader: asyncio.StreamReader):
    """The next h11 event, reading as needed (``h11.ConnectionClosed`` at the end)."""
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await asyncio.wait_for(reader.read(READ_SIZE), IDLE_TIMEOUT))


async def _whole_body(conn: h11.Connection, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> bytes | None:
    """The request body, read whole (bounded); None when it was refused (the answer is sent)."""
    _continue(conn, writer)
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await _next(conn, reader)
        if isinstance(event, h11.EndOfMessage):
            return b"".join(chunks)
        if not isinstance(event, h11.Data):
            raise h11.RemoteProtocolError("request body ended early")
        size += len(event.data)
        if size > MAX_DYNAMODB_BODY:
            await _answer(conn, writer, 413, [("connection", "close")], b"", False)
            return None
        chunks.append(event.data)


async def _answer(conn: h11.Connection, writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]],
                  body: bytes, head: bool) -> None:
    length = str(len(body)) if not head else "0"
    writer.write(conn.send(h11.Response(status_code=status, headers=headers + [("content-length", length)])))
    if body and not head:
        writer.write(conn.send(h11.Data(data=body)))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()
