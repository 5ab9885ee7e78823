"""Network load balancers' data path: which target takes a new connection, the relay to it, and the end of a
deregistered target's delay.

A connection reaches a network load balancer at one of its nodes (a
``FabricInterface`` the load balancer owns, ``listeners`` binds a TCP socket
there per TCP listener) or, through PrivateLink, at an interface endpoint's
interface in a consumer VPC. Either way ``Nodes.connect`` picks a target of
the listener's target group and relays the connection to it
(``relay.start``).

Target choice (``Nodes.pick``) is the balancer's (``balancer.Balancer``):
round robin per worker over the targets that are not draining and have a
host socket, narrowed to the ``HEALTHY`` ones by the health checkers
(``health.HealthMonitor`` checks every group a listener uses); when none is
healthy (all unhealthy, or all still in their first checks) every target
takes turns: an NLB fails open
(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html).
A group with no target resets the client, as an NLB does. When a target
turns unhealthy while others are healthy, the connections relayed to it are
reset (``health_changed``) if the group's
``target_health_state.unhealthy.connection_termination.enabled`` (default
true) says so; AWS resets them on their next packet, here at once.

With the group's ``proxy_protocol_v2.enabled`` the relay first sends a PROXY
protocol v2 header (``relay.proxy_v2_header``): the client's address and the
address it connected to, plus AWS's VPC endpoint TLV when the connection came
through an interface endpoint (``endpoint_id``).

Cross-zone load balancing: each target has a zone (``Target.zone``, None
for every zone). With ``load_balancing.cross_zone.enabled`` off (the
group's setting, else the load balancer's; an NLB's default) a node picks
among its own zone's targets and those for every zone (``in_zone``, the
node's zone from the address the connection reached). ``dns_failover``
narrows the load balancer's name to the nodes whose zone has a healthy
target for every group its listeners use (all of them when none has): the
server's resolvers call it through their ``narrow`` hook.

TLS listeners: the node completes the TLS handshake and relays the plaintext
as for TCP. The default certificate is the one the user imported for that
ARN (the ACM stand-in of ``tls``: ``<state>/certificates/<certificate
id>/``), else one Latticework's CA issues for the load balancer's
``DNSName``; certificates added by AddListenerCertificates answer the SNI
names they carry (``_choose_certificate``). The listener's ``SslPolicy``
sets the TLS versions (``SSL_POLICIES``) and its ``AlpnPolicy`` what is
offered (``ALPN_POLICIES``). The handshake runs on the event loop
(``_serve_tls``) and hands the plaintext to the relay over a socket pair, so
the target leg is the same relay as for TCP (proxy protocol, idle timeout,
connection termination); the target connection opens while the handshake
runs, and a failed handshake closes it (with a FIN: the target sees what a
TCP health check looks like; an NLB would not have connected). Toward a
``TLS`` group the relay connects to a one-use loopback socket instead, whose
other side (``_reencrypt``) opens TLS to the target (its certificate not
verified, as AWS does) and pumps: relay.py stays plaintext-only.

UDP listeners (and the UDP half of ``TCP_UDP`` ones): each node binds a UDP
socket per port; the first datagram of a client address opens a flow
(``UdpFlow``) to the next target, a connected UDP socket that carries that
client's datagrams there and the target's datagrams back from the node's
address, until 120 s pass without a datagram
(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html#connection-idle-timeout).
Proxy protocol is not sent over UDP.

Deregistration delay: DeregisterTargets leaves a target of a group in use
``draining`` (no new connection goes to it; open ones go on). In the control
process ``Deregistrations`` waits out the group's
``deregistration_delay.timeout_seconds`` from the time the deregistration
began (kept in the record, so a restart does not prolong it) and then removes
the target from the group's record. Each worker's ``Nodes.apply`` sees the
target gone from the next snapshot and, when the group's
``deregistration_delay.connection_termination.enabled`` is true, closes the
relays it still has to it (with a reset); otherwise they go on until either
side ends them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import socket
import ssl
import struct
import time
from typing import Callable

from cryptography import x509

from latticework.dataplane import relay, tls
from latticework.dataplane.health import HEALTHY, UNHEALTHY
from latticework.dataplane.plane import Plane
from latticework.dataplane.tasks import cancel_all
from latticework.records import elbv2
from latticework.snapshot.model import NetworkLoadBalancer, Snapshot, Target, TargetGroup, TlsListener
from latticework.store import Store

log = logging.getLogger("latticework.dataplane.nlb")

Key = tuple[str, str]  # (target group id, target key)


def listener_group(snapshot: Snapshot, balancer_id: str, port: int, *, udp: bool = False) -> TargetGroup | None:
    """The target group the load balancer's listener on ``port`` forwards to (its TCP or TLS listener, or with
    ``udp`` its UDP or TCP_UDP one)."""
    balancer = snapshot.balancers.get(balancer_id)
    group_id = (balancer.udp if udp else balancer.listeners).get(port) if balancer is not None else None
    return snapshot.nlb_groups.get(group_id) if group_id is not None else None


def candidates(group: TargetGroup) -> tuple[Target, ...]:
    """The targets of ``group`` that may take new connections, health aside (not draining, with a host socket)."""
    return tuple(t for t in group.serving() if t.address is not None)


def zonal(group: TargetGroup, balancer: NetworkLoadBalancer) -> bool:
    """Whether each node keeps ``group``'s connections in its own zone: cross-zone load balancing is off (the
    group's ``load_balancing.cross_zone.enabled``, else the load balancer's) and some target has a zone."""
    cross_zone = balancer.cross_zone if group.cross_zone is None else group.cross_zone
    return not cross_zone and any(t.zone is not None for t in group.targets)


def in_zone(group: TargetGroup, zone: str) -> TargetGroup:
    """``group`` with the targets a node in ``zone`` may use: those in the zone and those in every zone. The
    same id: health, round robin and connection tracking stay the group's."""
    return dataclasses.replace(group, targets=tuple(t for t in group.targets if t.zone is None or t.zone == zone))


