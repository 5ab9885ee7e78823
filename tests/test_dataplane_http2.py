"""The HTTP/2 front end (``dataplane.http2.Http2Server``) driven by a real h2 client over loopback sockets.

The server runs with a test handler in place of the proxy, so what is checked
is the front end itself: requests as the proxy receives them, multiplexing,
flow control both ways (the request body is acknowledged only as the handler
reads it), trailers, resets, connection errors and connection lifetime.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from h2.errors import ErrorCodes
from hypothesis import given, strategies as st
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, StreamEnded
from h2.settings import SettingCodes, Settings
from h2.utilities import HeaderValidationFlags, normalize_outbound_headers, validate_outbound_headers
from hpack import Decoder, NeverIndexedHeaderTuple
from hyperframe.frame import SettingsFrame

from h2_env import LATTICE, NAME, Client

from latticework.dataplane.exchange import HOP_BY_HOP, Connection, Request
from latticework.dataplane.http2 import Http2Server, request_from_headers
from latticework.dataplane.http2common import LiteralEncoder, encode_headers, h2_connection
from latticework.dataplane.plane import Limits, Plane
from latticework.snapshot.model import HTTPS, Listener, Route, Service, ServiceNetwork, Snapshot, VpcView

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def run(coro, timeout: float = 30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def snapshot(idle_timeout: float = 60.0) -> Snapshot:
    listener = Listener(id="listener-1", arn="arn", name="https", protocol=HTTPS, port=443, rules=())
    service = Service(id="svc-1", arn="arn:svc", name="echo", account="111122223333", region="us-east-1",
                      dns_name=NAME, custom_domain=None, certificate_arn=None, auth_type="NONE",
                      idle_timeout=idle_timeout, listeners={443: listener})
    network = ServiceNetwork(id="sn-1", arn="arn:sn", name="net", account="111122223333", auth_type="NONE")
    vpc = VpcView(vpc_id="vpc-1", arn="arn:vpc", account="111122223333", region="us-east-1", resolver="127.0.0.2",
                  lattice=LATTICE, routes={NAME: Route(service, network)})
    return Snapshot(revision=1, vpcs={"vpc-1": vpc}, by_address={LATTICE: "vpc-1"}, services={"svc-1": service})


# -- the handler standing in for the proxy ----------------------------------------------------

@dataclass
class Handled:
    requests: list[Request] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    was_cancelled: asyncio.Event = field(default_factory=asyncio.Event)


def make_handler(handled: Handled):
    async def handle(plane: Plane, conn: Connection, request: Request, responder) -> None:
        handled.requests.append(request)
        path, _, query = request.target.partition("?")
        try:
            await ROUTES[path](handled, request, responder, query)
        except asyncio.CancelledError:
            handled.cancelled.append(request.target)
            handled.was_cancelled.set()
            raise
    return handle


async def echo(handled: Handled, request: Request, responder, query: str) -> None:
    """Streams the body back as it arrives; request trailers come back as response trailers."""
    await responder.start(200, [("x-method", request.method), ("x-authority", request.authority or ""),
                                ("x-cookie", ",".join(request.values("cookie")))])
    while chunk := await request.body.read():
        await responder.data(chunk)
    await responder.end([("x-echoed-" + n, v) for n, v in request.body.trailers] + [("x-final", "yes")])


async def hold(handled: Handled, request: Request, responder, query: str) -> None:
    """Reads nothing until released, then counts the body."""
    handled.started.set()
    await handled.release.wait()
    total = 0
    while chunk := await request.body.read():
        total += len(chunk)
    await responder.start(200, [])
    await responder.data(str(total).encode())
    await responder.end()


async def big(handled: Handled, request: Request, responder, query: str) -> None:
    size = int(query.split("=")[1])
    await responder.start(200, [("content-length", str(size))])
    for offset in range(0, size, 100_000):
        await responder.data(bytes([offset // 100_000 % 251]) * min(100_000, size - offset))
    await responder.end()


async def fail(handled: Handled, request: Request, responder, query: str) -> None:
    raise RuntimeError("handler bug")


async def early(handled: Handled, request: Request, responder, query: str) -> None:
    """Answers without reading the request body."""
    await responder.start(404, [])
    await responder.end()


UNTIDY = [("X-Upper", "Case"), ("x-padded", "  value \t"), ("connection", "x-upper"), ("keep-alive", "5"),
          ("transfer-encoding", "chunked"), ("te", "gzip"), ("upgrade", "h2c"), ("host", "elsewhere"),
          (":status", "500"), ("x-split", "a\r\nx-injected: 1"), ("x-nul", "a\0b"), ("authorization", "secret"),
          ("cookie", "short=1"), ("cookie", "long=" + "x" * 40)]


async def untidy(handled: Handled, request: Request, responder, query: str) -> None:
    """Answers with fields HTTP/2 must not carry as they are (the way a target's HTTP/1.1 answer may)."""
    await responder.start(200, UNTIDY)
    await responder.data(b"ok")
    await responder.end(UNTIDY)


ROUTES = {"/echo": echo, "/hold": hold, "/big": big, "/fail": fail, "/early": early, "/untidy": untidy}


async def start_server(handled: Handled, limits: Limits = Limits(), tls: ssl.SSLContext | None = None,
                       plane_snapshot: Snapshot | None = None):
    loop = asyncio.get_running_loop()
    plane = Plane(snapshot=plane_snapshot or snapshot(), limits=limits)
    vpc = plane.snapshot.vpcs["vpc-1"]

    def factory() -> asyncio.Protocol:
        return _Accept(plane, vpc, handled, tls is not None)
    server = await loop.create_server(factory, LATTICE, 0, ssl=tls)
    return server, server.sockets[0].getsockname()[1]


class _Accept(asyncio.Protocol):
    """Builds the Connection on accept and hands over to Http2Server, as the listeners do."""

    def __init__(self, plane: Plane, vpc: VpcView, handled: Handled, tls: bool):
        self.plane, self.vpc, self.handled, self.tls = plane, vpc, handled, tls

    def connection_made(self, transport: asyncio.Transport) -> None:
        conn = Connection(vpc=self.vpc, client=transport.get_extra_info("peername")[:2],
                          local=transport.get_extra_info("sockname")[:2], scheme="https" if self.tls else "http",
                          alpn="h2", opened=asyncio.get_running_loop().time())
        server = Http2Server(self.plane, conn, make_handler(self.handled))
        transport.set_protocol(server)
        server.connection_made(transport)


# -- requests as the proxy sees them ----------------------------------------------------------

def test_streams_are_multiplexed_and_requests_converted():
    async def scenario():
        handled = Handled()
        server, port = await start_server(handled)
        client = await Client().connect(port)
        bodies = [f"body-{i}".encode() * (i + 1) for i in range(20)]
        replies = await asyncio.gather(*(client.request(
            "POST", "/echo?x=1", body, headers=[("cookie", "a=1"), ("cookie", "b=2"), ("x-tag", str(i))])
            for i, body in enumerate(bodies)))
        assert [bytes(r.body) for r in replies] == bodies
        assert all(r.status == 200 and r.headers["x-authority"] == NAME for r in replies)
        assert {r.headers["x-cookie"] for r in replies} == {"a=1; b=2"}
        request = handled.requests[0]
        assert (request.method, request.target, request.version) == ("POST", "/echo?x=1", "2")
        assert not any(n.startswith(":") or n == "host" for n, _ in request.headers)
        await client.close()
        server.close()
    run(scenario())


def test_over_tls_with_alpn_h2(tmp_path: Path):
    from latticework.dataplane.tls import CertificateAuthority, Certificates, client_context

    async def scenario():
        ca = CertificateAuthority.load_or_create(tmp_path / "ca")
        certificates = Certificates(ca, tmp_path / "user")
        service = snapshot().services["svc-1"]
        context = certificates.listener_context(lambda name: service if name == NAME else None)
        server, port = await start_server(Handled(), tls=context)
        client = await Client().connect(port, tls=client_context(ca.pem), server_hostname=NAME)
        assert client.writer.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        reply = await client.request("POST", "/echo", b"over tls")
        assert bytes(reply.body) == b"over tls"
        await client.close()
        server.close()
    run(scenario())


@given(st.lists(st.tuples(st.sampled_from(["cookie", "x-a", "host", "te", "connection", "accept", ":method",
                                           ":path", ":authority", ":scheme"]),
                          st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8)), max_size=12))
