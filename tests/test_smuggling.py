"""Malformed and smuggling requests: refused, the connection closed, nothing reaches the target.

Each case of ``CORPUS`` is sent on a raw socket to the proxy in front of one
echo process. It must be answered with its status and the connection closed;
the echo's request counter (read by a well-formed probe on a fresh
connection, before and after) proves that neither the bad request nor the
request smuggled behind it reached the target. The same corpus runs through
the sans-IO ``RequestReader``, which is also fuzzed. Last, a client
trickling its head byte by byte delays nobody and is cut off with 408.
"""

from __future__ import annotations

import select
import socket
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from http1_env import PAYMENT, Echo, Lattice, raw, read_until_closed, request, statuses, topology
from latticework.dataplane.http1 import BodyData, End, Head, Reject, RequestReader
from latticework.dataplane.plane import Limits

HOST = PAYMENT.encode()
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: " + HOST + b"\r\n\r\n"


def req(*lines: bytes, body: bytes = b"", start: bytes = b"POST / HTTP/1.1", host: bool = True) -> bytes:
    fields = ([b"Host: " + HOST] if host else []) + list(lines)
    return b"\r\n".join([start, *fields]) + b"\r\n\r\n" + body


def chunked(body: bytes, *lines: bytes) -> bytes:
    return req(b"Transfer-Encoding: chunked", *lines, body=body + SMUGGLED)