def dns_failover(snapshot: Snapshot, state: Callable[[str, str], str], addresses: tuple[str, ...]) -> tuple[str, ...]:
    """The addresses a load balancer's name answers: its nodes whose zone can serve every target group its
    listeners use (a healthy target the node may use), all of them when no zone can (Route 53 answers every
    record when none is healthy). Addresses that are not a network load balancer's nodes pass unchanged."""
    interfaces = [snapshot.interfaces.get(a) for a in addresses]
    owner = interfaces[0].owner if interfaces and interfaces[0] is not None else None
    balancer = snapshot.balancers.get(owner) if owner is not None else None
    if balancer is None or any(i is None or i.owner != owner for i in interfaces):
        return addresses
    groups = [g for id in {*balancer.listeners.values(), *balancer.udp.values()}
              if (g := snapshot.nlb_groups.get(id)) is not None]
    kept = tuple(a for a, i in zip(addresses, interfaces)
                 if i is not None and all(_serves(g, balancer, i.zone, state) for g in groups))
    return kept or addresses


def _serves(group: TargetGroup, balancer: NetworkLoadBalancer, zone: str, state: Callable[[str, str], str]) -> bool:
    """A node in ``zone`` has a healthy target of ``group`` to send to."""
    pool = candidates(in_zone(group, zone) if zonal(group, balancer) else group)
    if not group.health_check.enabled:
        return bool(pool)
    return any(state(group.id, t.key) == HEALTHY for t in pool)