def test_request_conversion_drops_framing_headers(headers):
    request = request_from_headers([(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers], body=None)
    names = [n for n, _ in request.headers]
    assert not any(n.startswith(":") or n == "host" or n in HOP_BY_HOP for n in names)
    assert names.count("cookie") <= 1
    cookies = [v for n, v in headers if n == "cookie"]
    assert request.values("cookie") == (["; ".join(cookies)] if cookies else [])
    pseudo = {n: v for n, v in reversed(headers) if n.startswith(":")}
    host = next((v for n, v in headers if n == "host"), None)
    assert request.authority == (pseudo.get(":authority") or host)
    assert request.target == pseudo.get(":path", "")


# -- flow control ------------------------------------------------------------------------------

def test_large_bodies_flow_both_ways():
    async def scenario():
        server, port = await start_server(Handled())
        client = await Client().connect(port)
        body = bytes(range(256)) * 20_000  # 5 MB: many times every window
        reply = await client.request("POST", "/echo", body)
        assert reply.status == 200 and bytes(reply.body) == body
        big_reply = await client.request("GET", "/big?size=3000000")
        assert len(big_reply.body) == 3_000_000
        await client.close()
        server.close()
    run(scenario())


def test_response_waits_for_the_clients_window():
    async def scenario():
        server, port = await start_server(Handled())
        client = await Client(auto_ack=False).connect(port)
        sid = client.open("GET", "/big?size=1000000", end=True)
        reply = client.replies[sid]
        while len(reply.body) < 65_535:  # the client's default stream and connection windows
            reply.data_seen.clear()
            await reply.data_seen.wait()
        await client.ping()
        assert len(reply.body) == 65_535 and not reply.done.is_set()
        client.h2.increment_flow_control_window(2_000_000)
        client.h2.increment_flow_control_window(2_000_000, stream_id=sid)
        client.flush()
        await reply.done.wait()
        assert len(reply.body) == 1_000_000
        await client.close()
        server.close()
    run(scenario())


def test_request_body_is_acknowledged_only_as_the_handler_reads():
    async def scenario():
        handled = Handled()
        server, port = await start_server(handled)
        client = await Client().connect(port)
        await client.ping()  # the server's SETTINGS (its larger stream window) are in
        sid = client.open("POST", "/hold")
        sending = asyncio.get_running_loop().create_task(client.send(sid, b"x" * 1_000_000))
        await handled.started.wait()
        while client.h2.local_flow_control_window(sid) > 0:
            client.window.clear()
            await client.window.wait()
        await client.ping()
        assert client.h2.local_flow_control_window(sid) == 0 and not sending.done()
        assert client.h2.outbound_flow_control_window > 0  # only this stream is held back
        other = await client.request("POST", "/echo", b"meanwhile")
        assert bytes(other.body) == b"meanwhile"
        handled.release.set()
        await sending
        await client.replies[sid].done.wait()
        assert bytes(client.replies[sid].body) == b"1000000"
        await client.close()
        server.close()
    run(scenario())


# -- trailers, resets, errors ------------------------------------------------------------------

def test_trailers_both_ways():
    async def scenario():
        server, port = await start_server(Handled())
        client = await Client().connect(port)
        reply = await client.request("POST", "/echo", b"payload", trailers=[("x-checksum", "abc"),
                                                                            ("grpc-status", "0")])
        assert reply.trailers == {"x-echoed-x-checksum": "abc", "x-echoed-grpc-status": "0", "x-final": "yes"}
        await client.close()
        server.close()
    run(scenario())


def test_reset_of_one_stream_leaves_the_others_alone():
    async def scenario():
        handled = Handled()
        server, port = await start_server(handled)
        client = await Client().connect(port)
        held = client.open("POST", "/hold")
        await handled.started.wait()
        other = client.open("POST", "/echo")
        await client.send(other, b"first half ", end=False)
        client.h2.reset_stream(held, ErrorCodes.CANCEL)
        client.flush()
        await client.send(other, b"second half")
        await client.replies[other].done.wait()
        assert bytes(client.replies[other].body) == b"first half second half"
        assert handled.cancelled == ["/hold"]
        assert (await client.request("GET", "/echo")).status == 200
        await client.close()
        server.close()
    run(scenario())


def test_a_failing_handler_resets_only_its_stream():
    async def scenario():
        server, port = await start_server(Handled())
        client = await Client().connect(port)
        failed, fine = await asyncio.gather(client.request("GET", "/fail"), client.request("POST", "/echo", b"ok"))
        assert failed.reset == ErrorCodes.INTERNAL_ERROR and failed.status is None
        assert bytes(fine.body) == b"ok" and fine.reset is None
        await client.close()
        server.close()
    run(scenario())


def test_an_early_response_stops_the_request_body_without_error():
    async def scenario():
        server, port = await start_server(Handled())
        client = await Client().connect(port)
        sid = client.open("POST", "/early")
        await client.replies[sid].done.wait()
        reply = client.replies[sid]
        assert reply.status == 404
        await client.ping()
        assert reply.reset in (None, ErrorCodes.NO_ERROR)
        assert (await client.request("POST", "/echo", b"still here")).body == b"still here"
        await client.close()
        server.close()
    run(scenario())


def test_response_fields_leave_as_http2_carries_them():
    """The client validates what it receives (h2's checks): fields are lower-cased and trimmed, and the
    connection-specific, pseudo and unsafe ones are dropped."""
    async def scenario():
        server, port = await start_server(Handled())
        client = await Client().connect(port)
        reply = await client.request("GET", "/untidy")
        expected = {"x-upper": "Case", "x-padded": "value", "authorization": "secret",
                    "cookie": "short=1; long=" + "x" * 40}  # the client joins cookie fields
        assert (reply.status, reply.reset, bytes(reply.body)) == (200, None, b"ok")
        assert reply.headers == expected and reply.trailers == expected
        await client.close()
        server.close()
    run(scenario())


FIELD_NAMES = st.sampled_from(["x-a", "X-Upper", " x-padded ", "content-type", "connection", "keep-alive",
                               "transfer-encoding", "te", "upgrade", "host", ":status", ":path", "authorization",
                               "cookie", "x-amzn-requestid", ""])
FIELD_VALUES = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=24)
RESPONSE = HeaderValidationFlags(is_client=False, is_trailer=False, is_response_header=True, is_push_promise=False)


