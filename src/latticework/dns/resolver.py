"""Per-VPC DNS resolvers: what a name means to a client inside one VPC.

In AWS every VPC has a resolver at its base address plus two (the Route 53
Resolver, https://docs.aws.amazon.com/vpc/latest/userguide/AmazonDNS-concepts.html).
Here each VPC view of the applied snapshot gets a DNS server, UDP and TCP, on
its fabric resolver address (``VpcView.resolver``, port 53 by default). The
VPC a query comes from is the one whose resolver address received it.

How a query from VPC *v* is answered (``answer``, a pure function of the VPC
view and the query):

=================================================  ============================================
the name (lower-case, final dot stripped)          answer
=================================================  ============================================
a host name in ``v.routes`` (generated or custom)  A: ``v.lattice``, TTL 60 s; any other type:
                                                   NOERROR without records (the loopback
                                                   fabric has no IPv6, so AAAA is empty)
a private DNS name of one of *v*'s interface       A: the endpoint's interface addresses, TTL
endpoints (``v.names``: the verified private name  60 s (other types as above); a ``*.`` name
of its endpoint service, an AWS service's name     answers the names below it
such as ``sqs.<region>.amazonaws.com``, for S3
``s3.<region>.amazonaws.com`` and ``*.s3...``)
a network load balancer's ``DNSName``, an          A: its nodes' / interfaces' fabric addresses
interface endpoint's regional or zonal name        (a zonal name: that zone's only), TTL 60 s,
(``Snapshot.names``, any VPC of the server)        in every VPC
a resource name of *v*: the generated name of a    A: the addresses where *v* reaches the
network association or a Resource endpoint, a      resource configuration, TTL 60 s (only
custom domain name private DNS gives *v*           in *v*)
(``Snapshot.resource_names``)
under ``vpc-lattice-svcs.<region>.on.aws`` or      NXDOMAIN (NOERROR without records for a name
``vpc-lattice-rsc.<region>.on.aws``, not in        that only has reachable names below it)
``v.routes``; under an endpoint service's zone
(``vpce-svc-<id>.<region>.vpce.amazonaws.com``),
not in ``Snapshot.names``
anything else, including custom domain names of    forwarded to the host's resolvers
services *v* cannot reach, names of deleted load
balancers and of AWS services without an endpoint
=================================================  ============================================

Endpoint and load balancer names are published to every VPC, as AWS
publishes them in public DNS (an internal NLB's name resolves anywhere to its
private addresses; whether a client can connect is decided on the data path,
not by the name). Private names answer only inside the endpoint's VPC, as
AWS's hidden private hosted zone does, and take precedence there over public
names. A name in an endpoint service's zone exists only for endpoints made
here (service ids are random), so a deleted endpoint's names answer NXDOMAIN
at once. Load balancer names and AWS services' endpoint names live in zones
that also hold real AWS names (an internet-facing NLB in AWS is reachable
from this host), so unknown ones are forwarded: for a deleted load balancer,
public DNS answers NXDOMAIN (SERVFAIL when the host is offline).

Generated names a VPC cannot reach answer NXDOMAIN. In AWS these names are
public and resolve anywhere, but a VPC that is not associated with the
service's network cannot connect to the addresses they give; here a client
that could not connect fails earlier, at resolution, with an unambiguous
error. Custom domain names may also be real public names, so a VPC that
cannot reach the service gets whatever public DNS says.

TTL: AWS does not document the TTL of the records Lattice publishes; 60 s
keeps clients' caches short enough that a service newly associated with (or
removed from) the VPC's service networks is seen within a minute, without a
query per connection. Negative answers carry no SOA, so stub resolvers do not
cache them at all.

Forwarding (``Upstreams``): the client's query goes unchanged to the host's
resolvers (``host_upstreams``: ``/etc/resolv.conf`` read when the server
starts, minus addresses of the fabric, since a resolver forwarding to itself
would loop), over UDP; a truncated reply is asked again over TCP; when no
resolver replies in time the client gets SERVFAIL. Replies are relayed as
they come; nothing is cached.

Robustness: a packet whose header does not parse, and any response (QR set),
is dropped; a query whose header parses but whose body does not gets
FORMERR. TCP clients have an idle timeout and their messages are bounded by
the 16-bit length prefix; at most ``MAX_TCP_CLIENTS`` connections and
``MAX_PENDING`` UDP queries are served at once per VPC, beyond that new ones
are dropped, as a busy resolver does.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Sequence

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, RR, A, DNSHeader, DNSRecord
from dnslib.buffer import Buffer

from latticework.fabric import DEFAULT_RANGE, Fabric
from latticework.snapshot.model import EMPTY, Names, Snapshot, VpcView, lookup

log = logging.getLogger("latticework.dns")

TTL = 60
GENERATED_ZONES = frozenset({"vpc-lattice-svcs", "vpc-lattice-rsc"})  # <zone>.<region>.on.aws
CLASS_IN, CLASS_ANY = 1, 255
CLASSIC_UDP = 512  # the largest UDP reply to a client without EDNS (RFC 1035 §4.2.1)
EDNS_UDP = 1232  # the size we advertise: DNS Flag Day 2020's, which avoids IP fragmentation
TCP_MAX = 65535
HEADER_SIZE = 12
TCP_IDLE = 10.0  # seconds a TCP client may stay silent (RFC 7766 §6.2.3: "in the order of seconds")
MAX_TCP_CLIENTS = 256
MAX_PENDING = 1024
UDP_BUFFER = 1 << 20  # the kernel caps it at net.core.rmem_max
UPSTREAM_TIMEOUT = 3.0  # under glibc's 5 s, so a client gets SERVFAIL rather than its own timeout

Server = tuple[str, int]
NO_NAMES: Names = MappingProxyType({})


class AskHost:
    """The decision to ask the host's resolvers (the query is not the VPC's to answer)."""

    def __repr__(self) -> str:
        return "FORWARD"


FORWARD = AskHost()


# -- the pure part: bytes -> query, (VPC view, query) -> reply or FORWARD ---------------

def parse(data: bytes) -> DNSRecord | bytes | None:
    """A query to answer, an error reply to send as it is, or None: drop the packet."""
    try:
        header = DNSHeader.parse(Buffer(data))
    except Exception:  # dnslib raises several kinds on garbage; without an id there is no one to answer
        return None
    if header.qr:  # a response: answering it could make two resolvers talk forever
        return None
    try:
        query = DNSRecord.parse(data)
    except Exception:
        return _error(header, RCODE.FORMERR)
    if header.opcode != OPCODE.QUERY:
        return _error(header, RCODE.NOTIMP)
    if len(query.questions) != 1:
        return _error(header, RCODE.FORMERR)
    return query


def answer(view: VpcView | None, query: DNSRecord, public: Names = NO_NAMES,
           resources: Names = NO_NAMES, narrow: Narrow = None) -> DNSRecord | AskHost:
    """What the resolver of ``view``'s VPC replies to ``query``, or ``FORWARD``; ``public``: the names every
    VPC resolves (``Snapshot.names``); ``resources``: the VPC's resource names (``Snapshot.resource_names``);
    ``narrow``: which of a public name's addresses answer now (a load balancer's DNS failover)."""
    if view is None:  # the VPC was deleted; its resolver is about to close
        return reply_to(query, RCODE.REFUSED)
    name = str(query.q.qname).rstrip(".").lower()
    if name in view.routes:
        return _addresses(query, (view.lattice,))
    found = lookup(view.names, name) or lookup(resources, name)
    if not found:
        found = lookup(public, name)
        found = narrow(found) if found and narrow is not None else found
    if found:
        return _addresses(query, found)
    if is_generated(name):
        above = _above_route(name, view) or _above(name, resources)
        return reply_to(query, RCODE.NOERROR if above else RCODE.NXDOMAIN)
    if in_endpoint_service_zone(name):
        return reply_to(query, RCODE.NOERROR if _above(name, public) else RCODE.NXDOMAIN)
    return FORWARD


# Which of a public name's addresses a resolver answers now (the server's health-aware hook), None: all.
Narrow = Callable[[tuple[str, ...]], tuple[str, ...]] | None


def is_generated(name: str) -> bool:
    """A name Lattice generates: ``....vpc-lattice-svcs.<region>.on.aws`` (or ``vpc-lattice-rsc``)."""
    labels = name.split(".")
    return len(labels) >= 4 and labels[-2:] == ["on", "aws"] and labels[-4] in GENERATED_ZONES


def in_endpoint_service_zone(name: str) -> bool:
    """A name at or below an endpoint service's base name ``vpce-svc-<id>.<region>.vpce.amazonaws.com``."""
    labels = name.split(".")
    return len(labels) >= 5 and labels[-3:] == ["vpce", "amazonaws", "com"] and labels[-5].startswith("vpce-svc-")


