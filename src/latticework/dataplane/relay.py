"""The TCP relay: one accepted client connection joined to one target, bytes passed unchanged.

Network load balancers, interface endpoints, resource gateways and TLS
passthrough listeners all end in this: a client connection the data plane
accepted, a target address it chose, and bytes moved both ways until both
sides are done. ``start`` opens the target connection and relays; the
``Relay`` it returns is the handle (counters, end reason, ``close``).

Model
-----
Two directions, each a ``_Pump``: read from one socket, write to the other,
never more than one buffer-full in hand. Everything runs from the event
loop's readiness callbacks (``add_reader``/``add_writer`` on the raw file
descriptors), with no task and no future per chunk: a pump reads until the
socket has nothing more (``EAGAIN``), writes what it read, and when the
destination's send buffer is full it stops reading and waits until the
destination is writable. The kernel's socket buffers and the one buffer of
each pump are all a connection holds: a client that sends faster than the
target reads is held back by TCP's own flow control (its sends block), and a
target that sends faster than the client reads likewise. The loop is
uvloop's in the data-plane workers and asyncio's elsewhere; both give raw
descriptors readiness callbacks, so the same code runs on both.

- **Zero copy on Linux**: each direction owns a pipe (``os.pipe2``,
  non-blocking) and moves bytes with ``os.splice`` socket -> pipe -> socket:
  the bytes stay in kernel pages, Python only moves counts. The pipe is the
  buffer (its capacity, 64 KiB by default, bounds what the pump holds). A
  pump reads only when its pipe is empty, so ``EAGAIN`` from the reading
  splice always means the socket has nothing, never that the pipe is full.
  Where ``os.splice`` is missing (not Linux), or the first splice of a
  direction answers ``EINVAL`` (a socket type splice refuses), the pump copies:
  ``recv_into`` one fixed ``bytearray`` per direction (the same 64 KiB) and
  ``send`` from a ``memoryview`` of it. ``splice=False`` forces the copy
  (tests run both paths). A pump whose direction ended with its pipe empty
  leaves the pipe to the next relay (``PIPE_POOL`` of them are kept): a
  short connection then costs no ``pipe2`` and no ``close`` of pipes.
- **Wake-ups**: a read that returns less than asked for has very likely
  emptied the socket, so after writing it out the pump waits for
  readability instead of trying a read that would fail with ``EAGAIN``.
  Reading and writing stay in one callback as long as both sides keep up;
  the pump's watch changes (``add_reader`` to ``add_writer``) only when the
  destination is full.
- **Half-close**: end of stream from one side (a read of 0 bytes) becomes
  ``shutdown(SHUT_WR)`` toward the other once the pump's buffer is written
  out; the other direction keeps going. The relay ends ``COMPLETE`` when both
  directions have ended this way, and closes both sockets.
- **Resets**: a side that resets (``ECONNRESET`` reading it, ``EPIPE`` or
  ``ECONNRESET`` writing to it) ends the relay: the other side is closed with
  a reset of its own (``SO_LINGER`` 0, so the close sends RST, not FIN), as
  an NLB does. The end reason names the side that reset.
- **Idle timeout**: no byte moved either way for ``idle_timeout`` seconds
  ends the relay (``IDLE_TIMEOUT``) and resets both sides, as an NLB does
  after 350 s of idleness (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html#connection-idle-timeout),
  the default callers pass. One timer per relay for its whole life, re-armed
  from its own callback: first due at the connect deadline, then at the idle
  deadline; moving bytes only stamps the time.
- **Connect**: a non-blocking ``connect`` watched for writability, until
  ``connect_timeout`` (the relay's one timer). A refused connection ends ``CONNECT_REFUSED``, any
  other error ``CONNECT_FAILED`` (``error`` holds the text), a timeout
  ``CONNECT_TIMEOUT``; the client is then reset (an NLB resets a client whose
  target cannot be reached). The target is an address (IPv4 or IPv6 literal
  and port): naming is the caller's business.
- **Preface**: bytes sent to the target before anything the client sends (a
  PROXY protocol header, ``proxy_v2_header``). They are not counted in
  ``client_to_target``.
- **Cut from outside**: ``Relay.close(reset)`` ends the relay now (``CUT``),
  also while connecting: with ``reset`` both sides get RST, without it both
  get FIN (bytes still in the relay's buffers are dropped either way). The
  control plane cuts connections this way, e.g. when an endpoint connection
  is rejected.
- **Accounting**: ``client_to_target`` and ``target_to_client`` count bytes
  written to each side, ``reason`` and ``error`` say how it ended,
  ``ended`` is a future resolved with the reason (``await relay.wait()``),
  for access logs; ``connected`` resolves True once the target answered
  (False if it never did). Both futures are made only when asked for: the
  data plane's own bookkeeping (``when_ended``) is told synchronously, so a
  short connection costs no future and no extra turn of the loop.
- **Per-connection cost**: a new connection is the common case of an NLB
  under load, so the path avoids what it can: the target -> client direction
  starts by waiting for readability (a target rarely speaks before it is
  spoken to; a read would only fail with ``EAGAIN``), and the direction that
  ends last closes its destination without a ``shutdown`` first (that
  socket's peer has sent its FIN and everything was read, so ``close`` sends
  the same FIN), the target socket is made non-blocking as it is created
  (``SOCK_NONBLOCK``, no ``ioctl``), and the target stays watched across
  the switch from connecting to relaying (uvloop keeps one poll handle per
  descriptor only while something is watched).

PROXY protocol v2
-----------------
``proxy_v2_header`` writes the binary header of
https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt: the 12-byte
signature, version 2 with command PROXY (0x21), the family and transport
byte (TCP over IPv4 0x11, over IPv6 0x21), the length of what follows, the
addresses and ports, then TLVs (type, 16-bit length, value). AWS's NLB adds
one TLV for connections through an interface endpoint: type 0xEA
(``PP2_TYPE_AWS``) whose value is subtype 0x01 (``PP2_SUBTYPE_AWS_VPCE_ID``)
followed by the endpoint id in ASCII
(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#proxy-protocol);
``aws_vpce_tlv`` builds it. ``parse_proxy_v2`` reads a header back (tests,
and targets that want to see what an NLB target sees).
"""