@given(st.lists(st.tuples(FIELD_NAMES, FIELD_VALUES), max_size=12))
def test_encoded_fields_need_no_normalizing_or_validating_by_h2(headers):
    """``encode_headers`` already does what h2's outbound normalization and validation would (the data
    plane's h2 connections have both off): h2's normalization changes nothing, its validation passes,
    and credentials stay out of the HPACK tables."""
    fields = encode_headers(headers)
    assert list(normalize_outbound_headers(fields, None)) == fields
    list(validate_outbound_headers([(b":status", b"200"), *fields], RESPONSE))
    assert all(n and not n.startswith(b":") and n != b"host" for n, _ in fields)
    assert not any(c in n + v for n, v in fields for c in (b"\r", b"\n", b"\0"))
    for field in fields:
        if field[0] in (b"authorization", b"x-amzn-requestid") or (field[0] == b"cookie" and len(field[1]) < 20):
            assert isinstance(field, NeverIndexedHeaderTuple)
    assert Decoder().decode(LiteralEncoder().encode(fields), raw=True) == [tuple(f) for f in fields]


def test_request_ids_stay_out_of_the_hpack_table():
    """Each response's request id is new: indexed, it would push reusable fields out of the table."""
    h2 = h2_connection(client_side=False, max_header_list_size=65536)
    for n in range(100):
        h2.encoder.encode(encode_headers([("content-type", "text/plain"), ("x-amzn-requestid", f"id-{n:032d}")]))
    assert list(h2.encoder.header_table.dynamic_entries) == [(b"content-type", b"text/plain")]


