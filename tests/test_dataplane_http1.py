"""HTTP/1.1 clients through the proxy to real echo target processes.

A hand-built snapshot (``http1_env.topology``): three services on one
address told apart by Host; the payment service's rules by priority, path,
header and method; target groups of echo processes, one whose target is
gone, one of HTTP2 version. ``Http1Server`` serves it on an ephemeral port
with a real ``Http1Upstream``; clients are ``http.client`` and raw sockets.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
import struct
import threading
import time
from dataclasses import replace

import pytest

from http1_env import (
    CUSTOM, DEAD, PAYMENT, SLOW, VPC_ID, Echo, Lattice, group, raw, read_until_closed, request, topology,
)
from latticework.dataplane.plane import Limits
from latticework.dataplane.tls import CertificateAuthority
from latticework.targets.echo import stream_body


@pytest.fixture(scope="module")
def echoes():
    started = {name: Echo(name) for name in ("blue-1", "blue-2", "green-1")}
    yield started
    for echo in started.values():
        echo.stop()


def serve(echoes, limits: Limits = Limits(), slow_idle: float = 1.0) -> Lattice:
    lattice = Lattice(limits)
    lattice.plane.snapshot = topology(lattice.port, [echoes["blue-1"].address, echoes["blue-2"].address],
                                      [echoes["green-1"].address], slow_idle=slow_idle)
    return lattice


@pytest.fixture
def lattice(echoes):
    served = serve(echoes)
    yield served
    served.close()


class Stream:
    """Reads responses one after another from one socket (pipelining): http.client, one buffer."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.file = sock.makefile("rb")

    def makefile(self, *args):
        return self

    def __getattr__(self, name):
        return getattr(self.file, name)

    def close(self) -> None:
        """http.client closes its file after each response; the next one reads on."""

    def response(self, method: str = "GET") -> tuple[http.client.HTTPResponse, bytes]:
        answer = http.client.HTTPResponse(self, method=method)
        answer.begin()
        return answer, answer.read()


def connect(lattice: Lattice) -> socket.socket:
    return socket.create_connection(("127.0.0.1", lattice.port), timeout=20)