from __future__ import annotations

import asyncio
import enum
import errno
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import Callable

BUFFER = 64 * 1024  # what one direction holds: the pipe's capacity (Linux's default), or the copy buffer
DEFAULT_IDLE_TIMEOUT = 350.0  # an NLB's TCP idle timeout
DEFAULT_CONNECT_TIMEOUT = 10.0
SPLICE = hasattr(os, "splice")
_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)
_RESET_ERRORS = (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ETIMEDOUT)
_LINGER_ZERO = struct.pack("ii", 1, 0)
_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)
_STREAM_NONBLOCK = socket.SOCK_STREAM | _NONBLOCK  # Linux: non-blocking from the start, no ioctl to make it so
PIPE_POOL = 64  # empty pipes kept for the next relays (a pipe holds no memory while empty)
_PIPES: list[tuple[int, int]] = []


class End(str, enum.Enum):
    """How a relay ended (the access log's word for it)."""

    COMPLETE = "complete"  # both sides closed their sending half, every byte delivered
    CLIENT_RESET = "client_reset"
    TARGET_RESET = "target_reset"
    IDLE_TIMEOUT = "idle_timeout"
    CONNECT_REFUSED = "connect_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    CONNECT_FAILED = "connect_failed"
    CUT = "cut"  # Relay.close from outside
    ERROR = "error"  # anything else the kernel answered (``error`` says what)


Address = tuple[str, int]


def start(client: socket.socket, target: Address, *, idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
          connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, preface: bytes = b"",
          splice: bool | None = None, source: str | None = None) -> Relay:
    """Connect to ``target`` and relay ``client`` (an accepted socket, now the relay's) to it.

    ``source``: the local address the connection to the target comes from (a resource gateway's), else
    the kernel's choice.

    Returns at once; the relay runs from the running loop's callbacks. ``splice`` None: zero copy
    where the OS has it; False: always copy (True where splice is missing still copies)."""
    relay = Relay(client, target, idle_timeout, connect_timeout, preface,
                  SPLICE if splice is None else splice and SPLICE)
    relay.source = source
    relay._connect()
    return relay