def test_too_many_headers_answer_431():
    async def scenario():
        server, port = await start_server(Handled(), limits=Limits(max_header_count=10))
        client = await Client().connect(port)
        reply = await client.request("GET", "/echo", headers=[(f"x-{i}", "v") for i in range(20)])
        assert reply.status == 431
        await client.close()
        server.close()
    run(scenario())


def _frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    """One frame's bytes, built by hand: these are frames no well-behaved library would write."""
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream_id.to_bytes(4, "big") + payload


def _raw_frames(*frames: bytes) -> bytes:
    return PREFACE + SettingsFrame(0).serialize() + b"".join(frames)


END_HEADERS = 0x4


@pytest.mark.parametrize("garbage", [
    pytest.param(_raw_frames(_frame(0x0, 0, 0, b"no stream")), id="data-on-stream-0"),
    pytest.param(_raw_frames(_frame(0x1, END_HEADERS, 1, b"\xff\xff\xff\xff")), id="bad-hpack"),
    pytest.param(_raw_frames(_frame(0x4, 0, 0, b"abcde")), id="settings-bad-length"),
    pytest.param(_raw_frames(_frame(0x0, 0, 7, b"data before headers")), id="data-on-idle-stream"),
])
def test_malformed_frames_get_goaway_and_the_server_carries_on(garbage: bytes):
    async def scenario():
        server, port = await start_server(Handled())
        reader, writer = await asyncio.open_connection(LATTICE, port)
        writer.write(garbage)
        received = await reader.read()  # until the server closes the connection
        frames = _goaway_codes(received)
        assert frames and frames[-1] != ErrorCodes.NO_ERROR
        writer.close()
        client = await Client().connect(port)  # the server still serves new connections
        assert (await client.request("POST", "/echo", b"fine")).status == 200
        await client.close()
        server.close()
    run(scenario())


