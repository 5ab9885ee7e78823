"""Listening sockets: one per (VPC Lattice address, listener port), and one per
(network load balancer node, TCP listener port). A service-network endpoint's
interface addresses serve as Lattice addresses of their VPC, for the services
of the endpoint's network.

Every service a VPC reaches answers on the VPC's Lattice address, so one
socket serves all the services of one port there, chosen by Host (HTTP) or
SNI (HTTPS). A port where every reachable listener is ``HTTPS`` terminates
TLS; where every one is ``HTTP``, it speaks plain HTTP/1.1; where both meet
(two services of one VPC with an HTTP and an HTTPS listener on the same
port) the first byte of each connection decides (0x16 opens a TLS
handshake).

A port where some reachable service has a ``TLS_PASSTHROUGH`` listener is
sniffed too (mode ``passthrough``): a TLS connection's ClientHello is read
without consuming it, and its server name decides between relaying it
untouched to a passthrough listener's target (``passthrough.Passthrough``)
and terminating TLS for an HTTPS listener, exactly as on an HTTPS port.

After the handshake ALPN picks the front end: ``h2`` -> ``Http2Server``,
``http/1.1`` or none -> ``Http1Server``. ``FrontDoor`` builds the
``Connection`` (its VPC from the destination address) and hands the transport
over to that front end.

At shutdown (``close``) open client connections drain: each front end
finishes what it has in progress, for at most ``drain_seconds``.

A network load balancer's node (a ``FabricInterface`` it owns) gets a
``TCP`` socket for each TCP or TLS listener of the load balancer, and a UDP
socket for each UDP listener (both for a TCP_UDP one). Each accepted
connection, and each new client's datagrams, go to ``nlb.Nodes``, which
picks a target and relays to it.

An interface endpoint to an endpoint service gets, on each of its
interfaces, a ``TCP`` socket for each TCP listener port of its service's load
balancers while its connection is ``available`` (``endpoints.ports``); each
accepted connection goes to ``endpoints.Endpoints``, and a new snapshot cuts
the relays through endpoints it no longer has ``available``.
A consumer's address of a resource configuration (``resources``) gets a
``RESOURCE`` socket per port of the configuration; ``resources.Gateways``
relays each connection to the resource through its gateway.

Ports below 1024 need root (or ``net.ipv4.ip_unprivileged_port_start``);
a port that cannot be bound is logged, listed in ``unbound`` (shown by
``GET /_latticework/vpcs/<id>``) and retried on the next snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Callable, Protocol, cast

from latticework.dataplane import endpoints, nlb, passthrough, resources, router
from latticework.dataplane.exchange import Connection
from latticework.dataplane.http1 import Http1Server
from latticework.dataplane.http2 import Http2Server
from latticework.dataplane.plane import Plane
from latticework.snapshot.model import HTTP, HTTPS, LOAD_BALANCER, TCP, TLS_PASSTHROUGH, VPC_ENDPOINT, Service, Snapshot

log = logging.getLogger("latticework.dataplane")

ACCEPT_BACKOFF = 0.1  # seconds without accepting after running out of descriptors (EMFILE, ENFILE)
ACCEPT_BATCH = 63  # TCP relays: connections accepted per wake-up beyond the first (bounded: others get a turn)
TLS_HANDSHAKE = 0x16
MIXED = "mixed"
PASSTHROUGH = "passthrough"  # sniffed, and TLS connections routed by SNI first (TLS_PASSTHROUGH listeners)
UDP, TCP_UDP = "UDP", "TCP_UDP"  # a node's UDP socket of a port, alone or beside its TCP socket


def wanted_sockets(snapshot: Snapshot) -> dict[tuple[str, int], str]:
    """(address, port) -> "HTTP" | "HTTPS" | "mixed" | "passthrough" | "TCP" for every socket the snapshot
    needs."""
    found: dict[tuple[str, int], set[str]] = {}
    # A service-network endpoint's interfaces are Lattice addresses too (``Snapshot.endpoint_views``).
    for vpc in (*snapshot.vpcs.values(), *snapshot.endpoint_views.values()):
        for route in vpc.routes.values():
            for port, listener in route.service.listeners.items():
                if listener.protocol in (HTTP, HTTPS, TLS_PASSTHROUGH):
                    found.setdefault((vpc.lattice, port), set()).add(listener.protocol)
    wanted = {key: _mode(protocols) for key, protocols in found.items()}
    wanted.update({key: TCP for key in endpoints.sockets(snapshot)})  # interface endpoints' relays
    for address, interface in snapshot.interfaces.items():
        balancer = snapshot.balancers.get(interface.owner) if interface.owner_kind == LOAD_BALANCER else None
        wanted.update({(address, port): TCP for port in (balancer.listeners if balancer else ())})
        wanted.update({(address, port): TCP_UDP if (address, port) in wanted else UDP
                       for port in (balancer.udp if balancer else ())})
    wanted.update(resources.wanted_sockets(snapshot))
    return wanted


def _mode(protocols: set[str]) -> str:
    if TLS_PASSTHROUGH in protocols:
        return PASSTHROUGH
    return protocols.pop() if len(protocols) == 1 else MIXED


def https_service(snapshot: Snapshot, address: str, port: int, name: str | None) -> Service | None:
    """The service a TLS client at ``address:port`` names by SNI, if it has an HTTPS listener there."""
    vpc = snapshot.vpc_at(address)
    route = router.route_for(vpc, name) if vpc else None
    if route is None:
        return None
    listener = route.service.listeners.get(port)
    return route.service if listener is not None and listener.protocol == HTTPS else None


class FrontEnd(Protocol):
    """What the listeners need of a connection's front end (``Http1Server``, ``Http2Server``)."""

    def drain(self) -> None: ...