class Relay:
    """One client connection relayed to one target: the handle to watch it and to cut it."""

    __slots__ = ("loop", "client", "target", "upstream", "idle_timeout", "connect_timeout", "splice", "reason",
                 "error", "_ended", "_connected", "_watchers", "opened", "connected_at", "active", "_preface",
                 "_timer", "_pumps", "source")  # one per connection: no per-instance dict

    def __init__(self, client: socket.socket, target: Address, idle_timeout: float, connect_timeout: float,
                 preface: bytes, splice: bool):
        self.loop = asyncio.get_running_loop()
        self.client, self.target = client, target
        self.upstream: socket.socket | None = None  # the connection to the target, once there is one
        self.idle_timeout, self.connect_timeout = idle_timeout, connect_timeout
        self.splice = splice
        self.reason: End | None = None
        self.error: str | None = None
        self._ended: asyncio.Future[End] | None = None  # made when asked for (``ended``)
        self._connected: asyncio.Future[bool] | None = None  # likewise (``connected``)
        self._watchers: list[Callable[[Relay], object]] = []  # told when the relay ends (``when_ended``)
        self.opened = self.loop.time()
        self.connected_at: float | None = None
        self.active = self.opened  # when a byte last moved either way
        self._preface = preface
        self._timer: asyncio.TimerHandle | None = None
        self._pumps: tuple[_Pump, _Pump] | None = None
        self.source: str | None = None  # the local address to connect from (``start``)

    # -- what callers see --

    @property
    def ended(self) -> asyncio.Future[End]:
        """Resolved with the end reason once the relay ends."""
        if self._ended is None:
            self._ended = self.loop.create_future()
            if self.reason is not None:
                self._ended.set_result(self.reason)
        return self._ended

    @property
    def connected(self) -> asyncio.Future[bool]:
        """Resolved True once the target answered and bytes flow, False if it never will."""
        if self._connected is None:
            self._connected = self.loop.create_future()
            if self.connected_at is not None or self.reason is not None:
                self._connected.set_result(self.connected_at is not None)
        return self._connected

    def when_ended(self, callback: Callable[[Relay], object]) -> None:
        """Call ``callback(relay)`` when the relay ends, from the end itself (no future, no turn of the loop);
        at once if it has ended already."""
        if self.reason is not None:
            callback(self)
        else:
            self._watchers.append(callback)

    @property
    def client_to_target(self) -> int:
        return self._pumps[0].moved if self._pumps else 0

    @property
    def target_to_client(self) -> int:
        return self._pumps[1].moved if self._pumps else 0

    @property
    def held(self) -> int:
        """Bytes read from one side and not yet written to the other (at most ``BUFFER`` per direction)."""
        return sum(p.pending for p in self._pumps) if self._pumps else 0

    async def wait(self) -> End:
        return await asyncio.shield(self.ended)

    def close(self, reset: bool = False) -> None:
        """Cut the relay now: both sides reset (``reset``) or closed with FIN."""
        self._end(End.CUT, reset_client=reset, reset_target=reset)

    # -- connecting --

    def _connect(self) -> None:
        self.client.setblocking(False)
        _nodelay(self.client)
        try:
            family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET  # an IPv6 literal has colons
            socket.inet_pton(family, self.target[0])  # a literal, or connect would resolve a name, blocking the loop
            self.upstream = socket.socket(family, _STREAM_NONBLOCK)
            if not _NONBLOCK:
                self.upstream.setblocking(False)
            self.upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # see _nodelay
            if self.source is not None:
                self.upstream.bind((self.source, 0))
            code = self.upstream.connect_ex(self.target)
        except (OSError, ValueError) as exc:
            self._fail_connect(End.CONNECT_FAILED, str(exc))
            return
        if code not in (0, errno.EINPROGRESS):
            self._connect_error(code)
            return
        # The relay's one timer: the connect deadline now, the idle deadline once connected (``_tick``).
        self._timer = self.loop.call_at(self.opened + self.connect_timeout, self._tick)
        self.loop.add_writer(self.upstream.fileno(), self._connect_done)

    def _connect_done(self) -> None:
        assert self.upstream is not None
        code = self.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.loop.remove_writer(self.upstream.fileno())
            self._connect_error(code)
            return
        self.connected_at = self.active = self.loop.time()
        if self.active + self.idle_timeout < self.opened + self.connect_timeout and self._timer is not None:
            self._timer.cancel()  # idle sooner than the connect deadline the timer waits for (short idle timeouts)
            self._timer = self.loop.call_at(self.active + self.idle_timeout, self._tick)
        client, target = (_Pump(self, self.client, self.upstream, self._preface),
                          _Pump(self, self.upstream, self.client))
        self._pumps = (client, target)
        if self._connected is not None:
            self._connected.set_result(True)
        # Watch the target for reading before the watch for the connect goes: the loop keeps the descriptor's
        # poll handle instead of dropping it and making a new one (uvloop does that per descriptor).
        target.start_waiting()
        self.loop.remove_writer(self.upstream.fileno())
        client.run()

    def _connect_error(self, code: int) -> None:
        reason = End.CONNECT_REFUSED if code == errno.ECONNREFUSED else End.CONNECT_FAILED
        self._fail_connect(reason, os.strerror(code))

    def _tick(self) -> None:
        """The relay's timer: the connect deadline passed, or it is time to look at idleness."""
        if self.connected_at is None:
            self._fail_connect(End.CONNECT_TIMEOUT, f"no answer from {self.target[0]}:{self.target[1]} "
                                                    f"within {self.connect_timeout:g} s")
        else:
            self._idle_check()

    def _fail_connect(self, reason: End, error: str) -> None:
        self.error = error
        self._end(reason, reset_client=True, reset_target=True)

    # -- running --

    def _idle_check(self) -> None:
        due = self.active + self.idle_timeout
        if self.loop.time() >= due:
            self._end(End.IDLE_TIMEOUT, reset_client=True, reset_target=True)
        else:
            self._timer = self.loop.call_at(due, self._tick)

    def _pump_done(self) -> None:
        """One direction delivered its end of stream; both done -> complete."""
        assert self._pumps is not None
        if all(p.finished for p in self._pumps):
            self._end(End.COMPLETE, reset_client=False, reset_target=False)

    def _pump_failed(self, reset_side: socket.socket | None, error: OSError) -> None:
        """A side reset (``reset_side``) or some other error: the other side gets a reset too."""
        if reset_side is None:
            self.error = str(error)
            self._end(End.ERROR, reset_client=True, reset_target=True)
            return
        self.error = os.strerror(error.errno) if error.errno else str(error)
        self._end(End.CLIENT_RESET if reset_side is self.client else End.TARGET_RESET,
                  reset_client=True, reset_target=True)

    def _end(self, reason: End, reset_client: bool, reset_target: bool) -> None:
        if self.reason is not None:
            return
        self.reason = reason
        if self._timer is not None:
            self._timer.cancel()
        if self._pumps is not None:
            for pump in self._pumps:
                pump.stop()
        elif self.upstream is not None:
            self.loop.remove_writer(self.upstream.fileno())
        _close(self.client, reset_client)
        if self.upstream is not None:
            _close(self.upstream, reset_target)
        if self._connected is not None and not self._connected.done():
            self._connected.set_result(False)
        if self._ended is not None:
            self._ended.set_result(reason)
        for watcher in self._watchers:
            watcher(self)
        self._watchers.clear()