CORPUS = [
    # framing: the classic desynchronisations
    ("content-length and transfer-encoding", req(b"Content-Length: 4", b"Transfer-Encoding: chunked",
                                                 body=b"0\r\n\r\n" + SMUGGLED), 400),
    ("transfer-encoding and content-length", req(b"Transfer-Encoding: chunked", b"Content-Length: 60",
                                                 body=b"0\r\n\r\n" + SMUGGLED), 400),
    ("content-length twice, equal", req(b"Content-Length: 5", b"Content-Length: 5", body=b"hello" + SMUGGLED), 400),
    ("content-length twice, different", req(b"Content-Length: 0", b"Content-Length: 58", body=SMUGGLED), 400),
    ("content-length list", req(b"Content-Length: 5, 5", body=b"hello" + SMUGGLED), 400),
    ("content-length negative", req(b"Content-Length: -1", body=SMUGGLED), 400),
    ("content-length signed", req(b"Content-Length: +5", body=b"hello" + SMUGGLED), 400),
    ("content-length hex", req(b"Content-Length: 0x5", body=b"hello" + SMUGGLED), 400),
    ("content-length inner space", req(b"Content-Length: 1 0", body=b"helloworld" + SMUGGLED), 400),
    ("content-length empty", req(b"Content-Length: ", body=SMUGGLED), 400),
    ("content-length 2**63", req(b"Content-Length: 9223372036854775808", body=SMUGGLED), 400),
    ("content-length 2**64", req(b"Content-Length: 18446744073709551616", body=SMUGGLED), 400),
    ("transfer-encoding chunked, identity", req(b"Transfer-Encoding: chunked, identity", body=b"0\r\n\r\n" + SMUGGLED),
     400),
    ("transfer-encoding identity, chunked", req(b"Transfer-Encoding: identity, chunked", body=b"0\r\n\r\n" + SMUGGLED),
     400),
    ("transfer-encoding gzip, chunked", req(b"Transfer-Encoding: gzip, chunked", body=b"0\r\n\r\n" + SMUGGLED), 400),
    ("transfer-encoding xchunked", req(b"Transfer-Encoding: xchunked", body=b"0\r\n\r\n" + SMUGGLED), 400),
    ("transfer-encoding twice", req(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked",
                                    body=b"0\r\n\r\n" + SMUGGLED), 400),
    ("transfer-encoding on HTTP/1.0", req(b"Transfer-Encoding: chunked", body=b"0\r\n\r\n" + SMUGGLED,
                                          start=b"POST / HTTP/1.0"), 400),
    ("transfer-encoding space before colon", req(b"Transfer-Encoding : chunked", b"Content-Length: 5",
                                                 body=b"0\r\n\r\n" + SMUGGLED), 400),
    ("transfer-encoding vertical tab", req(b"Transfer-Encoding:\x0bchunked", body=b"0\r\n\r\n" + SMUGGLED), 400),
    ("transfer-encoding folded", req(b"Transfer-Encoding:", b" chunked", body=b"0\r\n\r\n" + SMUGGLED), 400),
    # chunks
    ("chunk size not hex", chunked(b"zz\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk size 0x", chunked(b"0x5\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk size negative", chunked(b"-5\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk size overflow", chunked(b"fffffffffffffffff\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk size trailing space", chunked(b"5 \r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk size bare LF", chunked(b"5\nhello\r\n0\r\n\r\n"), 400),
    ("chunk data without CRLF", chunked(b"5\r\nhelloXX0\r\n\r\n"), 400),
    ("chunk data with bare LF", chunked(b"5\r\nhello\n0\r\n\r\n"), 400),
    ("chunk extension bare LF", chunked(b"5;a\nb\r\nhello\r\n0\r\n\r\n"), 400),
    ("chunk extension bad character", chunked(b"5;a\x01b\r\nhello\r\n0\r\n\r\n"), 400),
    # header syntax
    ("obs-fold", req(b"X-A: b", b" c", b"Content-Length: 0"), 400),
    ("bare CR in a header", req(b"X-A: b\rContent-Length: 58", body=SMUGGLED), 400),
    ("bare LF line endings", b"POST / HTTP/1.1\nHost: " + HOST + b"\nContent-Length: 0\n\n" + SMUGGLED, 400),
    ("NUL in a header value", req(b"X-A: a\x00b", b"Content-Length: 0"), 400),
    ("NUL in the target", req(b"Content-Length: 0", start=b"GET /a\x00b HTTP/1.1"), 400),
    ("invalid header name", req(b"X(a): 1", b"Content-Length: 0"), 400),
    ("whitespace before a colon", req(b"Content-Length : 58", body=SMUGGLED), 400),
    ("whitespace before the first field", b"GET / HTTP/1.1\r\n Host: " + HOST + b"\r\n\r\n", 400),
    ("DEL in a header value", req(b"X-A: a\x7fb"), 400),
    # host and target
    ("no Host", req(b"Content-Length: 0", host=False), 400),
    ("two Hosts", req(b"Host: other.example", b"Content-Length: 0"), 400),
    ("Host with a space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("user info in an absolute target", req(start=b"GET http://user@" + HOST + b"/ HTTP/1.1"), 400),
    ("fragment in the target", req(start=b"GET /a#b HTTP/1.1"), 400),
    ("asterisk for GET", req(start=b"GET * HTTP/1.1"), 400),
    ("target without slash", req(start=b"GET a/b HTTP/1.1"), 400),
    # methods and versions
    ("unknown method", req(start=b"FROB / HTTP/1.1"), 400),
    ("lower-case method", req(start=b"get / HTTP/1.1"), 400),
    ("CONNECT", req(start=b"CONNECT " + HOST + b":443 HTTP/1.1") + SMUGGLED, 405),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SMUGGLED, 400),
    ("HTTP/2.0 as text", req(start=b"GET / HTTP/2.0"), 505),
    ("HTTP/0.9", b"GET /\r\n\r\n" + SMUGGLED, 505),
    ("HTTP/3.0", req(start=b"GET / HTTP/3.0"), 505),
    ("HTTP/1.2", req(start=b"GET / HTTP/1.2"), 505),
    ("expectation other than 100-continue", req(b"Expect: 200-ok", b"Content-Length: 0"), 417),
    # sizes
    ("request line too long", req(start=b"GET /" + b"a" * (16 * 1024) + b" HTTP/1.1"), 414),
    ("one header too long", req(b"X-Big: " + b"a" * (16 * 1024)), 431),
    ("too many headers", req(*[b"X-%d: 1" % i for i in range(201)]), 431),
    ("headers too large in all", req(*[b"X-%d: %s" % (i, b"a" * 1000) for i in range(70)]), 431),
]


@pytest.fixture(scope="module")
def solo():
    echo = Echo("solo")
    yield echo
    echo.stop()


def serve(solo: Echo, limits: Limits = Limits()) -> Lattice:
    lattice = Lattice(limits)
    lattice.plane.snapshot = topology(lattice.port, [solo.address], [solo.address])
    return lattice


@pytest.fixture(scope="module")
def lattice(solo):
    served = serve(solo)
    yield served
    served.close()


def served_count(lattice: Lattice) -> int:
    """How many requests the target has answered, this probe included (a fresh, well-formed request)."""
    response, _, echoed = request(lattice.port, "GET", "/probe")
    assert response.status == 200
    return echoed["count"]


@pytest.mark.parametrize("data, status", [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_refused_closed_and_never_forwarded(lattice, data, status):
    before = served_count(lattice)
    answer = raw(lattice.port, data)  # raises unless the proxy closes the connection
    assert statuses(answer) == [status]
    assert b"\r\nconnection: close\r\n" in answer.split(b"\r\n\r\n")[0] + b"\r\n"
    assert served_count(lattice) == before + 1  # the probe, and nothing else


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 25 and len({c[0] for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("data, status", [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_the_reader_refuses_the_corpus(data, status):
    with pytest.raises(Reject) as refused:
        RequestReader(Limits()).feed(data)
    assert refused.value.status == status


def test_a_valid_request_before_a_bad_one_is_answered_then_the_connection_closes(lattice):
    before = served_count(lattice)
    answer = raw(lattice.port, req(b"Content-Length: 2", body=b"ok", start=b"POST /fine HTTP/1.1")
                 + req(b"Content-Length: 4", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n" + SMUGGLED))
    assert statuses(answer) == [200, 400]
    assert served_count(lattice) == before + 2


def test_a_bad_request_does_not_disturb_another_connection(lattice):
    with socket.create_connection(("127.0.0.1", lattice.port), timeout=10) as keep:
        keep.sendall(req(b"Content-Length: 0", start=b"GET /one HTTP/1.1"))
        raw(lattice.port, b"\x00\x01garbage\r\n\r\n")
        keep.sendall(req(b"Content-Length: 0", b"Connection: close", start=b"GET /two HTTP/1.1"))
        assert statuses(read_until_closed(keep, 10)) == [200, 200]


def test_endless_chunk_extensions_are_cut_off(lattice):
    before = served_count(lattice)
    with socket.create_connection(("127.0.0.1", lattice.port), timeout=10) as sock:
        sock.sendall(req(b"Transfer-Encoding: chunked", body=b"5;"))
        sent, answered = 0, False
        while sent < 8 << 20 and not answered:  # a server that never gives up would take all 8 MiB
            try:
                sock.sendall(b"a" * 8192)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 8192
            answered = bool(select.select([sock], [], [], 0.01)[0])  # paced, so the count means something
        answer = read_until_closed(sock, 10)
    assert sent < 1 << 20 and statuses(answer) == [400] and b"chunk extensions" in answer
    assert served_count(lattice) == before + 1


def test_the_reader_cuts_endless_chunk_extensions_across_feeds():
    reader = RequestReader(Limits())
    reader.feed(req(b"Transfer-Encoding: chunked", body=b"5;"))
    with pytest.raises(Reject) as refused:
        for _ in range(100):
            reader.feed(b"a" * 1024)
    assert refused.value.status == 400


def test_the_reader_cuts_a_head_that_never_ends():
    reader = RequestReader(Limits(max_headers=4096))
    reader.feed(b"GET / HTTP/1.1\r\nX-Slow: ")
    with pytest.raises(Reject) as refused:
        for _ in range(100):
            reader.feed(b"a" * 512)
    assert refused.value.status == 431


# -- fuzzing the reader ---------------------------------------------------------------------------------

VALID = [req(b"Content-Length: 5", body=b"hello"), req(b"Transfer-Encoding: chunked", body=b"5\r\nhello\r\n0\r\n\r\n"),
         req(start=b"GET /a?b=c HTTP/1.1"), req(b"Connection: close", start=b"GET / HTTP/1.0")]


def feed_all(data: bytes, cuts: list[int]) -> list:
    reader, found = RequestReader(Limits()), []
    points = sorted({c % (len(data) + 1) for c in cuts})
    for start, end in zip([0, *points], [*points, len(data)]):
        try:
            found += reader.feed(data[start:end])
        except Reject:
            return found + ["rejected"]
    return found


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 200), st.binary(max_size=3)), max_size=4),
       st.lists(st.integers(0, 400), max_size=5))
def test_mutated_requests_are_parsed_or_refused_never_crash(base, mutations, cuts):
    data = bytearray(base)
    for position, replacement in mutations:
        position %= len(data)
        data[position:position + 1] = replacement
    feed_all(bytes(data), cuts)  # nothing but Reject may come out


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=5))
def test_arbitrary_bytes_are_parsed_or_refused_never_crash(data, cuts):
    feed_all(data, cuts)


@settings(max_examples=200, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
       path=st.from_regex(r"/[a-z0-9/._~-]{0,30}(\?[a-z0-9=&]{0,20})?", fullmatch=True),
       fields=st.lists(st.tuples(st.from_regex(r"x-[a-z0-9-]{1,12}", fullmatch=True),
                                 st.from_regex(r"[ -~]{0,20}", fullmatch=True).map(str.strip)), max_size=5),
       body=st.binary(max_size=200), sizes=st.lists(st.integers(1, 50), min_size=1, max_size=6),
       use_chunks=st.booleans(), cuts=st.lists(st.integers(0, 600), max_size=6))
def test_well_formed_requests_come_out_as_sent(method, path, fields, body, sizes, use_chunks, cuts):
    if use_chunks:
        framing, pieces, rest = b"Transfer-Encoding: chunked", [], body
        for size in sizes * (len(body) // sum(sizes) + 1):
            if rest:
                pieces.append(b"%x\r\n%s\r\n" % (len(rest[:size]), rest[:size]))
                rest = rest[size:]
        wire_body = b"".join(pieces) + b"0\r\n\r\n"
    else:
        framing, wire_body = b"Content-Length: %d" % len(body), body
    data = req(framing, *[f"{n}: {v}".encode() for n, v in fields], body=wire_body,
               start=f"{method} {path} HTTP/1.1".encode())
    found = feed_all(data, cuts)
    heads = [e for e in found if isinstance(e, Head)]
    assert len(heads) == 1 and isinstance(found[-1], End)
    request = heads[0].request
    assert (request.method, request.target, request.authority) == (method, path, PAYMENT)
    assert request.headers == [(n, v) for n, v in fields]
    assert b"".join(e.data for e in found if isinstance(e, BodyData)) == body


# -- slow clients ----------------------------------------------------------------------------------------

def trickle(port: int, data: bytes, pace: float, result: dict) -> None:
    """Send ``data`` one byte per ``pace`` seconds until the server answers; keep what it answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        result["started"] = time.monotonic()
        for byte in data:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            if select.select([sock], [], [], pace)[0]:  # the pace, cut short by an answer
                break
        result["answer"] = read_until_closed(sock, 10)
        result["closed"] = time.monotonic()


def test_a_trickling_client_delays_nobody_and_gets_408(solo):
    lattice = serve(solo, Limits(header_read_timeout=1.0))
    try:
        result: dict = {}
        trickler = threading.Thread(target=trickle, args=(lattice.port, req(b"X-Pad: " + b"p" * 200), 0.02, result))
        trickler.start()
        latencies = []
        while trickler.is_alive() and len(latencies) < 50:
            started = time.monotonic()
            response, _, _ = request(lattice.port, "GET", "/meanwhile")
            latencies.append(time.monotonic() - started)
            assert response.status == 200
        trickler.join(15)
    finally:
        lattice.close()
    assert len(latencies) >= 5 and max(latencies) < 0.5
    assert statuses(result["answer"]) == [408]
    assert 0.9 < result["closed"] - result["started"] < 2.5