def test_a_missing_preface_closes_the_connection():
    """RFC 9113 §3.4: an invalid preface is a connection error; the GOAWAY may be omitted."""
    async def scenario():
        server, port = await start_server(Handled())
        reader, writer = await asyncio.open_connection(LATTICE, port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\x00" * 40)
        await reader.read()  # returns once the server has closed the connection
        writer.close()
        server.close()
    run(scenario())


def test_malformed_request_headers_get_goaway():
    async def scenario():
        server, port = await start_server(Handled())
        client = await Client().connect(port)
        client.h2.config.validate_outbound_headers = False
        client.h2.send_headers(1, [(":method", "GET"), (":scheme", "https"), (":authority", NAME)],
                               end_stream=True)  # no :path
        client.flush()
        await client.closed.wait()
        assert client.goaway is not None and client.goaway.error_code == ErrorCodes.PROTOCOL_ERROR
        await client.close()
        server.close()
    run(scenario())


def _goaway_codes(data: bytes) -> list[int]:
    """Error codes of the GOAWAY frames in a server's byte stream."""
    codes, offset = [], 0
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset:offset + 3], "big")
        if data[offset + 3] == 0x7:
            codes.append(int.from_bytes(data[offset + 13:offset + 17], "big"))
        offset += 9 + length
    return codes


# -- connection lifetime -----------------------------------------------------------------------

def test_maximum_connection_duration_lets_open_streams_finish():
    async def scenario():
        handled = Handled()
        server, port = await start_server(handled, limits=Limits(max_connection_duration=0.5))
        client = await Client().connect(port)
        held = client.open("POST", "/hold")
        await client.send(held, b"12345")
        await handled.started.wait()
        while client.goaway is None:
            await client.ping()
        assert client.goaway.error_code == ErrorCodes.NO_ERROR and client.goaway.last_stream_id == held
        assert not client.closed.is_set()
        handled.release.set()
        await client.replies[held].done.wait()
        assert bytes(client.replies[held].body) == b"5"
        await client.closed.wait()
        await client.close()
        server.close()
    run(scenario())