class FrontDoor(asyncio.Protocol):
    """Accepts one connection, then hands the transport to the front end of its protocol."""

    def __init__(self, plane: Plane, opened: Callable | None = None):
        self.plane = plane
        self.opened = opened  # told of every front end started, for draining at shutdown

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, base)  # a stream connection's transport
        local, peer = transport.get_extra_info("sockname"), transport.get_extra_info("peername")
        vpc = self.plane.snapshot.vpc_at(local[0])
        if vpc is None or peer is None:  # the VPC went away between accept and now
            transport.abort()
            return
        tls = transport.get_extra_info("ssl_object")
        alpn = tls.selected_alpn_protocol() if tls is not None else None
        conn = Connection(vpc=vpc, client=tuple(peer[:2]), local=tuple(local[:2]),
                          scheme="https" if tls is not None else "http",
                          sni=getattr(tls, "lattice_sni", None), alpn=alpn,
                          opened=asyncio.get_running_loop().time())
        front = (Http2Server if alpn == "h2" else Http1Server)(self.plane, conn)
        transport.set_protocol(front)
        front.connection_made(transport)
        if self.opened is not None:
            self.opened(front, transport)

    def data_received(self, data: bytes) -> None:  # only before the hand-over, which never happens
        pass


class Listeners:
    def __init__(self, plane: Plane):
        self.plane = plane
        self.servers: dict[tuple[str, int], tuple[str, asyncio.Server | asyncio.Task]] = {}  # server or accept task
        self.unbound: set[tuple[str, int]] = set()
        self._pruned_at = 64
        self.fronts: dict[asyncio.Transport, FrontEnd] = {}  # open client connections and their front ends
        self.accepted = 0  # client connections handed to a front end, since start
        self.nodes = nlb.Nodes(plane)  # network load balancers: target choice and relays
        self.passthrough = passthrough.Passthrough(plane)  # TLS_PASSTHROUGH listeners' relays
        self.endpoints = endpoints.Endpoints(self.nodes)  # interface endpoints: their relays, to cut
        self.gateways = resources.Gateways(plane)  # resource gateways: consumers' connections to resources

    async def apply(self, snapshot: Snapshot, wanted: dict[tuple[str, int], str] | None = None) -> None:
        """Open and close sockets to serve ``snapshot``; ``wanted`` is its ``wanted_sockets`` when known."""
        wanted = wanted_sockets(snapshot) if wanted is None else wanted
        self.nodes.apply(snapshot)  # relays to targets whose deregistration ended
        for key, (mode, server) in list(self.servers.items()):
            if wanted.get(key) != mode:
                await self._stop(key)
        self.unbound &= set(wanted)
        for key, mode in wanted.items():
            if key not in self.servers:
                await self._start(key, mode)
        self.endpoints.cut(snapshot)  # relays through endpoints no longer available
        self.gateways.prune(snapshot)  # open resource connections the snapshot no longer allows are cut

    async def close(self, drain_seconds: float = 10.0) -> None:
        """Stop accepting, let open connections finish their requests (within ``drain_seconds``), then cut."""
        for key in list(self.servers):
            await self._stop(key)
        self._prune()
        for front in self.fronts.values():
            front.drain()  # HTTP/1.1: after the request in progress; HTTP/2: GOAWAY, then the open streams
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_seconds
        while self._prune() and loop.time() < deadline:
            await asyncio.sleep(0.05)  # connections close on their own schedule; nothing to wait on
        for transport in self.fronts:
            transport.abort()
        self.passthrough.close()  # relays have no request to finish: cut with the rest

    def _door(self) -> FrontDoor:
        return FrontDoor(self.plane, self._opened)

    def _opened(self, front: FrontEnd, transport: asyncio.Transport) -> None:
        self.accepted += 1
        if len(self.fronts) >= 2 * self._pruned_at:  # forget closed ones now and then, not per accept
            self._prune()
        self.fronts[transport] = front

    def _prune(self) -> int:
        self.fronts = {t: f for t, f in self.fronts.items() if not t.is_closing()}
        self._pruned_at = max(64, len(self.fronts))
        return len(self.fronts)

    # -- sockets -------------------------------------------------------------------------
    async def _start(self, key: tuple[str, int], mode: str) -> None:
        address, port = key
        try:
            sock = _listening_socket(address, port) if mode != UDP else None
            datagrams = _datagram_socket(address, port, sock) if mode in (UDP, TCP_UDP) else None
        except OSError as exc:
            if key not in self.unbound:
                log.warning("cannot listen on %s:%s (%s); listeners on that port stay unreachable", address, port,
                            exc.strerror or exc)
            self.unbound.add(key)
            return
        self.unbound.discard(key)
        loop = asyncio.get_running_loop()
        if datagrams is not None:
            self.servers[key] = (mode, asyncio.create_task(self._serve_datagrams(datagrams, sock, address, port)))
            return
        assert sock is not None  # every mode but UDP has its stream socket
        if mode == resources.RESOURCE:
            self.servers[key] = (mode, asyncio.create_task(self.gateways.serve(sock, address, port)))
            return
        if mode in (MIXED, PASSTHROUGH, TCP):
            task = asyncio.create_task(self._accept_relaying(sock, address, port) if mode == TCP
                                       else self._accept_sniffing(sock, address, port, mode == PASSTHROUGH))
            self.servers[key] = (mode, task)
            return
        tls = {"ssl": self._tls_context(address, port),
               "ssl_handshake_timeout": self.plane.limits.header_read_timeout} if mode == HTTPS else {}
        server = await loop.create_server(self._door, sock=sock, backlog=1024, **tls)
        self.servers[key] = (mode, server)

    async def _stop(self, key: tuple[str, int]) -> None:
        mode, server = self.servers.pop(key)
        if isinstance(server, asyncio.Task):
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)
        else:
            server.close()  # open connections finish their requests; no new ones

    def _tls_context(self, address: str, port: int):
        lookup: Callable[[str | None], Service | None] = \
            lambda name: https_service(self.plane.snapshot, address, port, name)
        return self.plane.certificates.listener_context(lookup)

    # -- network load balancer nodes ---------------------------------------------------------
    async def _accept_relaying(self, sock: socket.socket, address: str, port: int) -> None:
        """Relay every connection ``sock`` accepts, until cancelled. A readiness callback that stays registered
        accepts a bounded batch per wake-up: no future, no task step and no re-registration per wake-up, as
        ``sock_accept`` would cost."""
        loop = asyncio.get_running_loop()
        fd, family, kind = sock.fileno(), int(sock.family), int(sock.type)
        accept = sock._accept  # type: ignore[attr-defined]  # (fd, address): socket.accept without its wrapping

        def ready() -> None:
            for _ in range(ACCEPT_BATCH + 1):  # what the backlog holds, bounded: other sockets get their turn
                try:
                    client_fd, _ = accept()
                except BlockingIOError:
                    return
                except ConnectionAbortedError:  # the client reset before we took it: the next one may be there
                    continue
                except OSError as exc:  # out of descriptors or memory: the backlog stays readable, so back off
                    log.warning("accept on %s:%s: %s; retrying in %g s", address, port, exc, ACCEPT_BACKOFF)
                    loop.remove_reader(fd)
                    loop.call_later(ACCEPT_BACKOFF, resume)
                    return
                self._relay(socket.socket(family, kind, 0, client_fd), address, port)

        def resume() -> None:
            if not sock._closed:  # type: ignore[attr-defined]  # the port may have been closed meanwhile
                loop.add_reader(fd, ready)

        loop.add_reader(fd, ready)
        try:
            await loop.create_future()  # until the port is closed (cancelled)
        finally:
            loop.remove_reader(fd)
            sock.close()

    async def _serve_datagrams(self, datagrams: socket.socket, sock: socket.socket | None, address: str,
                               port: int) -> None:
        """A node's UDP socket (``nlb.UdpListener``), and its TCP socket beside it for a TCP_UDP listener."""
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(lambda: nlb.UdpListener(self.nodes, address, port),
                                                               sock=datagrams)
        except BaseException:
            datagrams.close()
            if sock is not None:
                sock.close()
            raise
        try:
            if sock is not None:
                await self._accept_relaying(sock, address, port)
            else:
                await loop.create_future()  # until the port is closed (cancelled)
        finally:
            transport.close()

    def _relay(self, client: socket.socket, address: str, port: int) -> None:
        snapshot = self.plane.snapshot
        interface = snapshot.interfaces.get(address)
        if interface is not None and interface.owner_kind == VPC_ENDPOINT:
            if self.endpoints.connect(client, snapshot, interface, port) is not None:
                self.accepted += 1
        elif interface is None:
            nlb.reset(client)
        elif self.nodes.connect(client, interface.owner, port) is not None:
            self.accepted += 1

    # -- HTTP and HTTPS on one port --------------------------------------------------------
    async def _accept_sniffing(self, sock: socket.socket, address: str, port: int, by_sni: bool = False) -> None:
        loop = asyncio.get_running_loop()
        context = self._tls_context(address, port)
        try:
            while True:
                client, _ = await loop.sock_accept(sock)
                asyncio.create_task(self._sniff(client, context, (address, port) if by_sni else None))
        finally:
            sock.close()

    async def _sniff(self, client: socket.socket, context, by_sni: tuple[str, int] | None = None) -> None:
        """``by_sni``: the listening address and port, when TLS passthrough listeners may take the connection."""
        loop = asyncio.get_running_loop()
        readable, fd = loop.create_future(), client.fileno()
        def ready() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(fd, ready)
        try:
            await asyncio.wait_for(readable, self.plane.limits.header_read_timeout)
            first = client.recv(1, socket.MSG_PEEK)
        except (asyncio.TimeoutError, OSError):
            first = b""
        finally:
            loop.remove_reader(fd)
        if not first:
            client.close()
            return
        tls = first[0] == TLS_HANDSHAKE
        if tls and by_sni is not None and await self.passthrough.take(client, *by_sni):
            return
        try:
            await loop.connect_accepted_socket(self._door, client, ssl=context if tls else None,
                                               ssl_handshake_timeout=self.plane.limits.header_read_timeout
                                               if tls else None)
        except (OSError, asyncio.TimeoutError):  # a failed handshake (ssl.SSLError is an OSError): already told
            client.close()


def _datagram_socket(address: str, port: int, beside: socket.socket | None) -> socket.socket:
    """A node's UDP socket, shared by every worker (``SO_REUSEPORT``: the kernel keeps a client's datagrams on
    one); ``beside`` (the port's TCP socket) is closed if it cannot be bound."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((address, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        if beside is not None:
            beside.close()
        raise
    return sock


def _listening_socket(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Every data-plane worker binds the same address and port; the kernel spreads connections over them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((address, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