class _Pump:
    """One direction: ``src`` -> ``dst``, at most one buffer-full in hand."""

    __slots__ = ("relay", "src", "dst", "loop", "src_fd", "dst_fd", "head", "moved", "pending", "eof", "drained",
                 "finished", "waiting", "pipe", "buffer", "offset")

    def __init__(self, relay: Relay, src: socket.socket, dst: socket.socket, head: bytes = b""):
        self.relay, self.src, self.dst = relay, src, dst
        self.loop = relay.loop
        self.src_fd, self.dst_fd = src.fileno(), dst.fileno()
        self.head = memoryview(head)  # written before anything read from src (the preface)
        self.moved = 0  # bytes written to dst
        self.pending = 0  # bytes read from src, not yet written to dst
        self.eof = False
        self.drained = False  # the last read was short: wait for readability before reading again
        self.finished = False
        self.waiting: str | None = None  # "read" | "write" | None: what the pump waits for
        self.pipe: tuple[int, int] | None = None
        self.buffer: memoryview | None = None
        self.offset = 0  # copy path: where the unwritten bytes start in the buffer
        if relay.splice:
            self.pipe = _PIPES.pop() if _PIPES else os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        else:
            self.buffer = memoryview(bytearray(BUFFER))

    def run(self) -> None:
        """Move bytes until one side makes us wait (or the direction or the relay ends)."""
        if self.waiting == "read":
            self.drained = False  # called because src is readable
        side = self.dst
        try:
            while self.relay.reason is None:
                if self.head:
                    if not self._write_head():
                        return self._wait("write")
                elif self.pending:
                    if not self._write():
                        return self._wait("write")
                elif self.eof:
                    return self._finish()
                elif self.drained:
                    return self._wait("read")
                else:
                    side = self.src
                    if not self._read():
                        return self._wait("read")
                    side = self.dst
        except OSError as exc:
            self._failed(exc, side)

    def _read(self) -> bool:
        """Fill the (empty) buffer from src: False when src has nothing now."""
        try:
            if self.pipe is not None:
                n = os.splice(self.src_fd, self.pipe[1], BUFFER, flags=_SPLICE_FLAGS)
            else:
                assert self.buffer is not None
                n = self.src.recv_into(self.buffer)
                self.offset = 0
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno == errno.EINVAL and self.pipe is not None and not self.moved:
                self._copy_instead()  # splice refuses this socket: copy from now on
                return True
            raise
        self.relay.active = self.loop.time()
        if n == 0:
            self.eof = True
        self.pending = n
        # Less than asked for: src is very likely empty now. Writing that out, the pump then waits for src to
        # be readable rather than trying a read that would fail with EAGAIN (a syscall and an exception).
        self.drained = n < BUFFER
        return True

    def _write(self) -> bool:
        """Write what the buffer holds to dst: False when dst's send buffer is full."""
        try:
            if self.pipe is not None:
                n = os.splice(self.pipe[0], self.dst_fd, self.pending, flags=_SPLICE_FLAGS)
            else:
                assert self.buffer is not None
                n = self.dst.send(self.buffer[self.offset:self.offset + self.pending])
                self.offset += n
        except BlockingIOError:
            return False
        self.pending -= n
        self.moved += n
        self.relay.active = self.loop.time()
        return True

    def _write_head(self) -> bool:
        try:
            n = self.dst.send(self.head)
        except BlockingIOError:
            return False
        self.head = self.head[n:]
        return True

    def start_waiting(self) -> None:
        """Start by waiting for ``src`` to be readable, without a first read (it would very likely fail)."""
        self._wait("read")

    def _wait(self, what: str) -> None:
        if what == self.waiting:
            return
        self._unwatch()
        self.waiting = what
        if what == "read":
            self.loop.add_reader(self.src_fd, self.run)
        else:
            self.loop.add_writer(self.dst_fd, self.run)

    def _unwatch(self) -> None:
        if self.waiting == "read":
            self.loop.remove_reader(self.src_fd)
        elif self.waiting == "write":
            self.loop.remove_writer(self.dst_fd)
        self.waiting = None

    def _finish(self) -> None:
        self._unwatch()
        self.finished = True
        # The other direction done too: dst's peer sent its FIN and all it sent was read, so the close that
        # ends the relay now sends the same FIN as shutdown would (no unread bytes there to turn it into RST).
        last = self.relay._pumps is not None and all(p.finished for p in self.relay._pumps)
        if not last:
            try:
                self.dst.shutdown(socket.SHUT_WR)
            except OSError as exc:
                if exc.errno != errno.ENOTCONN:  # not connected: the peer is gone, the other direction will tell
                    return self._failed(exc, self.dst)
        self._release()
        self.relay._pump_done()

    def _failed(self, exc: OSError, side: socket.socket) -> None:
        """``side`` answered ``exc`` (a reset shows on the socket it happened to: reading src, writing dst)."""
        self.relay._pump_failed(side if exc.errno in _RESET_ERRORS else None, exc)

    def _copy_instead(self) -> None:
        self._release()
        self.buffer = memoryview(bytearray(BUFFER))

    def stop(self) -> None:
        self._unwatch()
        self._release()

    def _release(self) -> None:
        if self.pipe is not None:
            if self.pending == 0 and len(_PIPES) < PIPE_POOL:
                _PIPES.append(self.pipe)  # empty: the next relay may use it
            else:
                os.close(self.pipe[0])
                os.close(self.pipe[1])
            self.pipe = None
        self.buffer = None