def test_idle_connection_is_closed_after_the_services_idle_timeout():
    async def scenario():
        server, port = await start_server(Handled(), plane_snapshot=snapshot(idle_timeout=0.3))
        client = await Client().connect(port)
        assert (await client.request("GET", "/echo")).status == 200
        started = asyncio.get_running_loop().time()
        await client.closed.wait()
        assert asyncio.get_running_loop().time() - started >= 0.25
        assert client.goaway is not None and client.goaway.error_code == ErrorCodes.NO_ERROR
        await client.close()
        server.close()
    run(scenario())



def test_a_stream_in_progress_keeps_an_idle_connection_open():
    async def scenario():
        handled = Handled()
        server, port = await start_server(handled, plane_snapshot=snapshot(idle_timeout=0.2))
        client = await Client().connect(port)
        held = client.open("POST", "/hold")
        await client.send(held, b"abc")
        await handled.started.wait()
        with pytest.raises(asyncio.TimeoutError):  # three idle timeouts pass with the stream open
            await asyncio.wait_for(asyncio.shield(client.closed.wait()), 0.6)
        handled.release.set()
        await client.replies[held].done.wait()
        assert bytes(client.replies[held].body) == b"3"
        await client.closed.wait()  # idle once the stream is over
        await client.close()
        server.close()
    run(scenario())

# -- writes and transport backpressure, without sockets ----------------------------------------

class FakeTransport(asyncio.Transport):
    """Collects what the server writes; pauses its protocol past ``high`` unread bytes, as a socket would."""

    def __init__(self, protocol: asyncio.Protocol, high: int = 256 * 1024):
        super().__init__()
        self.protocol, self.high = protocol, high
        self.unread = bytearray()
        self.writes = 0
        self.paused = self.closed = False

    def write(self, data) -> None:
        self.writes += 1
        self.unread += data
        if len(self.unread) > self.high and not self.paused:
            self.paused = True
            self.protocol.pause_writing()

    def take(self) -> bytes:
        """What the client reads: the buffer empties, and writing resumes."""
        data, self.unread = bytes(self.unread), bytearray()
        if self.paused:
            self.paused = False
            self.protocol.resume_writing()
        return data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name, default=None):
        return default