def _above_route(name: str, view: VpcView) -> bool:
    """An empty non-terminal: a reachable name lies below ``name`` (RFC 8020: not NXDOMAIN)."""
    return _above(name, view.routes)


def _above(name: str, names) -> bool:
    suffix = "." + name
    return any(n.endswith(suffix) for n in names)


def _addresses(query: DNSRecord, addresses: Sequence[str]) -> DNSRecord:
    reply = reply_to(query, RCODE.NOERROR)
    question = query.q
    if question.qtype in (QTYPE.A, QTYPE.ANY) and question.qclass in (CLASS_IN, CLASS_ANY):
        for address in addresses:
            reply.add_answer(RR(question.qname, QTYPE.A, CLASS_IN, TTL, A(address)))
    return reply


def reply_to(query: DNSRecord, rcode: int) -> DNSRecord:
    """A recursive resolver's reply skeleton (RA set, not authoritative), EDNS if the query had it."""
    header = DNSHeader(id=query.header.id, qr=1, opcode=query.header.opcode, rd=query.header.rd, ra=1,
                       cd=query.header.cd, rcode=rcode)
    reply = DNSRecord(header, q=query.q)
    if _edns_size(query) is not None:
        reply.add_ar(EDNS0(udp_len=EDNS_UDP))
    return reply


