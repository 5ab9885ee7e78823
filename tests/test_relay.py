"""The TCP relay over real sockets on 127.0.0.1, on asyncio's loop and uvloop, splicing and copying;
the PROXY protocol v2 header against the specification's byte layout."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import socket
import struct

import pytest
import uvloop

from latticework.dataplane import relay as relay_module
from latticework.dataplane.relay import (
    BUFFER, End, ProxyHeaderError, Relay, aws_vpce_tlv, parse_proxy_v2, proxy_v2_header, start,
)

LOOPS = {"asyncio": asyncio.run, "uvloop": uvloop.run}
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)


@pytest.fixture(params=["splice", "copy"])
def splice(request) -> bool:
    if request.param == "splice" and not relay_module.SPLICE:
        pytest.skip("no os.splice here")
    return request.param == "splice"


@pytest.fixture(params=list(LOOPS))
def run(request):
    return LOOPS[request.param]


class Ends:
    """A client, a relay and the target's accepted connection, all on loopback."""

    def __init__(self) -> None:
        self.listener = _listener()
        self.front = _listener()
        self.client: socket.socket
        self.target: socket.socket
        self.relay: Relay

    @classmethod
    async def open(cls, splice: bool, **options) -> Ends:
        ends = cls()
        loop = asyncio.get_running_loop()
        ends.client = socket.create_connection(ends.front.getsockname())
        ends.client.setblocking(False)
        accepted, _ = await loop.sock_accept(ends.front)
        ends.relay = start(accepted, ends.listener.getsockname(), splice=splice, **options)
        ends.target, _ = await loop.sock_accept(ends.listener)
        ends.target.setblocking(False)
        assert await asyncio.wait_for(ends.relay.connected, 10)
        return ends

    def close(self) -> None:
        for sock in (self.client, self.target, self.listener, self.front):
            sock.close()


def _listener(backlog: int = 128) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