class Nodes:
    """One worker's side of every network load balancer: target choice and the relays it starts."""

    def __init__(self, plane: Plane):
        self.plane = plane
        self.turns: dict[str, int] = {}  # target group id -> connections it was given (without a balancer)
        self.accepted = 0
        self.relays: dict[Key, set[relay.Relay | UdpFlow]] = {}  # open relays and flows per target (termination)
        self._contexts: dict[tuple[str, str], tuple[tuple, ssl.SSLContext]] = {}  # TLS listeners' contexts
        self._fronts: set[asyncio.Task] = set()  # TLS handshakes and their plaintext pumps
        self._zoned: dict[tuple[str, str], tuple[TargetGroup, TargetGroup]] = {}  # (group, zone) -> its view there

    def pick(self, balancer_id: str, port: int, *, udp: bool = False,
             node: Callable[[], str] | None = None) -> tuple[TargetGroup, Target] | None:
        """The group of the listener on ``port`` and its next target; ``node()`` (asked only when the group keeps
        to a zone) is the address of the node the connection reached, whose zone's targets it may use."""
        group = listener_group(self.plane.snapshot, balancer_id, port, udp=udp)
        if group is None:
            return None
        if node is not None:
            group = self._in_zone(group, balancer_id, node)
        balancer = self.plane.balancer
        if balancer is not None:  # health, fail-open and round robin, as for Lattice's groups
            target = balancer.pick(group)
            return (group, target) if target is not None else None
        targets = candidates(group)
        if not targets:
            return None
        turn = self.turns.get(group.id, 0)
        self.turns[group.id] = turn + 1
        return group, targets[turn % len(targets)]

    def _in_zone(self, group: TargetGroup, balancer_id: str, node: Callable[[], str]) -> TargetGroup:
        """``group`` as the node at ``node()`` sees it: with cross-zone load balancing off, its targets in the
        node's zone and those registered for every zone (cached per group object and zone)."""
        snapshot = self.plane.snapshot
        balancer = snapshot.balancers.get(balancer_id)
        if balancer is None or not zonal(group, balancer):
            return group
        try:
            interface = snapshot.interfaces.get(node())
        except OSError:  # the client is gone already: any view will do, the relay fails at once
            return group
        if interface is None:
            return group
        cached = self._zoned.get((group.id, interface.zone))
        if cached is None or cached[0] is not group:
            cached = self._zoned[(group.id, interface.zone)] = (group, in_zone(group, interface.zone))
        return cached[1]

    def connect(self, client: socket.socket, balancer_id: str, port: int, *, endpoint_id: str | None = None,
                client_address: relay.Address | None = None,
                destination: relay.Address | None = None) -> relay.Relay | None:
        """Relay ``client`` (an accepted socket, now ours) to a target of the listener on ``port``.

        For a group with proxy protocol v2 the header names ``client_address`` (default: the socket's peer)
        and ``destination`` (default: its local address), and carries AWS's TLV of ``endpoint_id`` when
        given (a connection through that interface endpoint)."""
        picked = self.pick(balancer_id, port, node=lambda: client.getsockname()[0])
        if picked is None:  # nowhere to go: reset, as an NLB does
            reset(client)
            return None
        group, target = picked
        assert target.address is not None  # the balancer keeps only targets with a host socket
        preface = b""
        if group.proxy_protocol_v2:
            try:
                source = client_address or client.getpeername()[:2]
                local = destination or client.getsockname()[:2]
            except OSError:  # the client is gone already
                reset(client)
                return None
            tlvs = [relay.aws_vpce_tlv(endpoint_id)] if endpoint_id else []
            preface = relay.proxy_v2_header(source, local, tlvs)
        balancer = self.plane.snapshot.balancers.get(balancer_id)
        certificate = balancer.certificates.get(port) if balancer is not None else None
        if certificate is not None:
            assert balancer is not None
            try:
                context = self._tls_context(certificate, balancer.dns_name, balancer.tls.get(port) or TlsListener())
            except (OSError, ValueError) as exc:  # an unreadable or mismatched user certificate
                log.warning("no TLS certificate for %s port %d (%s): %s", balancer_id, port, certificate, exc)
                reset(client)
                return None
            # The relay's end of a socket pair stands for the client; the TLS front pumps plaintext into the other.
            tls_client, (client, plaintext) = client, socket.socketpair()
        address, back = target.address, None
        if certificate is not None and group.protocol == "TLS":  # re-encrypted toward the target
            back = _one_use_listener()
            address, preface, back_preface = back.getsockname()[:2], b"", preface
        self.accepted += 1
        started = relay.start(client, address, preface=preface)
        self._track((group.id, target.key), started)
        if back is not None:
            self._spawn(_reencrypt(back, target.address, back_preface, TARGET_CONTEXT))
        if certificate is not None:
            self._spawn(_serve_tls(tls_client, plaintext, started, context))
        return started

    def apply(self, snapshot: Snapshot) -> None:
        """A new snapshot is serving: close the relays to targets whose deregistration ended, where their group
        says so (``deregistration_delay.connection_termination.enabled``)."""
        self._zoned = {k: v for k, v in self._zoned.items() if snapshot.nlb_groups.get(k[0]) is v[0]}
        for key in list(self.relays):
            group = snapshot.nlb_groups.get(key[0])
            if group is not None and any(t.key == key[1] for t in group.targets):
                continue  # still registered (draining or not): its connections go on
            relays = self.relays.pop(key, ())  # gone: no longer tracked either way
            if group is not None and group.terminate_on_deregistration:
                for open_relay in list(relays):
                    open_relay.close(reset=True)

    # -- TLS listeners ---------------------------------------------------------------

    def _tls_context(self, certificate_arn: str, dns_name: str, settings: TlsListener) -> ssl.SSLContext:
        """The server context of a TLS listener: its default certificate (the imported one of the ARN, else one
        the CA issues for the load balancer's name), the others chosen by SNI, its security and ALPN policies."""
        certificates = self.plane.certificates
        if certificates is None:
            raise ValueError("this data plane has no certificates (no CA)")
        arns = (certificate_arn, *settings.certificates)
        users = [tls.UserCertificate.find(certificates.user_dir, arn) if arn else None for arn in arns]
        basis = (settings, *(user.stamp if user else None for user in users))
        cached = self._contexts.get((certificate_arn, dns_name))
        if cached is None or cached[0] != basis:
            default = users[0]
            chain = (default.cert_pem, default.key_pem) if default else certificates.ca.issue([dns_name])
            context = policy_context(settings, *chain)
            # Other certificates answer the names they carry; one not imported here names nothing.
            by_name = {name: policy_context(settings, user.cert_pem, user.key_pem)
                       for user in reversed(users[1:]) if user is not None for name in dns_names(user.cert_pem)}
            if by_name:
                context.sni_callback = functools.partial(_choose_certificate, by_name)
            cached = self._contexts[(certificate_arn, dns_name)] = (basis, context)
        return cached[1]

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._fronts.add(task)
        task.add_done_callback(self._fronts.discard)

    def health_changed(self, state: Callable[[str, str], str]) -> None:
        """Target states changed: reset the connections to targets now unhealthy, where their group says so
        (``target_health_state.unhealthy.connection_termination.enabled``, on by default) and unless the group
        fails open (no target healthy), as an NLB does."""
        snapshot = self.plane.snapshot
        for key in list(self.relays):
            group = snapshot.nlb_groups.get(key[0])
            if group is None or not group.terminate_unhealthy or state(*key) != UNHEALTHY:
                continue
            if not any(state(group.id, t.key) == HEALTHY for t in candidates(group)):
                continue  # failing open: every target takes connections, its open ones go on
            for open_relay in list(self.relays.pop(key, ())):
                open_relay.close(reset=True)

    def open_flow(self, listener: "UdpListener", client: relay.Address) -> UdpFlow | None:
        """A new UDP flow from ``client`` at ``listener``, to the next target of its group (None: nowhere)."""
        interface = self.plane.snapshot.interfaces.get(listener.address)
        picked = self.pick(interface.owner, listener.port, udp=True,
                           node=lambda: listener.address) if interface is not None else None
        if picked is None:
            return None
        group, target = picked
        assert target.address is not None
        try:
            flow = UdpFlow(listener, client, target.address)
        except OSError as exc:
            log.info("UDP flow to %s: %s", target.address, exc)
            return None
        self._track((group.id, target.key), flow)
        return flow

    def _track(self, key: Key, started: relay.Relay | UdpFlow) -> None:
        if isinstance(started, relay.Relay):  # told as it ends, without a future per connection
            if started.reason is None:
                self.relays.setdefault(key, set()).add(started)
                started.when_ended(lambda _: self._forget(key, started))
            return
        if started.ended.done():
            return
        self.relays.setdefault(key, set()).add(started)
        started.ended.add_done_callback(lambda _: self._forget(key, started))

    def _forget(self, key: Key, ended: relay.Relay | UdpFlow) -> None:
        open_relays = self.relays.get(key)
        if open_relays is not None:
            open_relays.discard(ended)
            if not open_relays:
                del self.relays[key]