def _nodelay(sock: socket.socket) -> None:
    """Bytes go on as they come: the relay adds no delay of its own (Nagle's) to small writes."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # not TCP (a TLS listener's socket pair): nothing to turn off. Asking ``family`` costs more.
        pass


def _close(sock: socket.socket, reset: bool) -> None:
    if sock.fileno() < 0:
        return
    if reset:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        except OSError:
            pass  # already dead: closing it is all there is to do
    sock.close()


# -- PROXY protocol v2 ---------------------------------------------------------------------------------

PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PP2_VERSION_PROXY = 0x21  # version 2, command PROXY
PP2_VERSION_LOCAL = 0x20  # version 2, command LOCAL (a health check of the proxy's own)
PP2_TCP_OVER_IPV4, PP2_TCP_OVER_IPV6, PP2_UNSPEC = 0x11, 0x21, 0x00
PP2_TYPE_AWS, PP2_SUBTYPE_AWS_VPCE_ID = 0xEA, 0x01


def aws_vpce_tlv(endpoint_id: str) -> tuple[int, bytes]:
    """AWS's TLV naming the VPC endpoint a connection came through (``vpce-...``)."""
    return PP2_TYPE_AWS, bytes([PP2_SUBTYPE_AWS_VPCE_ID]) + endpoint_id.encode("ascii")