def head(method: str, path: str, *fields: str, host: str = PAYMENT, version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", *([f"Host: {host}"] if host else []), *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# -- routing and rules ---------------------------------------------------------------------------------

@pytest.mark.parametrize("host", [PAYMENT, PAYMENT.upper(), f"{CUSTOM}:80", SLOW])
def test_services_sharing_the_address_are_chosen_by_host(lattice, host):
    response, _, echoed = request(lattice.port, "GET", "/pay", host=host)
    assert response.status == 200 and echoed["target"].startswith("blue-")
    assert dict(echoed["headers"])["host"] == host  # passed through unchanged


def test_an_unknown_host_is_404_with_a_clear_message(lattice):
    response, body, _ = request(lattice.port, "GET", "/", host="billing.example.com")
    assert response.status == 404 and response.getheader("content-type") == "text/plain; charset=utf-8"
    assert body == f"no service named billing.example.com is reachable from {VPC_ID}\n".encode()


@pytest.mark.parametrize("method, path, headers, expected", [
    ("GET", "/v2/orders", {}, "green"),
    ("GET", "/pay", {"X-Canary": "true"}, "green"),
    ("GET", "/pay", {"x-canary": "TRUE"}, "green"),  # header values match case-insensitively by default
    ("GET", "/pay", {"X-Canary": "false"}, "blue"),
    ("GET", "/V2/orders", {}, "blue"),  # paths match case-sensitively by default
    ("GET", "/refunds", {}, "blue"),  # the 404 rule is for POST only
    ("GET", "/v2/admin/users", {}, "green"),  # the 500 rule is for POST only
    ("POST", "/v2/admin/users", {}, 500),  # priority 5 wins over priority 10's /v2
    ("POST", "/refunds", {}, 404),
    ("POST", "/refunds?x=1", {}, 404),  # the query is not part of the path
])
def test_rules_by_priority_path_header_and_method(lattice, method, path, headers, expected):
    response, body, echoed = request(lattice.port, method, path, headers=headers, body=b"" if method == "POST" else None)
    if isinstance(expected, int):
        assert (response.status, body, response.getheader("content-length")) == (expected, b"", "0")
    else:
        assert response.status == 200 and echoed["target"].startswith(expected)


def test_an_http2_target_group_refuses_http1_requests(lattice):
    response, body, _ = request(lattice.port, "GET", "/h2")
    assert response.status == 505 and b"tg-h2" in body


# -- what the target sees ------------------------------------------------------------------------------

def test_the_headers_the_target_sees_are_exact(lattice):
    with connect(lattice) as sock:
        sock.sendall(head("GET", "/pay?x=1", "X-Custom: a", "X-Amzn-Lattice-Identity: Principal=forged",
                          "X-Forwarded-For: 192.0.2.1", "Connection: keep-alive, X-Hop", "X-Hop: gone",
                          "X-Amzn-Source-Vpc: vpc-forged", "Keep-Alive: timeout=5", "Te: trailers"))
        response, body = Stream(sock).response()
    echoed = json.loads(body)
    group_arn = lattice.plane.snapshot.target_groups["tg-blue"].arn
    assert echoed["headers"] == [
        ["host", PAYMENT],
        ["x-custom", "a"],
        ["x-forwarded-for", "192.0.2.1, 127.0.0.1"],
        ["x-forwarded-port", str(lattice.port)],
        ["x-forwarded-proto", "http"],
        ["x-amzn-source-vpc", VPC_ID],
        ["x-amzn-lattice-network", f"SourceVpcArn=arn:aws:ec2:us-east-1:111122223333:vpc/{VPC_ID}"],
        ["x-amzn-lattice-target", "ServiceArn=arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-payment; "
                                  "ServiceNetworkArn=arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-1; "
                                  f"TargetGroupArn={group_arn}"],
        ["x-amzn-requestid", response.getheader("x-amzn-requestid")],
    ]
    assert echoed["path"] == "/pay?x=1" and echoed["method"] == "GET"


def test_an_absolute_form_target_becomes_origin_form_and_its_authority_wins(lattice):
    answer = raw(lattice.port, head("GET", f"http://{PAYMENT}/abs?q=1", "Connection: close", host="other.example"))
    echoed = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert echoed["path"] == "/abs?q=1" and dict(echoed["headers"])["host"] == PAYMENT


def test_connections_to_targets_are_reused(lattice):
    peers = {tuple(request(lattice.port, "GET", "/v2/reuse")[2]["peer"]) for _ in range(5)}
    assert len(peers) == 1


# -- bodies --------------------------------------------------------------------------------------------

def test_a_chunked_request_body_reaches_the_target_whole(lattice):
    pieces = [b"hello ", b"chunked " * 1000, b"world"]
    with connect(lattice) as sock:
        sock.sendall(head("POST", "/upload", "Transfer-Encoding: chunked"))
        for piece in pieces:
            sock.sendall(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
        sock.sendall(b"0\r\nX-Trailer: t\r\n\r\n")
        response, body = Stream(sock).response()
    echoed, whole = json.loads(body), b"".join(pieces)
    assert response.status == 200
    assert (echoed["body_length"], echoed["body_sha256"]) == (len(whole), hashlib.sha256(whole).hexdigest())
    assert dict(echoed["headers"])["transfer-encoding"] == "chunked"


def test_a_response_without_length_is_chunked_to_the_client(lattice):
    response, body, _ = request(lattice.port, "GET", "/download?stream=300000")
    assert response.getheader("transfer-encoding") == "chunked" and response.getheader("content-length") is None
    assert body == stream_body(300000)


def test_large_bodies_stream_both_ways(lattice):
    upload = bytes(range(256)) * (24 * 4096)  # 24 MiB
    response, _, echoed = request(lattice.port, "PUT", "/big", body=upload)
    assert response.status == 200 and echoed["body_sha256"] == hashlib.sha256(upload).hexdigest()
    response, body, _ = request(lattice.port, "GET", f"/big?stream={24 << 20}")
    assert len(body) == 24 << 20 and body == stream_body(24 << 20)


def test_head_answers_have_no_body_and_keep_the_connection(lattice):
    with connect(lattice) as sock:
        stream = Stream(sock)
        sock.sendall(head("HEAD", "/pay"))
        response, body = stream.response("HEAD")
        assert response.status == 200 and int(response.getheader("content-length")) > 0 and body == b""
        sock.sendall(head("GET", "/pay"))
        assert stream.response()[0].status == 200


def test_expect_100_continue_is_answered_when_the_body_is_wanted(lattice):
    with connect(lattice) as sock:
        sock.sendall(head("POST", "/pay", "Content-Length: 5", "Expect: 100-continue"))
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        response, body = Stream(sock).response()
    echoed = json.loads(body)
    assert response.status == 200 and echoed["body_length"] == 5 and "expect" not in dict(echoed["headers"])


def test_an_answer_that_leaves_the_body_unread_closes_the_connection(lattice):
    with connect(lattice) as sock:
        sock.sendall(head("POST", "/refunds", "Content-Length: 1000000", "Expect: 100-continue"))
        answer = read_until_closed(sock, 10)
    assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n") and b"100 Continue" not in answer


# -- targets that fail -----------------------------------------------------------------------------------

def test_a_dead_target_is_502(lattice):
    response, body, _ = request(lattice.port, "GET", "/", host=DEAD)
    port = lattice.plane.snapshot.target_groups["tg-dead"].targets[0].port
    assert response.status == 502 and body == f"could not connect to target 127.0.0.1:{port}: connection refused\n".encode()


def test_a_slow_target_is_504_after_the_service_idle_timeout(lattice):
    started = time.monotonic()
    response, body, _ = request(lattice.port, "GET", "/?delay=3", host=SLOW)
    assert response.status == 504 and b"did not answer within 1 s" in body
    assert 0.9 < time.monotonic() - started < 2.5


class ScriptedTarget:
    """A target that speaks raw bytes: ``script(sock, n)`` serves its n-th connection."""

    def __init__(self, script):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[:2]
        self.connections = 0
        self.script = script
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(sock, self.connections), daemon=True).start()

    def _serve(self, sock: socket.socket, n: int) -> None:
        with sock:
            self.script(sock, n)

    def close(self) -> None:
        self.listener.close()


def read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    return data


def aim(lattice: Lattice, address, protocol: str = "HTTP") -> None:
    """Point the dead service's target group at ``address``."""
    snapshot = lattice.plane.snapshot
    aimed = group("tg-dead", [address], protocol=protocol)
    lattice.plane.snapshot = replace(snapshot, target_groups={**snapshot.target_groups, "tg-dead": aimed})


def get_dead(lattice: Lattice) -> http.client.HTTPResponse:
    """GET / of the dead service (aimed at a scripted target): the response, its body unread."""
    conn = http.client.HTTPConnection("127.0.0.1", lattice.port, timeout=10)
    conn.request("GET", "/", headers={"Host": DEAD})
    return conn.getresponse()


def test_a_target_failing_mid_body_cuts_the_response(lattice):
    def script(sock, n):
        read_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
    target = ScriptedTarget(script)
    aim(lattice, target.address)
    try:
        response = get_dead(lattice)
        assert response.status == 200
        with pytest.raises((http.client.IncompleteRead, ConnectionError)):
            response.read()
    finally:
        target.close()


def test_a_pooled_connection_the_target_dropped_is_replaced_once(lattice):
    def script(sock, n):  # answers one request per connection, then drops the next without a word
        read_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%d" % (len(str(n)), n))
        read_head(sock)
    target = ScriptedTarget(script)
    aim(lattice, target.address)
    try:
        answers = [request(lattice.port, "GET", "/", host=DEAD)[:2] for _ in range(3)]
    finally:
        target.close()
    assert [(r.status, body) for r, body in answers] == [(200, b"1"), (200, b"2"), (200, b"3")]


def test_a_pooled_connection_is_not_retried_once_the_body_was_taken(lattice):
    def script(sock, n):
        read_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        read_head(sock)
    target = ScriptedTarget(script)
    aim(lattice, target.address)
    try:
        first = request(lattice.port, "GET", "/", host=DEAD)[0]
        with connect(lattice) as sock:  # a streamed body: taken from the client as it is sent
            sock.sendall(head("POST", "/", "Transfer-Encoding: chunked", host=DEAD) + b"5\r\nhello\r\n0\r\n\r\n")
            second, body = Stream(sock).response()
    finally:
        target.close()
    assert first.status == 200 and second.status == 502 and b"closed the connection" in body


def test_a_response_head_reaches_the_client_before_the_body_does(lattice):
    release = threading.Event()

    def script(sock, n):  # the head and part of the body, then the rest only once the client saw the head
        read_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Long: poll\r\n\r\nfirst")
        release.wait(20)
        sock.sendall(b"-last")
    target = ScriptedTarget(script)
    aim(lattice, target.address)
    try:
        response = get_dead(lattice)  # returns at the head: the target still holds half the body
        assert response.status == 200 and response.getheader("x-long") == "poll" and not release.is_set()
        release.set()
        assert response.read() == b"first-last"
    finally:
        release.set()
        target.close()


def test_an_idle_pooled_connection_is_closed_after_the_pool_idle_time(lattice):
    closed = threading.Event()

    def script(sock, n):
        read_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        sock.settimeout(20)
        if sock.recv(1) == b"":  # the proxy closed the idle connection
            closed.set()
    target = ScriptedTarget(script)
    aim(lattice, target.address)
    lattice.plane.upstreams["HTTP1"].idle_seconds = 0.5
    try:
        assert request(lattice.port, "GET", "/", host=DEAD)[0].status == 200
        assert not closed.wait(0.2)  # pooled for a while...
        assert closed.wait(10)  # ... then closed, unused
    finally:
        target.close()


def test_https_targets_get_tls_unvalidated_with_the_host_as_server_name(lattice, tmp_path):
    cert, key = CertificateAuthority.create(tmp_path).issue(["target.internal"])  # a CA nobody trusts
    (tmp_path / "cert.pem").write_text(cert)
    (tmp_path / "key.pem").write_text(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names = []
    context.sni_callback = lambda tls, name, _: names.append(name)

    def script(sock, n):
        with context.wrap_socket(sock, server_side=True) as tls:
            while read_head(tls):
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    target = ScriptedTarget(script)
    aim(lattice, target.address, protocol="HTTPS")
    try:
        answers = [request(lattice.port, "GET", "/", host=f"{DEAD}:443")[:2] for _ in range(2)]
    finally:
        target.close()
    assert [(r.status, body) for r, body in answers] == [(200, b"ok")] * 2
    assert names == [DEAD] and target.connections == 1  # the TLS connection was reused


# -- pipelining, HTTP/1.0, timeouts ------------------------------------------------------------------------

def test_pipelined_requests_are_answered_in_order(lattice):
    with connect(lattice) as sock:
        sock.sendall(head("GET", "/first?delay=0.3") + head("POST", "/second", "Content-Length: 3") + b"abc"
                     + head("GET", "/v2/third") + head("POST", "/refunds", "Content-Length: 0")
                     + head("GET", "/fifth", "Connection: close"))
        stream = Stream(sock)
        answers = [stream.response() for _ in range(5)]
        assert sock.recv(1) == b""
    paths = [json.loads(body)["path"] if r.status == 200 else r.status for r, body in answers]
    assert paths == ["/first?delay=0.3", "/second", "/v2/third", 404, "/fifth"]


def test_http10_closes_unless_asked_to_keep_alive(lattice):
    answer = raw(lattice.port, head("GET", "/pay", version="1.0"))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"connection: close\r\n" in answer
    with connect(lattice) as sock:
        stream = Stream(sock)
        sock.sendall(head("GET", "/pay", "Connection: keep-alive", version="1.0"))
        response, _ = stream.response()
        assert response.status == 200 and response.getheader("connection") == "keep-alive"
        sock.sendall(head("GET", "/download?stream=5000", "Connection: keep-alive", version="1.0"))
        response, body = stream.response()  # no length known: delimited by closing, whatever was asked
        assert body == stream_body(5000) and response.getheader("connection") == "close"
        assert sock.recv(1) == b""


def test_http10_without_host_names_no_service(lattice):
    answer = raw(lattice.port, head("GET", "/", host="", version="1.0"))
    assert answer.startswith(b"HTTP/1.1 404 ") and answer.endswith(b"the request names no service (no Host header)\n")


def test_keep_alive_idle_timeout_is_the_last_services(lattice):
    with connect(lattice) as sock:
        sock.sendall(head("GET", "/pay", host=SLOW))  # the slow service's idle timeout is 1 s
        Stream(sock).response()
        started = time.monotonic()
        assert read_until_closed(sock, 5) == b""
    assert 0.8 < time.monotonic() - started < 3


def test_the_maximum_connection_duration_closes_at_a_request_boundary(echoes):
    lattice = serve(echoes, Limits(max_connection_duration=1.0), slow_idle=30)
    try:
        with connect(lattice) as busy, connect(lattice) as idle:
            idle.sendall(head("GET", "/pay"))
            assert Stream(idle).response()[0].status == 200
            busy.sendall(head("GET", "/pay?delay=1.5"))
            response, _ = Stream(busy).response()  # in progress when the duration ran out
            assert response.status == 200 and response.getheader("connection") == "close"
            assert read_until_closed(busy, 5) == b""
            assert read_until_closed(idle, 1) == b""  # closed at the deadline, while idle
    finally:
        lattice.close()


# -- backpressure ----------------------------------------------------------------------------------------

def settled(read, what: str, quiet: float = 0.5, timeout: float = 15.0) -> int:
    """Poll a growing count until it stops growing for ``quiet`` seconds; its value then."""
    deadline, last, since = time.monotonic() + timeout, read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise AssertionError(f"{what} kept growing")


TOTAL = 64 << 20
PIECE = 64 << 10


def send_large_chunked(sock, sent: list[int]) -> None:
    """A 200 with TOTAL bytes of chunked body, PIECE at a time; ``sent[0]`` counts what the socket took."""
    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(TOTAL // PIECE):
        sock.sendall(b"%x\r\n%s\r\n" % (PIECE, b"x" * PIECE))
        sent[0] += PIECE
    sock.sendall(b"0\r\n\r\n")


def test_a_client_that_stops_reading_stops_the_target(lattice):
    sent = [0]

    def script(sock, n):
        read_head(sock)
        send_large_chunked(sock, sent)
    target = ScriptedTarget(script)
    aim(lattice, target.address)
    try:
        with connect(lattice) as sock:
            sock.sendall(head("GET", "/", host=DEAD))
            stalled = settled(lambda: sent[0], "what the target could send")
            response, body = Stream(sock).response()
    finally:
        target.close()
    assert stalled < TOTAL // 2 and response.status == 200 and len(body) == TOTAL


def test_a_target_that_stops_reading_stops_the_client(lattice):
    reading = threading.Event()

    def script(sock, n):
        data = read_head(sock)
        reading.wait(30)
        remaining = TOTAL - len(data.split(b"\r\n\r\n", 1)[1])
        while remaining > 0:
            remaining -= len(sock.recv(1 << 20))
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    target = ScriptedTarget(script)
    aim(lattice, target.address)
    sent = [0]

    def upload(sock):
        sock.sendall(head("PUT", "/", f"Content-Length: {TOTAL}", host=DEAD))
        for _ in range(TOTAL // PIECE):
            sock.sendall(b"u" * PIECE)
            sent[0] += PIECE
    try:
        with connect(lattice) as sock:
            uploader = threading.Thread(target=upload, args=(sock,), daemon=True)
            uploader.start()
            stalled = settled(lambda: sent[0], "what the client could send")
            reading.set()
            uploader.join(30)
            response, _ = Stream(sock).response()
    finally:
        reading.set()
        target.close()
    assert stalled < TOTAL // 2 and sent[0] == TOTAL and response.status == 200


# -- upgrades --------------------------------------------------------------------------------------------

def test_a_websocket_upgrade_is_served_as_a_plain_request(lattice):
    with connect(lattice) as sock:
        stream = Stream(sock)
        sock.sendall(head("GET", "/ws", "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13")
                     + head("GET", "/after"))
        first, body = stream.response()
        second, after = stream.response()
    names = [n for n, _ in json.loads(body)["headers"]]
    assert first.status == 200 and "upgrade" not in names and "connection" not in names
    assert "sec-websocket-version" in names and json.loads(after)["path"] == "/after"


@pytest.mark.parametrize("framing, body", [("Content-Length: 5", b"hello"),
                                           ("Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n")])
def test_an_h2c_upgrade_with_a_body_keeps_its_body_and_the_next_request(lattice, framing, body):
    with connect(lattice) as sock:
        stream = Stream(sock)
        sock.sendall(head("POST", "/upgrade", "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c",
                          "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA", framing) + body + head("GET", "/next"))
        first, echoed = stream.response()
        second, after = stream.response()
    assert first.status == 200 and json.loads(echoed)["body_sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert json.loads(after)["path"] == "/next"


# -- over pooled connections: every outcome, and in-flight counts that come back to zero ----------------------

def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def none_in_flight(lattice: Lattice) -> bool:
    return not any(lattice.plane.balancer.in_flight.values())


def test_requests_over_pooled_connections_are_counted_in_flight_exactly(lattice):
    with connect(lattice) as sock:
        stream = Stream(sock)
        for method, path in [("GET", "/a"), ("GET", "/b"), ("HEAD", "/c"), ("GET", "/d"), ("POST", "/refunds"),
                             ("GET", "/v2/e"), ("GET", "/f"), ("GET", "/g")]:
            sock.sendall(head(method, path, *(["Content-Length: 0"] if method == "POST" else [])))
            response, body = stream.response(method)
            assert response.status == (404 if path == "/refunds" else 200)
            assert (body == b"") == (method != "GET")
    tracked = lattice.plane.balancer.tracked
    assert sum(tracked.values()) == 7 and tracked[("tg-green", "tg-green-t0")] == 1
    assert wait_for(lambda: none_in_flight(lattice))


def test_a_pooled_connection_whose_target_stays_silent_is_504(lattice):
    for _ in range(2):  # both targets of the slow service's group get a pooled connection
        assert request(lattice.port, "GET", "/", host=SLOW)[0].status == 200
    started = time.monotonic()
    response, body, _ = request(lattice.port, "GET", "/?delay=3", host=SLOW)
    assert response.status == 504 and b"did not answer within 1 s" in body
    assert 0.9 < time.monotonic() - started < 2.5
    assert wait_for(lambda: none_in_flight(lattice))


def test_small_bodies_over_pooled_connections_keep_their_framing(lattice):
    with connect(lattice) as sock:
        stream = Stream(sock)
        for _ in range(2):
            sock.sendall(head("GET", "/warm"))
            stream.response()
        sock.sendall(head("POST", "/small", "Content-Length: 5") + b"hello"
                     + head("POST", "/chunked", "Transfer-Encoding: chunked") + b"5\r\nhello\r\n0\r\n\r\n"
                     + head("PUT", "/zero", "Content-Length: 0"))
        answers = [json.loads(stream.response()[1]) for _ in range(3)]
    digest = hashlib.sha256(b"hello").hexdigest()
    assert [(a["path"], a["body_sha256"] if a["body_length"] else "") for a in answers] == [
        ("/small", digest), ("/chunked", digest), ("/zero", "")]
    assert dict(answers[0]["headers"])["content-length"] == "5"
    assert dict(answers[1]["headers"])["transfer-encoding"] == "chunked"
    assert dict(answers[2]["headers"])["content-length"] == "0"


def scripted_second_answer(second):
    """A target that answers the first request of each connection with ``ok`` and the second with ``second``."""
    def script(sock, n):
        read_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        if read_head(sock):
            second(sock)
    return ScriptedTarget(script)


def test_a_pooled_connection_answering_garbage_is_502(lattice):
    target = scripted_second_answer(lambda sock: sock.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"))
    aim(lattice, target.address)
    try:
        assert request(lattice.port, "GET", "/", host=DEAD)[:2][1] == b"ok"
        response, body, _ = request(lattice.port, "GET", "/", host=DEAD)
    finally:
        target.close()
    assert response.status == 502 and b"sent an invalid response" in body
    assert wait_for(lambda: none_in_flight(lattice))


def test_a_pooled_connection_failing_mid_body_cuts_the_response(lattice):
    target = scripted_second_answer(lambda sock: sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart"))
    aim(lattice, target.address)
    try:
        assert request(lattice.port, "GET", "/", host=DEAD)[1] == b"ok"
        response = get_dead(lattice)
        assert response.status == 200
        with pytest.raises((http.client.IncompleteRead, ConnectionError)):
            response.read()
    finally:
        target.close()
    assert wait_for(lambda: none_in_flight(lattice))


def test_a_client_gone_while_a_pooled_exchange_waits_releases_the_target(lattice):
    held, released = threading.Event(), threading.Event()

    def second(sock):
        held.set()
        sock.settimeout(20)
        try:
            released.set() if sock.recv(1) == b"" else None
        except ConnectionError:
            released.set()
    target = scripted_second_answer(second)
    aim(lattice, target.address)
    try:
        assert request(lattice.port, "GET", "/", host=DEAD)[1] == b"ok"
        with connect(lattice) as sock:
            sock.sendall(head("GET", "/hold", host=DEAD))
            assert held.wait(10) and not none_in_flight(lattice)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset, not a half-close
        assert released.wait(10)  # the target's connection is closed: it cannot be reused mid-exchange
        assert wait_for(lambda: none_in_flight(lattice))
    finally:
        target.close()


def test_a_client_that_stops_reading_stops_a_pooled_target(lattice):
    sent = [0]

    target = scripted_second_answer(lambda sock: send_large_chunked(sock, sent))
    aim(lattice, target.address)
    try:
        with connect(lattice) as sock:
            stream = Stream(sock)
            sock.sendall(head("GET", "/", host=DEAD))
            assert stream.response()[1] == b"ok"
            sock.sendall(head("GET", "/", host=DEAD))
            stalled = settled(lambda: sent[0], "what the target could send")
            response, body = stream.response()
    finally:
        target.close()
    assert stalled < TOTAL // 2 and response.status == 200 and len(body) == TOTAL
    assert wait_for(lambda: none_in_flight(lattice))