# -- UDP listeners -----------------------------------------------------------------------

UDP_IDLE_TIMEOUT = 120.0  # an NLB's UDP flows end after 120 s without a datagram (connection idle timeout, above)


class UdpListener(asyncio.DatagramProtocol):
    """A node's UDP socket of one listener port: a flow per client address, each to one target."""

    def __init__(self, nodes: Nodes, address: str, port: int):
        self.nodes, self.address, self.port = nodes, address, port
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[relay.Address, UdpFlow] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        client = (addr[0], addr[1])
        flow = self.flows.get(client)
        if flow is None:
            flow = self.nodes.open_flow(self, client)
            if flow is None:
                return  # no target: the datagram is dropped
            self.flows[client] = flow
        flow.send(data)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors about earlier datagrams to clients: UDP carries on

    def connection_lost(self, exc: Exception | None) -> None:
        for flow in list(self.flows.values()):
            flow.close()


class UdpFlow:
    """One client's datagrams to one target over a connected UDP socket, and the target's back to the client
    from the listener's address. Datagrams that find a full buffer are dropped, as UDP allows; the flow ends
    after ``idle_timeout`` without a datagram either way, or when closed (deregistration, unhealthy target)."""

    def __init__(self, listener: UdpListener, client: relay.Address, target: relay.Address,
                 idle_timeout: float = UDP_IDLE_TIMEOUT):
        self.loop = asyncio.get_running_loop()
        self.listener, self.client, self.target = listener, client, target
        family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            self.sock.connect(target)  # a literal address: no lookup
        except OSError:
            self.sock.close()
            raise
        self.idle_timeout = idle_timeout
        self.active = self.loop.time()
        self.ended: asyncio.Future[None] = self.loop.create_future()
        self.loop.add_reader(self.sock.fileno(), self._readable)
        self._timer = self.loop.call_later(idle_timeout, self._idle_check)

    def send(self, data: bytes) -> None:
        self.active = self.loop.time()
        try:
            self.sock.send(data)
        except OSError:  # a full buffer, or an ICMP error from an earlier datagram: this one is lost
            pass

    def close(self, reset: bool = False) -> None:
        """End the flow (``reset`` is for the relays' signature: UDP has nothing to reset)."""
        if self.ended.done():
            return
        self._timer.cancel()
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        if self.listener.flows.get(self.client) is self:
            del self.listener.flows[self.client]
        self.ended.set_result(None)

    def _readable(self) -> None:
        transport = self.listener.transport
        for _ in range(64):  # a bounded batch per wake-up: other flows get their turn
            try:
                data = self.sock.recv(65535)
            except BlockingIOError:
                return
            except OSError:  # ICMP port unreachable from the target: nothing to pass on
                continue
            self.active = self.loop.time()
            if transport is not None and not transport.is_closing():
                transport.sendto(data, self.client)

    def _idle_check(self) -> None:
        due = self.active + self.idle_timeout
        if self.loop.time() >= due:
            self.close()
        else:
            self._timer = self.loop.call_at(due, self._idle_check)


