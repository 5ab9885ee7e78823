"""The proxy engine's pure parts, and the framing rules of the HTTP/1.1 front end and upstream.

No sockets: header rewriting (exactly, and as a property over any client
headers), the protocol-version matrix, routing refusals, how upstream
failures become answers, response and request heads, the response reader.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from http1_env import CUSTOM, DEAD, PAYMENT, SLOW, VPC_ID, FakeBalancer, topology
from latticework.dataplane import proxy
from latticework.dataplane.exchange import Connection, Request, UpstreamError, field_lines
from latticework.dataplane.http1 import error_response, response_head
from latticework.dataplane.plane import Plane
from latticework.dataplane.upstream_http1 import (
    InvalidResponse, ResponseReader, TargetData, TargetEnd, TargetHead, body_framing, request_head,
)
from latticework.snapshot.model import Target

PORT = 8080
SNAPSHOT = topology(PORT, [("127.0.0.1", 9001), ("127.0.0.1", 9002)], [("127.0.0.1", 9003)])
VPC = SNAPSHOT.vpcs[VPC_ID]
ROUTE = VPC.routes[PAYMENT]
BLUE = SNAPSHOT.target_groups["tg-blue"]
LATTICE_HEADERS = ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-source-vpc",
                   "x-amzn-lattice-network", "x-amzn-lattice-target", "x-amzn-requestid")


def connection(scheme: str = "http", sni: str | None = None, client: str = "10.0.1.5") -> Connection:
    return Connection(vpc=VPC, client=(client, 50123), local=("127.0.0.1", PORT), scheme=scheme, sni=sni)


def make_request(method: str = "GET", target: str = "/", authority: str | None = PAYMENT, headers=None,
                 version: str = "1.1") -> Request:
    return Request(method, target, authority, list(headers or []), version)


# -- headers toward targets --------------------------------------------------------------------------

def test_outbound_headers_are_exactly_the_clients_then_lattices():
    client = [("accept", "*/*"), ("x-amzn-lattice-identity", "Principal=forged"), ("x-forwarded-for", "192.0.2.1"),
              ("x-amzn-source-vpc", "vpc-forged"), ("user-agent", "curl/8"), ("x-forwarded-proto", "https"),
              ("x-forwarded-port", "1"), ("x-amzn-requestid", "forged"), ("x-amzn-lattice-target", "forged"),
              ("x-amzn-trace-id", "Root=1-abc")]
    assert proxy.outbound_headers(client, connection(), VPC, ROUTE, BLUE, "req-1") == [
        ("accept", "*/*"),
        ("user-agent", "curl/8"),
        ("x-amzn-trace-id", "Root=1-abc"),
        ("x-forwarded-for", "192.0.2.1, 10.0.1.5"),
        ("x-forwarded-port", "8080"),
        ("x-forwarded-proto", "http"),
        ("x-amzn-source-vpc", VPC_ID),
        ("x-amzn-lattice-network", f"SourceVpcArn=arn:aws:ec2:us-east-1:111122223333:vpc/{VPC_ID}"),
        ("x-amzn-lattice-target", "ServiceArn=arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-payment; "
                                  "ServiceNetworkArn=arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-1; "
                                  "TargetGroupArn=arn:aws:vpc-lattice:us-east-1:111122223333:targetgroup/tg-blue"),
        ("x-amzn-requestid", "req-1"),
    ]


def test_x_forwarded_for_appends_to_every_value_the_client_sent():
    client = [("x-forwarded-for", "192.0.2.1, 198.51.100.7"), ("x-forwarded-for", ""), ("x-forwarded-for", "203.0.113.9")]
    headers = dict(proxy.outbound_headers(client, connection(scheme="https"), VPC, ROUTE, BLUE, "r"))
    assert headers["x-forwarded-for"] == "192.0.2.1, 198.51.100.7, 203.0.113.9, 10.0.1.5"
    assert headers["x-forwarded-proto"] == "https"


def test_x_forwarded_for_without_one_from_the_client_is_the_client_address():
    headers = dict(proxy.outbound_headers([], connection(client="fd00::5"), VPC, ROUTE, BLUE, "r"))
    assert headers["x-forwarded-for"] == "fd00::5"


header_names = st.one_of(
    st.sampled_from(["accept", "x-amzn-lattice-identity", "x-amzn-lattice-x", "x-amzn-source-vpc",
                     "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-requestid", "cookie"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True))


@given(st.lists(st.tuples(header_names, st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                                                max_size=30)), max_size=20))
def test_no_client_header_impersonates_lattice_and_the_rest_pass_in_order(client):
    out = proxy.outbound_headers(client, connection(), VPC, ROUTE, BLUE, "req")
    names = [n for n, _ in out]
    assert all(names.count(n) == 1 for n in LATTICE_HEADERS)
    assert names[-len(LATTICE_HEADERS):] == list(LATTICE_HEADERS)
    assert not any(n.startswith("x-amzn-lattice-") for n in names[:-len(LATTICE_HEADERS)])
    kept = [(n, v) for n, v in client if n not in proxy.REPLACED and not n.startswith("x-amzn-lattice-")]
    assert out[:-len(LATTICE_HEADERS)] == kept


# -- the protocol-version matrix -------------------------------------------------------------------

@pytest.mark.parametrize("version, content_type, method, group_version, status", [
    ("1.1", None, "GET", "HTTP1", None),
    ("1.1", None, "POST", "HTTP2", 505),
    ("1.1", "application/grpc", "POST", "GRPC", 505),
    ("1.1", "application/grpc", "POST", "HTTP1", None),  # gRPC needs HTTP/2: over 1.1 it is just a POST
    ("2", None, "GET", "HTTP1", None),
    ("2", None, "GET", "HTTP2", None),
    ("2", None, "GET", "GRPC", 405),
    ("2", None, "POST", "GRPC", None),
    ("2", "application/grpc", "POST", "HTTP1", 415),
    ("2", "application/grpc+proto", "POST", "HTTP2", None),
    ("2", "application/grpc", "POST", "GRPC", None),
])
def test_protocol_version_matrix(version, content_type, method, group_version, status):
    headers = [("content-type", content_type)] if content_type else []
    group = replace(BLUE, protocol_version=group_version)
    refusal = proxy.version_refusal(make_request(method, headers=headers, version=version), group)
    assert (refusal.status if refusal else None) == status
    assert refusal is None or group.id in refusal.message


# -- routing -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("authority, service", [
    (PAYMENT, "svc-payment"), (PAYMENT.upper() + ":8080", "svc-payment"), (CUSTOM + ".", "svc-payment"),
    (SLOW, "svc-slow"), (DEAD, "svc-dead")])
def test_http_requests_are_routed_by_host(authority, service):
    routed = proxy.resolve(SNAPSHOT, connection(), make_request(authority=authority))
    assert routed.route.service.id == service and routed.listener.port == PORT


@pytest.mark.parametrize("authority, status, text", [
    ("unknown.example.com", 404, f"no service named unknown.example.com is reachable from {VPC_ID}"),
    (None, 404, "the request names no service (no Host header)"),
])
def test_unknown_names_are_404(authority, status, text):
    assert proxy.resolve(SNAPSHOT, connection(), make_request(authority=authority)) == proxy.Refusal(status, text)


def test_a_port_without_listener_is_404():
    conn = Connection(vpc=VPC, client=("10.0.1.5", 1), local=("127.0.0.1", 9), scheme="http")
    assert proxy.resolve(SNAPSHOT, conn, make_request()) == proxy.Refusal(404, "service payment has no listener on port 9")


def test_https_routes_by_sni_and_refuses_a_host_naming_another_service():
    assert proxy.resolve(SNAPSHOT, connection("https", sni=PAYMENT), make_request(authority=SLOW)).status == 421
    assert proxy.resolve(SNAPSHOT, connection("https", sni=PAYMENT),
                         make_request(authority="10.0.0.1")).route.service.id == "svc-payment"
    assert proxy.resolve(SNAPSHOT, connection("https", sni=SLOW), make_request(authority=SLOW.upper()))\
        .route.service.id == "svc-slow"


def test_a_vpc_gone_from_the_snapshot_reaches_nothing():
    conn = connection()
    conn.vpc = replace(VPC, vpc_id="vpc-gone")
    assert proxy.resolve(SNAPSHOT, conn, make_request()).status == 404


# -- answers: fixed responses, refusals, upstream failures ---------------------------------------------

class Recorder:
    """A Responder that records what it is told."""

    def __init__(self):
        self.started = False
        self.status = None
        self.headers = []
        self.body = b""
        self.ended = self.aborted = False

    async def start(self, status, headers):
        self.started, self.status, self.headers = True, status, headers

    async def data(self, chunk):
        self.body += chunk

    async def end(self, trailers=None):
        self.ended = True

    def abort(self):
        self.aborted = True


class FakeUpstream:
    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.seen = []

    async def forward(self, target, group, request, responder, timeout):
        self.seen.append((target, group, request, timeout))
        await self.behaviour(responder)


def handle(path: str, behaviour=None, method: str = "GET", snapshot=SNAPSHOT) -> tuple[Recorder, FakeUpstream, Plane]:
    async def answer(responder):
        await responder.start(200, [("content-length", "2")])
        await responder.data(b"ok")
        await responder.end()
    upstream = FakeUpstream(behaviour or answer)
    plane = Plane(snapshot=snapshot, balancer=FakeBalancer(), upstreams={"HTTP1": upstream, "HTTP2": upstream})
    recorder = Recorder()
    asyncio.run(proxy.handle(plane, connection(), make_request(method, path), recorder))
    return recorder, upstream, plane


def request_id(recorder: Recorder) -> str:
    return dict(recorder.headers)["x-amzn-requestid"]


def test_a_forwarded_request_carries_one_request_id_to_the_target_and_back():
    recorder, upstream, plane = handle("/pay")
    (target, group, outbound, timeout), = upstream.seen
    assert recorder.status == 200 and recorder.body == b"ok" and recorder.ended
    assert dict(outbound.headers)["x-amzn-requestid"] == request_id(recorder)
    assert group.id == "tg-blue" and timeout == 60.0 and outbound.authority == PAYMENT
    assert plane.balancer.tracked[("tg-blue", target.key)] == 1 and plane.balancer.in_flight[("tg-blue", target.key)] == 0


def test_the_targets_own_request_id_wins():
    async def answer(responder):
        await responder.start(200, [("x-amzn-requestid", "mine")])
        await responder.end()
    recorder, _, _ = handle("/pay", answer)
    assert [v for n, v in recorder.headers if n == "x-amzn-requestid"] == ["mine"]


@pytest.mark.parametrize("method, path, status", [("POST", "/refunds", 404), ("POST", "/v2/admin/x", 500)])
def test_fixed_responses_have_the_status_and_an_empty_body(method, path, status):
    recorder, upstream, _ = handle(path, method=method)
    assert (recorder.status, recorder.body, recorder.ended, upstream.seen) == (status, b"", True, [])
    assert dict(recorder.headers)["content-length"] == "0" and request_id(recorder)


@pytest.mark.parametrize("path, status, text", [
    ("/off", 503, "every target group of the matching rule has weight 0\n"),
    ("/empty", 503, "target group tg-empty has no target to take the request\n"),
    ("/h2", 505, "target group tg-h2 speaks HTTP2: HTTP/1.1 requests cannot reach it\n"),
])
def test_refusals_before_any_target(path, status, text):
    recorder, upstream, _ = handle(path)
    assert (recorder.status, recorder.body.decode(), upstream.seen) == (status, text, [])
    assert dict(recorder.headers)["content-type"] == "text/plain; charset=utf-8"


def test_a_target_without_address_is_502():
    nowhere = replace(BLUE, targets=(Target("k", "i-0123", 80, None),))
    snapshot = replace(SNAPSHOT, target_groups={**SNAPSHOT.target_groups, "tg-blue": nowhere})
    recorder, upstream, _ = handle("/pay", snapshot=snapshot)
    assert recorder.status == 502 and b"i-0123" in recorder.body and b"tg-blue" in recorder.body and not upstream.seen


@pytest.mark.parametrize("status", [502, 504])
def test_an_upstream_error_before_the_response_is_answered_with_its_status(status):
    async def broken(responder):
        raise UpstreamError(status, "target 127.0.0.1:9001 did not answer")
    recorder, _, plane = handle("/pay", broken)
    assert (recorder.status, recorder.body, recorder.aborted) == (status, b"target 127.0.0.1:9001 did not answer\n",
                                                                  False)
    assert request_id(recorder) and sum(plane.balancer.in_flight.values()) == 0


def test_an_upstream_error_after_the_response_started_aborts_it():
    async def broken(responder):
        await responder.start(200, [])
        raise UpstreamError(502, "reset")
    recorder, _, plane = handle("/pay", broken)
    assert recorder.status == 200 and recorder.aborted and recorder.body == b""
    assert sum(plane.balancer.in_flight.values()) == 0


def test_idle_timeout_of_the_service_a_request_reaches():
    plane = Plane(snapshot=SNAPSHOT)
    assert proxy.idle_timeout_for(plane, connection(), SLOW) == 1.0
    assert proxy.idle_timeout_for(plane, connection(), "nowhere.example") is None


# -- response heads toward clients -----------------------------------------------------------------

@pytest.mark.parametrize("status, headers, method, http10, keep, framing, lines", [
    (200, [("content-length", "5")], "GET", False, True, "length", ["content-length: 5"]),
    (200, [], "GET", False, True, "chunked", ["transfer-encoding: chunked"]),
    (200, [], "GET", True, True, "close", ["connection: close"]),
    (200, [("content-length", "5")], "GET", True, True, "length", ["content-length: 5", "connection: keep-alive"]),
    (200, [("content-length", "5")], "HEAD", False, True, "none", ["content-length: 5"]),
    (204, [("content-length", "5")], "GET", False, True, "none", []),
    (304, [], "GET", False, False, "none", ["connection: close"]),
    (200, [("content-length", "5"), ("content-length", "6")], "GET", False, True, "chunked",
     ["transfer-encoding: chunked"]),
])
def test_response_framing(status, headers, method, http10, keep, framing, lines):
    head = response_head(status, headers + [("x-a", "1"), ("connection", "x"), ("transfer-encoding", "gzip")],
                         method, http10, keep)
    text = head.data.decode()
    assert head.framing == framing and text.endswith("\r\n\r\n")
    assert text.split("\r\n")[2:-2] == lines and text.split("\r\n")[1] == "x-a: 1"


def test_error_responses_are_complete_and_close():
    assert error_response(431, "request header fields too large") == (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: 32\r\nconnection: close\r\n\r\nrequest header fields too large\n")


def test_header_values_that_would_break_framing_are_dropped():
    head = response_head(200, [("x-a", "1\r\nx-b: 2"), ("x-c", "3")], "GET", False, True).data
    assert b"x-b" not in head and b"x-c: 3" in head


# -- requests toward targets ------------------------------------------------------------------------

@pytest.mark.parametrize("method, length, first, framing", [
    ("GET", 0, b"", "none"), ("POST", 0, b"", "length"), ("PUT", 12, b"", "length"), ("POST", None, b"x", "chunked"),
    ("GET", None, b"", "none"), ("DELETE", None, b"x", "chunked"), ("PATCH", None, b"", "length")])
def test_body_framing_toward_targets(method, length, first, framing):
    assert body_framing(method, length, first) == framing


def test_request_head_writes_host_first_and_its_own_framing():
    request = make_request("POST", "/a?b=1", "svc.example:8080",
                           [("accept", "*/*"), ("content-length", "99"), ("connection", "close"), ("x-a", "1")])
    assert request_head(request, "svc.example:8080", "chunked", 0) == (
        b"POST /a?b=1 HTTP/1.1\r\nhost: svc.example:8080\r\naccept: */*\r\nx-a: 1\r\n"
        b"transfer-encoding: chunked\r\n\r\n")


def fields_of(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode("latin-1").split("\r\n")[2:-2]  # after the request line and host, before the blank line
    return [tuple(line.split(": ", 1)) for line in lines]  # type: ignore[misc]


@pytest.mark.parametrize("client", [
    [],
    [("accept", "*/*"), ("x-forwarded-for", "192.0.2.1"), ("x-amzn-lattice-identity", "forged"), ("x-a", "1")],
    [("x-forwarded-for", "192.0.2.1\r\nx-smuggled: 1"), ("x-a", "1")],
    [("x-amzn-requestid", "forged"), ("x-forwarded-for", ""), ("user-agent", "curl/8")],
])
def test_a_target_of_http1_gets_exactly_the_outbound_headers(client):
    """decide writes Lattice's fields for HTTP/1.1 targets once (cached per route): the head carries the same
    fields, in the same order, as outbound_headers; a field that would break the framing is still dropped."""
    plane = Plane(snapshot=SNAPSHOT, balancer=FakeBalancer())
    for _ in range(2):  # the second time from the cache
        request = make_request("GET", "/pay", headers=client)
        group, _, _ = proxy.decide(plane, connection(), request, "req-1")
        expected = proxy.outbound_headers(client, connection(), VPC, ROUTE, group, "req-1")
        assert request.headers == expected
        wanted = [(n, v) for n, v in expected if "\r" not in v and "\n" not in v]
        assert fields_of(request_head(request, PAYMENT, "none", 0)) == wanted


# -- responses from targets ------------------------------------------------------------------------

def events(data: bytes, head_only: bool = False, eof: bool = False):
    reader = ResponseReader(head_only, 65536)
    found = reader.feed(data) + (reader.eof() if eof else [])
    return found, reader


def test_informational_answers_are_dropped():
    found, reader = events(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                           b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Gone\r\nX-Gone: 1\r\n"
                           b"X-Kept: 2\r\n\r\nhi")
    assert found == [TargetHead(200, [("content-length", "2"), ("x-kept", "2")], True), TargetData(b"hi"),
                     TargetEnd([])]
    assert reader.complete and reader.reusable


def test_a_body_delimited_by_close_ends_at_eof_and_is_not_reused():
    found, reader = events(b"HTTP/1.1 200 OK\r\n\r\nhello", eof=True)
    assert found == [TargetHead(200, [], False), TargetData(b"hello"), TargetEnd([])]


def test_chunked_trailers_are_handed_on():
    found, _ = events(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nGrpc-Status: 0\r\n\r\n")
    assert found[-1] == TargetEnd([("grpc-status", "0")]) and found[0].headers == []


def test_head_answers_end_with_the_head_and_are_not_reused():
    found, reader = events(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", head_only=True)
    assert found == [TargetHead(200, [("content-length", "10")], False), TargetEnd([])] and reader.complete


def test_http10_targets_keep_alive_only_when_they_say_so():
    assert events(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")[0][0].keep_alive is False
    assert events(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")[0][0].keep_alive


@pytest.mark.parametrize("data", [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
                                  b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/1.1 2000 OK\r\n\r\n",
                                  b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"])
def test_what_is_not_an_http_response_is_refused(data):
    with pytest.raises(InvalidResponse):
        events(data)


def test_a_cut_response_and_stray_bytes():
    with pytest.raises(InvalidResponse):
        events(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", eof=True)
    _, reader = events(b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")
    assert reader.complete and not reader.reusable


def test_a_huge_response_head_is_refused():
    reader = ResponseReader(False, 1000)
    reader.feed(b"HTTP/1.1 200 OK\r\nX-Big: ")
    with pytest.raises(InvalidResponse):
        reader.feed(b"a" * 2000)


def test_a_huge_response_field_in_one_read_is_refused():
    with pytest.raises(InvalidResponse, match="too large"):
        ResponseReader(False, 1000).feed(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")


def test_a_switching_protocols_answer_says_why_it_is_refused():
    with pytest.raises(InvalidResponse, match="101 Switching Protocols"):
        events(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n")


# -- field lines, shared by the front end's responses and the upstream's requests --------------------

field_text = st.text(alphabet="ab-:; \t\r\n\0é", max_size=6)


@given(st.lists(st.tuples(st.sampled_from(["x-a", "x-b", "connection", "x-\r\nbad"]), field_text), max_size=6))
def test_field_lines_keep_exactly_the_fields_that_cannot_break_the_framing(headers):
    expected = "".join(f"{n}: {v}\r\n" for n, v in headers
                       if n != "connection" and not any(c in n + v for c in "\r\n\0"))
    assert field_lines(headers, frozenset({"connection"})) == expected


def test_a_field_with_cr_lf_or_nul_never_reaches_the_wire():
    head = response_head(200, [("x-ok", "1"), ("x-split", "a\r\nset-cookie: evil"), ("x-nul", "a\0b")],
                         "GET", False, True).data
    assert b"x-ok: 1\r\n" in head and b"evil" not in head and b"x-nul" not in head
    sent = request_head(make_request(headers=[("x-in", "v\nx-smuggled: 1"), ("x-ok", "2")]), PAYMENT, "none", 0)
    assert b"smuggled" not in sent and b"x-ok: 2\r\n" in sent