def _error(header: DNSHeader, rcode: int) -> bytes:
    reply = DNSHeader(id=header.id, qr=1, opcode=header.opcode, rd=header.rd, ra=1, rcode=rcode)
    return bytes(DNSRecord(reply).pack())


def _edns_size(query: DNSRecord) -> int | None:
    # An OPT record's CLASS field carries the requestor's UDP payload size (RFC 6891 §6.1.2).
    return next((rr.rclass for rr in query.ar if rr.rtype == QTYPE.OPT), None)


def udp_limit(query: DNSRecord) -> int:
    """The largest UDP reply the client accepts."""
    size = _edns_size(query)
    return CLASSIC_UDP if size is None else max(CLASSIC_UDP, min(size, TCP_MAX))


def fit(reply: bytes, query: DNSRecord, limit: int) -> bytes:
    """``reply`` if it fits, else the question alone with TC set: the client asks again over TCP."""
    if len(reply) <= limit:
        return reply
    header = DNSHeader.parse(Buffer(reply))
    header.tc = 1
    return bytes(DNSRecord(header, q=query.q).pack())


# -- forwarding to the host's resolvers -------------------------------------------------

def host_upstreams(path: str = "/etc/resolv.conf", fabric: Fabric | None = None) -> list[Server]:
    """The host's resolvers, without the fabric's addresses (forwarding there would loop)."""
    excluded = [ipaddress.ip_network(DEFAULT_RANGE)] + ([fabric.range] if fabric else [])
    try:
        found = _nameservers(Path(path).read_text())
    except OSError:
        found = []
    if not found:
        return [("127.0.0.1", 53)]  # glibc's default without a nameserver line (resolv.conf(5))
    return [(str(a), 53) for a in found if not any(a in network for network in excluded)]


def _nameservers(text: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            try:
                found.append(ipaddress.ip_address(words[1]))
            except ValueError:
                continue  # glibc skips a malformed line as well
    return found


class BadReply(Exception):
    """A reply that does not answer the query sent."""


class Upstreams:
    """The host's resolvers, asked in order within one time budget."""

    def __init__(self, servers: Sequence[Server], timeout: float = UPSTREAM_TIMEOUT):
        self.servers = tuple(servers)
        self.timeout = timeout

    async def ask(self, query: bytes, limit: int) -> bytes | None:
        """The first resolver's reply that fits ``limit``, or None when none replied in time."""
        if not self.servers:
            return None
        share = self.timeout / len(self.servers)
        for server in self.servers:
            try:
                return await asyncio.wait_for(self._ask_one(server, query, limit), share)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, BadReply):
                continue
        return None

    async def _ask_one(self, server: Server, query: bytes, limit: int) -> bytes:
        reply = await _udp_exchange(server, query)
        if not reply[2] & 0x02:  # TC clear: the whole answer
            return reply
        try:
            full = await _tcp_exchange(server, query)
        except (OSError, asyncio.IncompleteReadError, BadReply):
            return reply  # the truncated reply tells the client to ask us over TCP
        return full if len(full) <= limit else reply