HANDSHAKE_TIMEOUT = 10.0  # seconds a TLS client has to complete its handshake


async def _serve_tls(client: socket.socket, plaintext: socket.socket, started: relay.Relay,
                     context: ssl.SSLContext) -> None:
    """Complete the TLS handshake with ``client``, then pump its plaintext to and from ``plaintext`` (the other
    end of the relay's socket pair) until both are done; a failed handshake closes the target connection."""
    loop = asyncio.get_running_loop()
    inner = _Half()
    try:
        await loop.connect_accepted_socket(lambda: inner, plaintext)
    except OSError:  # the relay closed its end already (the target refused): the client is reset
        plaintext.close()
        reset(client)
        return
    inner.pause()  # nothing goes to the client before its handshake is done
    outer = _Half(inner)
    try:
        await loop.connect_accepted_socket(lambda: outer, client, ssl=context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
        log.info("TLS handshake failed: %s", exc)
        client.close()
        started.close()  # the target saw a connection open; it closes as quietly as a TCP health check
        inner.abort()
        return
    if inner.closed.done():  # the target leg ended during the handshake (refused, reset): so does the client's
        outer.abort()
        return
    inner.resume()
    await asyncio.gather(inner.closed, outer.closed)


# Toward TLS targets: no verification of their certificate (AWS does not verify it either,
# https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html#target-group-routing-configuration),
# no ALPN, no SNI.
TARGET_CONTEXT = tls.client_context(None, alpn=())


def _one_use_listener() -> socket.socket:
    """A loopback socket the relay connects to in place of a TLS target; ``_reencrypt`` accepts it once."""
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)
    except OSError:
        listener.close()
        raise
    return listener