async def _read_all(sock: socket.socket) -> bytes:
    loop, chunks = asyncio.get_running_loop(), []
    while chunk := await loop.sock_recv(sock, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_exactly(sock: socket.socket, n: int) -> bytes:
    loop, data = asyncio.get_running_loop(), b""
    while len(data) < n:
        chunk = await loop.sock_recv(sock, n - len(data))
        assert chunk, f"end of stream after {len(data)} of {n} bytes"
        data += chunk
    return data


async def _send_and_shut(sock: socket.socket, data: bytes) -> None:
    await asyncio.get_running_loop().sock_sendall(sock, data)
    sock.shutdown(socket.SHUT_WR)


async def _reset_seen(sock: socket.socket) -> bool:
    """True when reading ``sock`` ends in a reset (rather than an orderly end of stream)."""
    try:
        await asyncio.wait_for(_read_all(sock), 10)
    except ConnectionResetError:
        return True
    return False


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# -- data ---------------------------------------------------------------------------------------------

def test_bulk_both_ways_at_once_arrives_whole(run, splice):
    up, down = os.urandom(6 << 20), os.urandom(5 << 20)

    async def scenario():
        ends = await Ends.open(splice)
        got = await asyncio.gather(_read_all(ends.target), _read_all(ends.client),
                                   _send_and_shut(ends.client, up), _send_and_shut(ends.target, down))
        reason = await asyncio.wait_for(ends.relay.wait(), 10)
        ends.close()
        return got[0], got[1], reason, ends.relay

    at_target, at_client, reason, relay = run(scenario())
    assert hashlib.sha256(at_target).digest() == hashlib.sha256(up).digest()
    assert hashlib.sha256(at_client).digest() == hashlib.sha256(down).digest()
    assert reason is End.COMPLETE
    assert (relay.client_to_target, relay.target_to_client) == (len(up), len(down))
    assert relay.splice is splice


def test_the_pumps_splice_through_a_pipe_or_copy_through_one_buffer(run, splice):
    async def scenario():
        ends = await Ends.open(splice)
        pumps = ends.relay._pumps
        assert pumps is not None
        if splice:
            sizes = [fcntl.fcntl(p.pipe[0], F_GETPIPE_SZ) for p in pumps if p.pipe]
            assert sizes == [BUFFER, BUFFER] and all(p.buffer is None for p in pumps)
        else:
            assert all(p.pipe is None and len(p.buffer) == BUFFER for p in pumps if p.buffer is not None)
        ends.relay.close()
        ends.close()

    run(scenario())


def test_client_half_close_reaches_the_target_and_the_answer_still_comes_back(run, splice):
    async def scenario():
        ends = await Ends.open(splice)
        loop = asyncio.get_running_loop()
        await _send_and_shut(ends.client, b"question")
        assert await asyncio.wait_for(_read_all(ends.target), 10) == b"question"  # EOF came through
        await loop.sock_sendall(ends.target, b"answer after the client's FIN")
        assert await _read_exactly(ends.client, 29) == b"answer after the client's FIN"
        assert ends.relay.reason is None
        ends.target.shutdown(socket.SHUT_WR)
        assert await asyncio.wait_for(_read_all(ends.client), 10) == b""
        reason = await asyncio.wait_for(ends.relay.wait(), 10)
        ends.close()
        return reason

    assert run(scenario()) is End.COMPLETE


def test_target_half_close_reaches_the_client_and_the_client_may_still_send(run, splice):
    async def scenario():
        ends = await Ends.open(splice)
        loop = asyncio.get_running_loop()
        await _send_and_shut(ends.target, b"banner")
        assert await asyncio.wait_for(_read_all(ends.client), 10) == b"banner"
        await loop.sock_sendall(ends.client, b"late words")
        assert await _read_exactly(ends.target, 10) == b"late words"
        assert ends.relay.reason is None
        ends.client.shutdown(socket.SHUT_WR)
        assert await asyncio.wait_for(_read_all(ends.target), 10) == b""
        reason = await asyncio.wait_for(ends.relay.wait(), 10)
        ends.close()
        return reason

    assert run(scenario()) is End.COMPLETE


@pytest.mark.parametrize("who", ["client", "target"])
def test_a_reset_is_passed_on_as_a_reset(run, splice, who):
    async def scenario():
        ends = await Ends.open(splice)
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(ends.client, b"hello")
        assert await _read_exactly(ends.target, 5) == b"hello"
        resetting, other = (ends.client, ends.target) if who == "client" else (ends.target, ends.client)
        _reset(resetting)
        seen = await _reset_seen(other)
        reason = await asyncio.wait_for(ends.relay.wait(), 10)
        other.close()
        ends.listener.close()
        ends.front.close()
        return seen, reason, ends.relay.error

    seen, reason, error = run(scenario())
    assert seen
    assert reason is (End.CLIENT_RESET if who == "client" else End.TARGET_RESET)
    assert error


def test_idle_relays_are_reset_after_the_idle_timeout_and_traffic_keeps_them_open(run, splice):
    async def scenario():
        ends = await Ends.open(splice, idle_timeout=0.4)
        loop = asyncio.get_running_loop()
        for _ in range(4):  # bytes every 0.2 s keep a 0.4 s timeout from firing for 0.8 s
            await loop.sock_sendall(ends.client, b"x")
            assert await _read_exactly(ends.target, 1) == b"x"
            await asyncio.sleep(0.2)  # pacing the traffic, not waiting for anything
        assert ends.relay.reason is None
        last = ends.relay.active
        reason = await asyncio.wait_for(ends.relay.wait(), 10)
        quiet = loop.time() - last
        seen = await _reset_seen(ends.client), await _reset_seen(ends.target)
        ends.close()
        return reason, quiet, seen

    reason, quiet, seen = run(scenario())
    assert reason is End.IDLE_TIMEOUT
    assert 0.4 <= quiet < 3  # at the idle deadline, not at some later one (the connect timeout's 10 s)
    assert seen == (True, True)


# -- connecting ----------------------------------------------------------------------------------------

def _closed_port() -> tuple[str, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()


@contextlib.contextmanager
def _unanswering_target():
    """A target whose accept queue is full: the kernel drops further SYNs, so connecting hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(8):  # listen(0) queues one or two; one more connection stays in SYN_SENT
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(listener.getsockname())
            fillers.append(sock)
        yield listener.getsockname()
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


async def _relay_to(address, splice: bool, **options) -> tuple[Relay, socket.socket, socket.socket]:
    front = _listener()
    client = socket.create_connection(front.getsockname())
    client.setblocking(False)
    accepted, _ = await asyncio.get_running_loop().sock_accept(front)
    return start(accepted, address, splice=splice, **options), client, front


def test_a_refused_connection_is_reported_and_the_client_reset(run, splice):
    async def scenario():
        relay, client, front = await _relay_to(_closed_port(), splice)
        reason = await asyncio.wait_for(relay.wait(), 10)
        seen = await _reset_seen(client)
        client.close()
        front.close()
        return reason, relay.error, seen

    reason, error, seen = run(scenario())
    assert reason is End.CONNECT_REFUSED
    assert "refused" in error.lower()
    assert seen


def test_a_connection_that_gets_no_answer_times_out(run, splice):
    async def scenario():
        with _unanswering_target() as address:
            relay, client, front = await _relay_to(address, splice, connect_timeout=0.3)
            started = asyncio.get_running_loop().time()
            reason = await asyncio.wait_for(relay.wait(), 10)
            took = asyncio.get_running_loop().time() - started
            seen = await _reset_seen(client)
            client.close()
            front.close()
        return reason, took, relay.error, seen

    reason, took, error, seen = run(scenario())
    assert reason is End.CONNECT_TIMEOUT
    assert 0.25 <= took < 5
    assert "0.3 s" in error
    assert seen


def test_a_target_that_is_not_an_address_fails_to_connect(run):
    async def scenario():
        relay, client, front = await _relay_to(("not-an-address", 80), True)
        reason = await asyncio.wait_for(relay.wait(), 10)
        client.close()
        front.close()
        return reason

    assert run(scenario()) is End.CONNECT_FAILED


# -- many, cut, bounded --------------------------------------------------------------------------------

def test_many_relays_at_once(run, splice):
    count, size = 150, 48 * 1024

    async def one(listener, front) -> tuple[bool, End]:
        loop = asyncio.get_running_loop()
        client = socket.socket()
        client.setblocking(False)
        await loop.sock_connect(client, front.getsockname())
        accepted, _ = await loop.sock_accept(front)
        relay = start(accepted, listener.getsockname(), splice=splice)
        target, _ = await loop.sock_accept(listener)
        payload = os.urandom(size)
        # The target echoes what it gets; the client sends, shuts, reads everything back.
        async def echo():
            await _send_and_shut(target, await _read_all(target))
        _, back, _ = await asyncio.gather(_send_and_shut(client, payload), _read_all(client), echo())
        reason = await asyncio.wait_for(relay.wait(), 20)
        client.close()
        target.close()
        return back == payload, reason

    async def scenario():
        # The accepts of concurrent connections may pair up out of order; one listener pair per relay avoids that.
        pairs = [(_listener(), _listener()) for _ in range(count)]
        results = await asyncio.gather(*(one(listener, front) for listener, front in pairs))
        for listener, front in pairs:
            listener.close()
            front.close()
        return results

    results = run(scenario())
    assert results == [(True, End.COMPLETE)] * count


@pytest.mark.parametrize("reset", [True, False])
def test_a_live_relay_can_be_cut_from_outside(run, splice, reset):
    async def scenario():
        ends = await Ends.open(splice)
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(ends.client, b"ping")
        assert await _read_exactly(ends.target, 4) == b"ping"
        ends.relay.close(reset=reset)
        ends.relay.close(reset=reset)  # a second cut changes nothing
        seen = await _reset_seen(ends.client), await _reset_seen(ends.target)
        reason = await ends.relay.wait()
        ends.close()
        return seen, reason

    seen, reason = run(scenario())
    assert seen == (reset, reset)
    assert reason is End.CUT


def test_a_relay_can_be_cut_while_it_connects(run, splice):
    async def scenario():
        with _unanswering_target() as address:
            relay, client, front = await _relay_to(address, splice, connect_timeout=30)
            await asyncio.sleep(0)
            relay.close(reset=True)
            reason = await asyncio.wait_for(relay.wait(), 5)
            seen = await _reset_seen(client)
            client.close()
            front.close()
        return reason, seen

    assert run(scenario()) == (End.CUT, True)


def test_a_target_that_does_not_read_holds_the_client_back_and_the_relay_holds_one_buffer(run, splice):
    total = 64 << 20

    async def scenario():
        ends = await Ends.open(splice)
        loop = asyncio.get_running_loop()
        payload, sent = os.urandom(1 << 20), 0
        pump = ends.relay._pumps[0]
        deadline = loop.time() + 20
        # Send without blocking until the kernel takes no more and the relay waits for the target to read.
        while loop.time() < deadline:
            try:
                sent += ends.client.send(payload[: min(len(payload), total - sent)])
                continue
            except BlockingIOError:
                pass
            if pump.waiting == "write":
                break
            await asyncio.sleep(0.01)  # let the relay's callbacks run
        stalled = pump.waiting == "write", sent, ends.relay.held, ends.relay.client_to_target
        # Now the target reads everything and the rest goes through.
        async def send_rest():
            nonlocal sent
            while sent < total:
                chunk = payload[: min(len(payload), total - sent)]
                await loop.sock_sendall(ends.client, chunk)
                sent += len(chunk)
            ends.client.shutdown(socket.SHUT_WR)
        got, _ = await asyncio.gather(_read_all(ends.target), send_rest())
        ends.relay.close()
        ends.close()
        return stalled, len(got)

    (waiting, sent, held, delivered), received = run(scenario())
    assert waiting
    assert sent < total  # the client was held back long before sending everything
    assert held <= BUFFER  # one buffer-full in the relay, whatever the client wanted to send
    assert sent - delivered - held < 32 << 20  # the rest sits in the kernel's socket buffers, which are bounded
    assert received == total


def test_the_preface_goes_first_and_is_not_counted(run, splice):
    header = proxy_v2_header(("10.0.0.1", 40000), ("10.0.0.2", 443), [aws_vpce_tlv("vpce-0123456789abcdef0")])

    async def scenario():
        ends = await Ends.open(splice, preface=header)
        await _send_and_shut(ends.client, b"payload")
        got = await asyncio.wait_for(_read_all(ends.target), 10)
        relay = ends.relay
        relay.close()
        ends.close()
        return got, relay.client_to_target

    got, counted = run(scenario())
    parsed = parse_proxy_v2(got)
    assert parsed is not None and parsed.vpce_id == "vpce-0123456789abcdef0"
    assert got[parsed.length:] == b"payload"
    assert counted == len(b"payload")


# -- PROXY protocol v2 ---------------------------------------------------------------------------------

SIGNATURE = bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A])  # spec §2.2


def test_proxy_v2_over_ipv4_has_the_specified_layout():
    header = proxy_v2_header(("192.0.2.10", 51234), ("198.51.100.7", 80))
    assert header[:12] == SIGNATURE
    assert header[12] == 0x21  # version 2 (high nibble), command PROXY (low nibble)
    assert header[13] == 0x11  # AF_INET (high nibble), STREAM (low nibble)
    assert struct.unpack("!H", header[14:16])[0] == 12 == len(header) - 16
    assert header[16:20] == bytes([192, 0, 2, 10]) and header[20:24] == bytes([198, 51, 100, 7])
    assert struct.unpack("!HH", header[24:28]) == (51234, 80)


def test_proxy_v2_over_ipv6_has_the_specified_layout():
    header = proxy_v2_header(("2001:db8::1", 1), ("2001:db8::2", 65535))
    assert header[12:14] == bytes([0x21, 0x21])  # PROXY; AF_INET6 + STREAM
    assert struct.unpack("!H", header[14:16])[0] == 36 == len(header) - 16
    assert header[16:32] == socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    assert header[32:48] == socket.inet_pton(socket.AF_INET6, "2001:db8::2")
    assert struct.unpack("!HH", header[48:52]) == (1, 65535)


def test_aws_endpoint_tlv_is_type_0xea_subtype_0x01_and_counts_in_the_length():
    header = proxy_v2_header(("10.0.0.1", 1000), ("10.0.0.2", 2000), [aws_vpce_tlv("vpce-08d2bf15fac5001c9")])
    tlv = header[28:]
    assert tlv[0] == 0xEA
    assert struct.unpack("!H", tlv[1:3])[0] == 1 + len("vpce-08d2bf15fac5001c9") == len(tlv) - 3
    assert tlv[3] == 0x01 and tlv[4:] == b"vpce-08d2bf15fac5001c9"
    assert struct.unpack("!H", header[14:16])[0] == 12 + len(tlv)


def test_proxy_v2_round_trips_through_the_parser():
    tlvs = [aws_vpce_tlv("vpce-0123456789abcdef0"), (0x04, b"")]  # PP2_TYPE_NOOP, empty
    header = proxy_v2_header(("2001:db8::5", 4242), ("2001:db8::6", 8443), tlvs)
    parsed = parse_proxy_v2(header + b"GET / HTTP/1.1\r\n")
    assert parsed is not None
    assert (parsed.local, parsed.source, parsed.destination) == (False, ("2001:db8::5", 4242), ("2001:db8::6", 8443))
    assert parsed.tlvs == tlvs and parsed.length == len(header) and parsed.vpce_id == "vpce-0123456789abcdef0"


def test_proxy_v2_parser_waits_for_more_and_refuses_what_is_not_a_header():
    header = proxy_v2_header(("10.0.0.1", 1), ("10.0.0.2", 2))
    for cut in (0, 5, 12, 15, len(header) - 1):
        assert parse_proxy_v2(header[:cut]) is None
    with pytest.raises(ProxyHeaderError):
        parse_proxy_v2(b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n")  # version 1, the text form
    with pytest.raises(ProxyHeaderError):
        parse_proxy_v2(header[:12] + bytes([0x31]) + header[13:])  # version 3
    with pytest.raises(ProxyHeaderError):
        parse_proxy_v2(header[:12] + bytes([0x22]) + header[13:])  # command 2
    with pytest.raises(ProxyHeaderError):
        parse_proxy_v2(header[:14] + struct.pack("!H", 4) + header[16:20])  # shorter than IPv4's addresses
    with pytest.raises(ProxyHeaderError):
        parse_proxy_v2(header[:14] + struct.pack("!H", 14) + header[16:] + b"\xea\x00")  # truncated TLV
    with pytest.raises(ValueError):
        proxy_v2_header(("10.0.0.1", 1), ("2001:db8::1", 2))


def test_proxy_v2_local_command_carries_no_addresses():
    parsed = parse_proxy_v2(SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0))
    assert parsed is not None and parsed.local and parsed.source is None and parsed.length == 16