def proxy_v2_header(source: Address, destination: Address, tlvs: list[tuple[int, bytes]] | tuple = ()) -> bytes:
    """The PROXY protocol v2 header for a TCP connection from ``source`` to ``destination``."""
    src, dst = ipaddress.ip_address(source[0]), ipaddress.ip_address(destination[0])
    if src.version != dst.version:
        raise ValueError("source and destination must be of one address family")
    family = PP2_TCP_OVER_IPV4 if src.version == 4 else PP2_TCP_OVER_IPV6
    addresses = src.packed + dst.packed + struct.pack("!HH", source[1], destination[1])
    extra = b"".join(struct.pack("!BH", kind, len(value)) + value for kind, value in tlvs)
    if len(addresses) + len(extra) > 0xFFFF:
        raise ValueError("PROXY protocol v2 header too long")
    return PROXY_V2_SIGNATURE + struct.pack("!BBH", PP2_VERSION_PROXY, family, len(addresses) + len(extra)) \
        + addresses + extra


@dataclass
class ProxyHeader:
    """A parsed PROXY v2 header: ``local`` (command LOCAL) carries no addresses."""

    local: bool
    source: Address | None
    destination: Address | None
    tlvs: list[tuple[int, bytes]] = field(default_factory=list)
    length: int = 0  # bytes of the stream the header took

    @property
    def vpce_id(self) -> str | None:
        for kind, value in self.tlvs:
            if kind == PP2_TYPE_AWS and value[:1] == bytes([PP2_SUBTYPE_AWS_VPCE_ID]):
                return value[1:].decode("ascii")
        return None


class ProxyHeaderError(ValueError):
    pass


def parse_proxy_v2(data: bytes) -> ProxyHeader | None:
    """The header at the start of ``data``; None while it is incomplete; ProxyHeaderError when it is not one."""
    seen = min(len(data), len(PROXY_V2_SIGNATURE))
    if data[:seen] != PROXY_V2_SIGNATURE[:seen]:
        raise ProxyHeaderError("no PROXY protocol v2 signature")
    if len(data) < 16:
        return None
    version, family, length = struct.unpack("!BBH", data[12:16])
    if version >> 4 != 2 or version & 0x0F not in (0, 1):
        raise ProxyHeaderError(f"unknown version/command byte 0x{version:02x}")
    if len(data) < 16 + length:
        return None
    body = data[16:16 + length]
    sizes = {PP2_TCP_OVER_IPV4: 12, PP2_TCP_OVER_IPV6: 36, PP2_UNSPEC: 0}
    local = version & 0x0F == 0
    if family not in sizes and not local:
        raise ProxyHeaderError(f"unsupported family/transport byte 0x{family:02x}")
    size = sizes.get(family, 0)
    if len(body) < size:
        raise ProxyHeaderError("length shorter than the addresses of the family")
    source = destination = None
    if size and not local:
        n = size // 2 - 2
        source = (str(ipaddress.ip_address(body[:n])), struct.unpack("!H", body[2 * n:2 * n + 2])[0])
        destination = (str(ipaddress.ip_address(body[n:2 * n])), struct.unpack("!H", body[2 * n + 2:2 * n + 4])[0])
    return ProxyHeader(local, source, destination, _tlvs(body[size:]), 16 + length)


def _tlvs(data: bytes) -> list[tuple[int, bytes]]:
    found, at = [], 0
    while at < len(data):
        if at + 3 > len(data):
            raise ProxyHeaderError("truncated TLV")
        kind, length = struct.unpack("!BH", data[at:at + 3])
        if at + 3 + length > len(data):
            raise ProxyHeaderError("TLV longer than the header")
        found.append((kind, data[at + 3:at + 3 + length]))
        at += 3 + length
    return found