async def _reencrypt(listener: socket.socket, target: relay.Address, preface: bytes, context: ssl.SSLContext) -> None:
    """The target leg of a TLS listener forwarding to a TLS group: accept the relay's plaintext connection on
    ``listener``, open TLS toward ``target`` (a proxy protocol ``preface`` first, in the clear, as an NLB sends
    it) and pump between the two. A target that cannot be reached resets the relay's side: the relay resets
    the client, as for a refused plaintext target."""
    loop = asyncio.get_running_loop()
    try:
        inner_sock, _ = await asyncio.wait_for(loop.sock_accept(listener), relay.DEFAULT_CONNECT_TIMEOUT)
    except (OSError, asyncio.TimeoutError):
        return  # the relay gave up first
    finally:
        listener.close()
    outer_sock = socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET)
    outer_sock.setblocking(False)
    inner = _Half()
    outer = _Half(inner)
    try:
        await loop.connect_accepted_socket(lambda: inner, inner_sock)
        inner.pause()  # until the target's TLS session is up (what came before waits in ``early``)
        await asyncio.wait_for(loop.sock_connect(outer_sock, target), relay.DEFAULT_CONNECT_TIMEOUT)
        if preface:
            await loop.sock_sendall(outer_sock, preface)
        await asyncio.wait_for(loop.create_connection(lambda: outer, sock=outer_sock, ssl=context, server_hostname=""),
                               HANDSHAKE_TIMEOUT)
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
        log.info("TLS to target %s:%d failed: %s", target[0], target[1], exc)
        outer_sock.close()
        inner.abort()
        reset(inner_sock)
        return
    if inner.closed.done():  # the relay's side ended while the target's session opened: so does the target's
        outer.abort()
        return
    inner.resume()
    await asyncio.gather(inner.closed, outer.closed)