class SansIoClient:
    """An h2 client connection fed straight into an ``Http2Server`` over a ``FakeTransport``."""

    def __init__(self, handled: Handled):
        plane = Plane(snapshot=snapshot(), limits=Limits())
        conn = Connection(vpc=plane.snapshot.vpcs["vpc-1"], client=("127.0.0.9", 40000), local=(LATTICE, 443),
                          scheme="https", alpn="h2", opened=asyncio.get_running_loop().time())
        self.server = Http2Server(plane, conn, make_handler(handled))
        self.transport = FakeTransport(self.server)
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding="latin-1"))
        self.h2.local_settings = Settings(client=True, initial_values={SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(2**31 - 1 - 65_535)  # the client never holds the server back
        self.server.connection_made(self.transport)
        self.send()
        self.events: list = []

    def send(self) -> None:
        self.server.data_received(self.h2.data_to_send())

    def receive(self) -> list:
        events = self.h2.receive_data(self.transport.take())
        self.events += events
        return events

    def get(self, path: str) -> int:
        sid = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, [(":method", "GET"), (":scheme", "https"), (":authority", NAME), (":path", path)],
                             end_stream=True)
        self.send()
        return sid


async def _turns(n: int = 50) -> None:
    """Let the loop run ``n`` iterations (no clock involved): whatever can make progress does."""
    for _ in range(n):
        await asyncio.sleep(0)


def test_a_client_that_stops_reading_holds_the_response_back():
    """The client's windows are wide open, but it reads nothing: the server stops once the transport is
    full (pause_writing), rather than buffering the whole response."""
    async def scenario():
        client = SansIoClient(Handled())
        client.receive()
        sid = client.get("/big?size=20000000")
        await _turns()
        assert 0 < len(client.transport.unread) < 2_000_000
        assert not any(isinstance(e, StreamEnded) for e in client.receive())
        while not any(isinstance(e, StreamEnded) for e in client.events):
            client.receive()
            await _turns(1)
        assert sum(len(e.data) for e in client.events if isinstance(e, DataReceived) and e.stream_id == sid) == 20_000_000
    run(scenario())


def test_a_response_leaves_in_one_write():
    """Head, body and end of a response the handler gives at once go out together: one TLS record, one send."""
    async def scenario():
        client = SansIoClient(Handled())
        await _turns()
        client.receive()
        before = client.transport.writes
        sids = [client.get("/early") for _ in range(4)]  # several streams in one go: still one write
        await _turns()
        assert client.transport.writes - before == 1
        ended = {e.stream_id for e in client.receive() if isinstance(e, StreamEnded)}
        assert ended == set(sids)
    run(scenario())


# -- the HTTP/2 upstream, against this front end as the target --------------------------------

class Recorder:
    """A responder that keeps what the upstream relays."""

    def __init__(self):
        self.started = False
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()
        self.trailers: list[tuple[str, str]] | None = None
        self.aborted = False
        self.first_data = asyncio.Event()

    async def start(self, status, headers):
        self.started, self.status, self.headers = True, status, headers

    async def data(self, chunk):
        self.body += chunk
        self.first_data.set()

    async def end(self, trailers=None):
        self.trailers = trailers or []

    def abort(self):
        self.aborted = True


def _target_group(port: int, protocol: str = "HTTP", version: str = "HTTP2"):
    from latticework.snapshot.model import HealthCheck, Target, TargetGroup
    target = Target(key="t1", id=LATTICE, port=port, address=(LATTICE, port))
    group = TargetGroup(id="tg-1", arn="arn:tg", name="tg", account="111122223333", region="us-east-1", type="IP",
                        protocol=protocol, protocol_version=version, port=port, vpc_id="vpc-1",
                        health_check=HealthCheck(enabled=False), targets=(target,))
    return target, group


class _Body:
    """A request body handed to the upstream in chunks, with trailers."""

    def __init__(self, chunks: list[bytes], trailers=()):
        self._chunks = list(chunks)
        self.trailers = list(trailers)

    async def read(self) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""


def _request(path: str, body=None, headers=()) -> Request:
    from latticework.dataplane.exchange import EmptyBody
    return Request(method="POST" if body else "GET", target=path, authority=NAME, headers=list(headers),
                   version="2", body=body or EmptyBody())


@pytest.mark.parametrize("protocol", ["HTTP", "HTTPS"])
def test_upstream_streams_both_ways_with_trailers(protocol: str, tmp_path: Path):
    from latticework.dataplane.tls import CertificateAuthority, server_context, load_chain
    from latticework.dataplane.upstream_http2 import Http2Upstream

    async def scenario():
        handled = Handled()
        tls = None
        if protocol == "HTTPS":  # a certificate no client would trust: Lattice does not validate targets
            tls = server_context()
            load_chain(tls, *CertificateAuthority.load_or_create(tmp_path / "ca").issue(["target.internal"]))
        server, port = await start_server(handled, tls=tls)
        upstream = Http2Upstream(Limits())
        target, group = _target_group(port, protocol)
        body = _Body([b"a" * 300_000, b"b" * 300_000], trailers=[("x-sum", "42")])
        recorder = Recorder()
        await upstream.forward(target, group, _request("/echo", body, [("x-tag", "1")]), recorder, 10)
        assert recorder.status == 200 and bytes(recorder.body) == b"a" * 300_000 + b"b" * 300_000
        assert ("x-authority", NAME) in recorder.headers
        assert recorder.trailers == [("x-echoed-x-sum", "42"), ("x-final", "yes")]
        assert ("x-tag", "1") in handled.requests[0].headers
        second = Recorder()
        await upstream.forward(target, group, _request("/big?size=500000"), second, 10)
        assert len(second.body) == 500_000
        assert sum(len(pool) for pool in upstream._pools.values()) == 1  # one connection, reused
        await upstream.close()
        server.close()
    run(scenario())


def test_upstream_connect_failure_is_502():
    from latticework.dataplane.exchange import UpstreamError
    from latticework.dataplane.upstream_http2 import Http2Upstream

    async def scenario():
        server, port = await start_server(Handled())
        server.close()
        await server.wait_closed()
        target, group = _target_group(port)
        with pytest.raises(UpstreamError) as failure:
            await Http2Upstream(Limits()).forward(target, group, _request("/echo"), Recorder(), 5)
        assert failure.value.status == 502
    run(scenario())


def test_upstream_without_response_head_in_time_is_504_and_resets_the_target_stream():
    from latticework.dataplane.exchange import UpstreamError
    from latticework.dataplane.upstream_http2 import Http2Upstream

    async def scenario():
        handled = Handled()
        server, port = await start_server(handled)
        upstream = Http2Upstream(Limits())
        target, group = _target_group(port)
        with pytest.raises(UpstreamError) as failure:
            await upstream.forward(target, group, _request("/hold"), Recorder(), 0.3)
        assert failure.value.status == 504
        await handled.was_cancelled.wait()  # the target hears of it
        assert handled.cancelled == ["/hold"]
        await upstream.close()
        server.close()
    run(scenario())


def test_upstream_follows_a_target_going_away():
    from latticework.dataplane.upstream_http2 import Http2Upstream

    async def scenario():
        handled = Handled()
        server, port = await start_server(handled, limits=Limits(max_connection_duration=0.2))
        upstream = Http2Upstream(Limits())
        target, group = _target_group(port)
        first = Recorder()
        await upstream.forward(target, group, _request("/echo"), first, 5)
        connection = upstream._pools[((LATTICE, port), False)][0]
        while not connection.closed:  # poll: GOAWAY, then the target closes the idle connection
            await asyncio.sleep(0.01)
        second = Recorder()
        await upstream.forward(target, group, _request("/echo"), second, 5)
        assert first.status == second.status == 200
        assert upstream._pools[((LATTICE, port), False)][0] is not connection
        await upstream.close()
        server.close()
    run(scenario())


def test_cancelling_a_forward_resets_the_target_stream():
    from latticework.dataplane.upstream_http2 import Http2Upstream

    async def scenario():
        handled = Handled()
        server, port = await start_server(handled)
        upstream = Http2Upstream(Limits())
        target, group = _target_group(port)
        body = _Body([b"x" * 10])
        forwarding = asyncio.get_running_loop().create_task(
            upstream.forward(target, group, _request("/hold", body), Recorder(), 5))
        await handled.started.wait()
        forwarding.cancel()
        await asyncio.gather(forwarding, return_exceptions=True)
        await handled.was_cancelled.wait()
        assert handled.cancelled == ["/hold"]
        other = Recorder()
        await upstream.forward(target, group, _request("/echo"), other, 5)
        assert other.status == 200
        await upstream.close()
        server.close()
    run(scenario())


def test_a_grpc_trailers_only_answer_is_relayed_as_headers_then_trailers():
    from latticework.dataplane.upstream_http2 import split_trailers_only
    head = [("content-type", "application/grpc"), ("grpc-status", "5"), ("grpc-message", "missing"), ("x-m", "1")]
    assert split_trailers_only(head) == ([("content-type", "application/grpc")],
                                         [("grpc-status", "5"), ("grpc-message", "missing"), ("x-m", "1")])


def test_upstream_opens_another_connection_beyond_the_targets_stream_limit():
    from latticework.dataplane.http2common import MAX_CONCURRENT_STREAMS
    from latticework.dataplane.upstream_http2 import Http2Upstream

    async def scenario():
        handled = Handled()
        server, port = await start_server(handled)
        upstream = Http2Upstream(Limits())
        target, group = _target_group(port)
        await upstream.forward(target, group, _request("/echo"), Recorder(), 5)  # the target's SETTINGS are in
        wanted = MAX_CONCURRENT_STREAMS + 2
        recorders = [Recorder() for _ in range(wanted)]
        calls = [asyncio.get_running_loop().create_task(
            upstream.forward(target, group, _request("/hold", _Body([b"x"])), r, 10)) for r in recorders]
        while len(handled.requests) < wanted + 1:  # poll: every request reached the target
            await asyncio.sleep(0.01)
        assert len(upstream._pools[((LATTICE, port), False)]) == 2
        handled.release.set()
        await asyncio.gather(*calls)
        assert {bytes(r.body) for r in recorders} == {b"1"}
        await upstream.close()
        server.close()
    run(scenario())
