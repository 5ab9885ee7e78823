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

TLS listeners: the node completes the TLS handshake with the listener's
default certificate and relays the plaintext as for TCP. The certificate is
the one the user imported for that ARN (the ACM stand-in of ``tls``:
``<state>/certificates/<certificate id>/``), else one Latticework's CA
issues for the load balancer's ``DNSName``. The handshake runs on the
event loop (``_TlsFront``) and hands the plaintext to the relay over a
socket pair, so the target leg is the same relay as for TCP (proxy protocol,
idle timeout, connection termination); the target connection opens while
the handshake runs, and a failed handshake closes it (with a FIN: the target
sees what a TCP health check looks like; an NLB would not have connected). TLS 1.2 and 1.3 with
the Lattice suites of ``tls.server_context`` (the listener's ``SslPolicy``
is not applied), no ALPN (an NLB's default ALPN policy is ``None``), one
certificate (no SNI choice among listener certificates). Only TLS listeners
forwarding to a ``TCP`` group are served: re-encrypting toward a ``TLS``
group is not built, so such a listener gets no socket (connections are
refused) rather than plaintext a TLS target would not understand.

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
import functools
import logging
import socket
import ssl
import struct
import time
from typing import Callable

from latticework.dataplane import relay, tls
from latticework.dataplane.health import HEALTHY, UNHEALTHY
from latticework.dataplane.plane import Plane
from latticework.records import elbv2
from latticework.snapshot.model import Snapshot, Target, TargetGroup
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


class Nodes:
    """One worker's side of every network load balancer: target choice and the relays it starts."""

    def __init__(self, plane: Plane):
        self.plane = plane
        self.turns: dict[str, int] = {}  # target group id -> connections it was given (without a balancer)
        self.accepted = 0
        self.relays: dict[Key, set[relay.Relay | UdpFlow]] = {}  # open relays and flows per target (termination)
        self._contexts: dict[tuple[str, str], tuple[tuple, ssl.SSLContext]] = {}  # TLS listeners' contexts
        self._fronts: set[asyncio.Task] = set()  # TLS handshakes and their plaintext pumps

    def pick(self, balancer_id: str, port: int, *, udp: bool = False) -> tuple[TargetGroup, Target] | None:
        group = listener_group(self.plane.snapshot, balancer_id, port, udp=udp)
        if group is None:
            return None
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

    def connect(self, client: socket.socket, balancer_id: str, port: int, *, endpoint_id: str | None = None,
                client_address: relay.Address | None = None,
                destination: relay.Address | None = None) -> relay.Relay | None:
        """Relay ``client`` (an accepted socket, now ours) to a target of the listener on ``port``.

        For a group with proxy protocol v2 the header names ``client_address`` (default: the socket's peer)
        and ``destination`` (default: its local address), and carries AWS's TLV of ``endpoint_id`` when
        given (a connection through that interface endpoint)."""
        picked = self.pick(balancer_id, port)
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
                context = self._tls_context(certificate, balancer.dns_name)
            except (OSError, ValueError) as exc:  # an unreadable or mismatched user certificate
                log.warning("no TLS certificate for %s port %d (%s): %s", balancer_id, port, certificate, exc)
                reset(client)
                return None
            # The relay's end of a socket pair stands for the client; the TLS front pumps plaintext into the other.
            tls_client, (client, plaintext) = client, socket.socketpair()
        self.accepted += 1
        started = relay.start(client, target.address, preface=preface)
        self._track((group.id, target.key), started)
        if certificate is not None:
            self._spawn(_serve_tls(tls_client, plaintext, started, context))
        return started

    def apply(self, snapshot: Snapshot) -> None:
        """A new snapshot is serving: close the relays to targets whose deregistration ended, where their group
        says so (``deregistration_delay.connection_termination.enabled``)."""
        for key in list(self.relays):
            group = snapshot.nlb_groups.get(key[0])
            if group is not None and any(t.key == key[1] for t in group.targets):
                continue  # still registered (draining or not): its connections go on
            relays = self.relays.pop(key, ())  # gone: no longer tracked either way
            if group is not None and group.terminate_on_deregistration:
                for open_relay in list(relays):
                    open_relay.close(reset=True)

    # -- TLS listeners ---------------------------------------------------------------

    def _tls_context(self, certificate_arn: str, dns_name: str) -> ssl.SSLContext:
        """The server context of a TLS listener: the imported certificate of the ARN, else a CA-issued one."""
        certificates = self.plane.certificates
        if certificates is None:
            raise ValueError("this data plane has no certificates (no CA)")
        user = tls.UserCertificate.find(certificates.user_dir, certificate_arn) if certificate_arn else None
        basis = (user.stamp if user else None,)
        cached = self._contexts.get((certificate_arn, dns_name))
        if cached is None or cached[0] != basis:
            context = tls.server_context()
            context.set_alpn_protocols([])  # an NLB's default ALPN policy: none
            cert_pem, key_pem = (user.cert_pem, user.key_pem) if user else certificates.ca.issue([dns_name])
            tls.load_chain(context, cert_pem, key_pem)
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
        picked = self.pick(interface.owner, listener.port, udp=True) if interface is not None else None
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


class _Half(asyncio.Protocol):
    """One side of the TLS front: what it receives goes to its ``peer``'s transport.

    An end of stream is passed on as a half-close where the peer's transport can (the plaintext socket),
    else as a close (TLS: close_notify); a side lost with an error aborts the other; flow control follows the
    peer's write buffer."""

    def __init__(self, peer: "_Half | None" = None):
        self.peer = peer
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if peer is not None:
            peer.peer = self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport

    def data_received(self, data: bytes) -> None:
        other = self._other()
        if other is not None:
            other.write(data)

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
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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