class _Half(asyncio.Protocol):
    """One side of the TLS front: what it receives goes to its ``peer``'s transport.

    An end of stream is passed on as a half-close where the peer's transport can (the plaintext socket),
    else as a close (TLS: close_notify); a side lost with an error aborts the other; flow control follows the
    peer's write buffer."""

    def __init__(self, peer: "_Half | None" = None):
        self.peer = peer
        self.early: list[bytes] = []  # received before the peer was connected: it gets them first
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if peer is not None:
            peer.peer = self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport
        if self.peer is not None and self.peer.early:
            transport.write(b"".join(self.peer.early))  # type: ignore[attr-defined]  # a stream transport
            self.peer.early.clear()

    def data_received(self, data: bytes) -> None:
        other = self._other()
        if other is not None:
            other.write(data)
        elif self.peer is not None and self.peer.transport is None:  # before ``pause`` took hold
            self.early.append(data)

    def eof_received(self) -> bool:
        other = self._other()
        if other is not None and other.can_write_eof():
            other.write_eof()
        elif other is not None:
            other.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        other = self._other()
        if other is not None and exc is not None:
            other.abort()
        elif other is not None and other.can_write_eof():
            other.write_eof()
        elif other is not None:
            other.close()
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.resume()

    def pause(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _other(self) -> asyncio.Transport | None:
        other = self.peer.transport if self.peer is not None else None
        return other if other is not None and not other.is_closing() else None


# -- TLS listeners' policies ----------------------------------------------------------------

# The security policies' protocol versions (ELB's table of policies:
# https://docs.aws.amazon.com/elasticloadbalancing/latest/network/describe-ssl-policies.html). Their TLS 1.2
# ciphers are ``tls.TLS12_CIPHERS`` (the "-Res-" and "FS-" policies: the forward-secret GCM ones only); TLS 1.3
# suites are OpenSSL's. Versions below what the local OpenSSL allows are not offered whatever the policy says.
_V = ssl.TLSVersion
SSL_POLICIES: dict[str, tuple[ssl.TLSVersion, ssl.TLSVersion]] = {
    "ELBSecurityPolicy-TLS13-1-3-2021-06": (_V.TLSv1_3, _V.TLSv1_3),
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04": (_V.TLSv1_3, _V.TLSv1_3),
    "ELBSecurityPolicy-TLS13-1-2-2021-06": (_V.TLSv1_2, _V.TLSv1_3),
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": (_V.TLSv1_2, _V.TLSv1_3),
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06": (_V.TLSv1_2, _V.TLSv1_3),
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06": (_V.TLSv1_2, _V.TLSv1_3),
    "ELBSecurityPolicy-TLS13-1-1-2021-06": (_V.TLSv1_1, _V.TLSv1_3),
    "ELBSecurityPolicy-TLS13-1-0-2021-06": (_V.TLSv1, _V.TLSv1_3),
    "ELBSecurityPolicy-TLS-1-2-2017-01": (_V.TLSv1_2, _V.TLSv1_2),
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06": (_V.TLSv1_2, _V.TLSv1_2),
    "ELBSecurityPolicy-FS-1-2-Res-2020-10": (_V.TLSv1_2, _V.TLSv1_2),
    "ELBSecurityPolicy-FS-1-2-Res-2019-08": (_V.TLSv1_2, _V.TLSv1_2),
    "ELBSecurityPolicy-FS-1-2-2019-08": (_V.TLSv1_2, _V.TLSv1_2),
    "ELBSecurityPolicy-TLS-1-1-2017-01": (_V.TLSv1_1, _V.TLSv1_2),
    "ELBSecurityPolicy-FS-2018-06": (_V.TLSv1, _V.TLSv1_2),
    "ELBSecurityPolicy-2016-08": (_V.TLSv1, _V.TLSv1_2),  # the API's default
    "ELBSecurityPolicy-2015-05": (_V.TLSv1, _V.TLSv1_2),
}
_FORWARD_SECRET_GCM = tuple(c for c in tls.TLS12_CIPHERS if c.startswith("ECDHE-") and "GCM" in c)

# ALPN policies: the protocols the node offers, in its order of preference (the server's choice wins),
# https://docs.aws.amazon.com/elasticloadbalancing/latest/network/create-tls-listener.html#alpn-policies
ALPN_POLICIES: dict[str, tuple[str, ...]] = {
    "HTTP1Only": ("http/1.1",), "HTTP2Only": ("h2",), "HTTP2Optional": ("http/1.1", "h2"),
    "HTTP2Preferred": ("h2", "http/1.1"), "None": (),
}


def policy_context(settings: TlsListener, cert_pem: str, key_pem: str) -> ssl.SSLContext:
    """A server context for one certificate under the listener's security and ALPN policies (an unknown
    policy name: the API's default, ``ELBSecurityPolicy-2016-08``)."""
    context = tls.server_context()
    policy = settings.ssl_policy if settings.ssl_policy in SSL_POLICIES else "ELBSecurityPolicy-2016-08"
    context.minimum_version, context.maximum_version = SSL_POLICIES[policy]
    if "-Res-" in policy or "-FS-" in policy:
        context.set_ciphers(":".join(_FORWARD_SECRET_GCM))
    context.set_alpn_protocols(list(ALPN_POLICIES.get(settings.alpn_policy, ())))
    tls.load_chain(context, cert_pem, key_pem)
    return context


def dns_names(cert_pem: str) -> tuple[str, ...]:
    """The DNS names of the first certificate of a PEM chain (its SANs, else its common name), lower case."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    return tuple(n.lower() for n in names)


def _choose_certificate(by_name: dict[str, ssl.SSLContext], ssl_object: ssl.SSLObject, server_name: str | None,
                        _context: ssl.SSLContext) -> None:
    """SNI: the certificate naming ``server_name`` (exactly, else by a ``*.`` wildcard), else the default."""
    if not server_name:
        return
    name = server_name.lower()
    chosen = by_name.get(name) or by_name.get("*." + name.partition(".")[2])
    if chosen is not None:
        ssl_object.context = chosen


def reset(client: socket.socket) -> None:
    """Close ``client`` with a TCP reset."""
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


# -- the control process's side: deregistration delays ------------------------------------

class Deregistrations:
    """Ends the deregistration delay of every draining target of the network load balancers' groups."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self._store = store
        self._clock = clock  # wall time: the record keeps when a deregistration began
        self._tasks: dict[tuple[Key, float], asyncio.Task] = {}  # (target, delay) -> its wait

    def apply(self, snapshot: Snapshot) -> None:
        """Wait out newly draining targets; stop waiting for those re-registered or gone, and start over for
        a group whose delay changed. Call it on the event loop at every snapshot swap."""
        wanted = {((g.id, t.key), g.deregistration_delay): (g, t)
                  for g in snapshot.nlb_groups.values() for t in g.targets if t.draining}
        for key in [k for k in self._tasks if k not in wanted]:
            self._tasks.pop(key).cancel()
        for key, (group, target) in wanted.items():
            if key not in self._tasks:
                task = asyncio.get_running_loop().create_task(self._drain(group, target), name=f"deregister {key}")
                task.add_done_callback(functools.partial(self._finished, key))
                self._tasks[key] = task

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        await cancel_all(tasks)

    def _finished(self, key: tuple[Key, float], task: asyncio.Task) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("deregistering target %s failed", key[0][1], exc_info=task.exception())

    async def _drain(self, group: TargetGroup, target: Target) -> None:
        record = self._store.reader(group.account, group.region, "Deregister").get(elbv2.TARGET_GROUP, group.id)
        since = elbv2.TargetGroupRecord(record).draining().get((target.id, target.port)) if record else None
        if since is None:
            return  # registered again, or gone, since the snapshot was compiled
        await asyncio.sleep(max(0.0, since + group.deregistration_delay - self._clock()))
        with self._store.transaction(group.account, group.region, "DeregisterTarget") as tx:
            elbv2.remove_drained_target(tx, group.id, target.id, target.port, since)