def _answers(reply: bytes, query: bytes) -> bool:
    return len(reply) >= HEADER_SIZE and reply[:2] == query[:2] and bool(reply[2] & 0x80)


class _OneReply(asyncio.DatagramProtocol):
    def __init__(self, waiter: asyncio.Future, query: bytes):
        self.waiter = waiter
        self.query = query

    def datagram_received(self, data: bytes, addr) -> None:
        if not self.waiter.done() and _answers(data, self.query):
            self.waiter.set_result(data)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        if not self.waiter.done():
            self.waiter.set_exception(exc)


async def _udp_exchange(server: Server, query: bytes) -> bytes:
    # A socket of its own per query: its ephemeral port only accepts the server's replies, and ids never clash.
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(lambda: _OneReply(waiter, query), remote_addr=server)
    try:
        transport.sendto(query)
        return await waiter
    finally:
        transport.close()


async def _tcp_exchange(server: Server, query: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(framed(query))
        await writer.drain()
        reply = await read_framed(reader)
        if reply is None or not _answers(reply, query):
            raise BadReply(server)
        return reply
    finally:
        writer.close()


def framed(message: bytes) -> bytes:
    """A message as DNS over TCP sends it: after its length in two bytes (RFC 1035 §4.2.2)."""
    return len(message).to_bytes(2, "big") + message


async def read_framed(reader: asyncio.StreamReader) -> bytes | None:
    """The next length-prefixed message, or None when the peer closed between messages."""
    try:
        prefix = await reader.readexactly(2)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None
    return await reader.readexactly(int.from_bytes(prefix, "big"))


# -- one VPC's resolver -------------------------------------------------------------------

class VpcResolver:
    """One VPC's resolver: UDP and TCP on one address and port, answering from ``view()``.

    ``view`` is called per query, so answers follow the newest snapshot
    without restarting anything.
    """

    def __init__(self, host: str, port: int, view: Callable[[], VpcView | None], upstreams: Upstreams,
                 idle_timeout: float = TCP_IDLE, public: Callable[[], Names] = lambda: NO_NAMES,
                 resources: Callable[[], Names] = lambda: NO_NAMES, narrow: Narrow = None):
        self.host = host
        self.narrow = narrow
        self.port = port
        self.view = view
        self.public = public
        self.resources = resources
        self.upstreams = upstreams
        self.idle_timeout = idle_timeout
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_closed: asyncio.Future | None = None
        self._tcp: asyncio.Server | None = None
        self._pending: set[asyncio.Task] = set()
        self._clients: set[asyncio.Task] = set()

    async def start(self) -> int:
        """Listen; return the port (with port 0 a free one, the same for UDP and TCP)."""
        for _ in range(20 if self.port == 0 else 1):
            try:
                self.port = await self._bind(self.port)
                return self.port
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or self.port != 0:
                    raise
        raise OSError(errno.EADDRINUSE, f"no port free for both UDP and TCP on {self.host}")

    async def _bind(self, port: int) -> int:
        loop = asyncio.get_running_loop()
        udp, protocol = await loop.create_datagram_endpoint(lambda: _UdpServer(self), local_addr=(self.host, port))
        # Bursts of queries (a client resolving many names at once) must not overflow the default buffer.
        udp.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_BUFFER)
        port = udp.get_extra_info("sockname")[1]
        try:
            self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port, reuse_address=True)
        except OSError:
            udp.close()
            raise
        self._udp, self._udp_closed = udp, protocol.closed
        return port

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            assert self._udp_closed is not None  # set with _udp
            await self._udp_closed  # the socket is released a loop iteration after close()
        if self._tcp is not None:
            self._tcp.close()
        tasks = (*self._pending, *self._clients)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._tcp is not None:
            await self._tcp.wait_closed()

    async def handle(self, data: bytes, udp: bool) -> bytes | None:
        """The reply to one message, or None to send nothing."""
        query = parse(data)
        if not isinstance(query, DNSRecord):
            return query
        limit = udp_limit(query) if udp else TCP_MAX
        decision = answer(self.view(), query, self.public(), self.resources(), self.narrow)
        if isinstance(decision, AskHost):  # FORWARD, the only instance
            reply = await self.upstreams.ask(data, limit)
            return fit(reply, query, limit) if reply is not None else bytes(reply_to(query, RCODE.SERVFAIL).pack())
        return fit(bytes(decision.pack()), query, limit)

    # -- UDP
    def received(self, data: bytes, addr) -> None:
        if len(self._pending) >= MAX_PENDING:
            return  # overloaded: the client retries, as with any busy resolver
        task = asyncio.get_running_loop().create_task(self._answer_datagram(data, addr))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _answer_datagram(self, data: bytes, addr) -> None:
        try:
            reply = await self.handle(data, udp=True)
        except Exception:  # one query must never take the resolver down
            log.exception("DNS query from %s on %s failed", addr, self.host)
            return
        if reply is not None and self._udp is not None and not self._udp.is_closing():
            self._udp.sendto(reply, addr)

    # -- TCP
    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._clients) >= MAX_TCP_CLIENTS:
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None  # a connection is served in a task of its own
        self._clients.add(task)
        try:
            await self._converse(reader, writer)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            pass  # the client left or stalled: just hang up
        except Exception:
            log.exception("DNS over TCP on %s failed", self.host)
        finally:
            self._clients.discard(task)
            writer.close()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (data := await asyncio.wait_for(read_framed(reader), self.idle_timeout)) is not None:
            reply = await self.handle(data, udp=False)
            if reply is None:
                return  # garbage: the stream may be out of step, so hang up
            writer.write(framed(reply))
            await asyncio.wait_for(writer.drain(), self.idle_timeout)


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, resolver: VpcResolver):
        self.resolver = resolver
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def datagram_received(self, data: bytes, addr) -> None:
        self.resolver.received(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error about an earlier reply: nothing to do


# -- every VPC's resolver -------------------------------------------------------------

class Resolvers:
    """A resolver per VPC of the applied snapshot, on ``<VpcView.resolver>:port``."""

    def __init__(self, port: int = 53, upstreams: Sequence[Server] | None = None, *, fabric: Fabric | None = None,
                 timeout: float = UPSTREAM_TIMEOUT, narrow: Callable[[Snapshot, tuple[str, ...]], tuple[str, ...]] | None = None):
        self.port = port
        self.narrow = narrow  # public names' addresses by health: a network load balancer's DNS failover
        self.upstreams = Upstreams(host_upstreams(fabric=fabric) if upstreams is None else upstreams, timeout)
        self.snapshot: Snapshot = EMPTY
        self._running: dict[str, VpcResolver] = {}
        self._failures: dict[str, str] = {}

    async def apply(self, snapshot: Snapshot) -> None:
        """Serve every VPC of ``snapshot``; answers use it from now on."""
        self.snapshot = snapshot
        wanted = {vpc.resolver for vpc in snapshot.vpcs.values()}
        for address in sorted(self._running.keys() - wanted):
            await self._running.pop(address).close()
        await asyncio.gather(*(self._open(address) for address in sorted(wanted - self._running.keys())))

    def port_of(self, address: str) -> int | None:
        """The port the resolver at ``address`` listens on, None when it does not."""
        resolver = self._running.get(address)
        return resolver.port if resolver else None

    async def close(self) -> None:
        for resolver in self._running.values():
            await resolver.close()
        self._running.clear()

    async def _open(self, address: str) -> None:
        resolver = VpcResolver(address, self.port, lambda: self.snapshot.vpc_at(address), self.upstreams,
                               public=lambda: self.snapshot.names, resources=lambda: self._resource_names(address),
                               narrow=self._narrowed if self.narrow is not None else None)
        try:
            await resolver.start()
        except OSError as exc:  # the next snapshot tries again
            self._report(address, exc)
            return
        self._failures.pop(address, None)
        self._running[address] = resolver

    def _narrowed(self, addresses: tuple[str, ...]) -> tuple[str, ...]:
        assert self.narrow is not None  # only handed to resolvers when set
        return self.narrow(self.snapshot, addresses)

    def _resource_names(self, address: str) -> Names:
        return self.snapshot.resource_names.get(self.snapshot.by_address.get(address, ""), NO_NAMES)

    def _report(self, address: str, exc: OSError) -> None:
        message = f"VPC resolver {address}:{self.port} is not listening: {exc.strerror or exc}{_hint(exc)}"
        if self._failures.get(address) != message:
            log.warning("%s", message)
        self._failures[address] = message


def _hint(exc: OSError) -> str:
    if exc.errno == errno.EACCES:
        return " (ports below 1024 need root, or sysctl net.ipv4.ip_unprivileged_port_start=53)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return " (the address is not local: on macOS add it with `sudo ifconfig lo0 alias ADDRESS`)"
    return ""
