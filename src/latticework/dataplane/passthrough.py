"""TLS passthrough listeners: route a TLS connection by its ClientHello's server name, relay it untouched.

A service's ``TLS_PASSTHROUGH`` listener shares the VPC's Lattice address
with every other service's listeners of its port, HTTPS ones included
(``listeners`` sniffs those ports). For a connection whose first byte opens a
TLS handshake, ``Passthrough.take``:

1. waits for the whole ClientHello without consuming it (``read_hello``:
   ``MSG_PEEK`` with ``SO_RCVLOWAT`` set to the bytes ``clienthello.parse``
   still needs, so the loop wakes once they are there, not per segment);
2. picks the service by its server name (``router.passthrough_for``: the
   service's custom domain name, exactly). A name that selects no passthrough
   listener is left to TLS termination (``take`` answers False): an HTTPS
   listener of another service on the port may answer it, and where none
   does the handshake fails with ``unrecognized_name``, as for HTTPS (no
   server name at all ends the same way: SNI is required on Lattice's shared
   addresses). A malformed ClientHello, or none within the header timeout,
   closes the connection;
3. checks ``vpc-lattice-svcs:Connect`` when the network or the service has
   auth type ``AWS_IAM`` (``auth.authorize_connect``: anonymous, network-level
   keys). A denial resets the connection: there is no HTTP to answer 403 in;
4. picks a target of the listener's default action as HTTP does (weighted
   group, round robin over the group's candidates: healthy ones when the group
   is health checked, fail-open otherwise; ``balancer``) and relays the
   connection to it (``relay.start``). The ClientHello is still in the
   client socket, so the relay carries it first: the target sees the client's
   byte stream from its first byte and does the handshake with its own
   certificate. No target, or a target that cannot be reached: reset.

Timeouts: a relayed connection idle for ``IDLE_TIMEOUT`` (350 s, Lattice's TCP
value, reference §6.5) is reset, and one open for ``MAX_DURATION`` (10 minutes,
"connection duration is limited to 10 minutes" for TLS listeners) is cut.
A relay counts as a request in flight to its target while it lasts, so
deregistering the target drains it as it drains HTTP requests.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from latticework.dataplane import auth, clienthello, nlb, relay, router
from latticework.dataplane.plane import Plane
from latticework.snapshot.model import Forward, Listener, Route, Snapshot

log = logging.getLogger("latticework.dataplane")

IDLE_TIMEOUT = 350.0
MAX_DURATION = 600.0


class Passthrough:
    """One worker's TLS passthrough connections."""

    def __init__(self, plane: Plane):
        self.plane = plane
        self.relays: set[relay.Relay] = set()  # open ones
        self.accepted = 0  # connections relayed, since start

    async def take(self, client: socket.socket, address: str, port: int) -> bool:
        """Relay ``client`` (a TLS connection accepted at ``address:port``) if its server name picks a
        passthrough listener. False: not ours, ``client`` is untouched and TLS termination goes on."""
        try:
            hello = await read_hello(client, self.plane.limits.header_read_timeout)
        except (clienthello.NotClientHello, OSError, asyncio.TimeoutError):
            hello = None
        if hello is None:
            nlb.reset(client)
            return True
        snapshot = self.plane.snapshot
        vpc = snapshot.vpc_at(address)
        found = router.passthrough_for(vpc, hello.server_name, port) if vpc is not None else None
        if found is None:
            return False
        route, listener = found
        if auth.guarded(route) and not self._allowed(route, client, address, port):
            nlb.reset(client)
            return True
        self.connect(snapshot, client, route, listener)
        return True

    def _allowed(self, route: Route, client: socket.socket, address: str, port: int) -> bool:
        vpc = self.plane.snapshot.vpc_at(address)
        try:
            peer = client.getpeername()[0]
        except OSError:
            return False
        return vpc is not None and auth.authorize_connect(route, vpc, peer, port).allowed

    def connect(self, snapshot: Snapshot, client: socket.socket, route: Route, listener: Listener) -> None:
        """Relay ``client`` to the next target of ``listener``'s default action."""
        picked = self._pick(snapshot, listener)
        if picked is None:
            nlb.reset(client)
            return
        group_id, target = picked
        assert target.address is not None  # the balancer's candidates all have a host socket
        in_flight = self.plane.balancer.track(group_id, target)
        in_flight.__enter__()
        started = relay.start(client, target.address, idle_timeout=IDLE_TIMEOUT,
                              connect_timeout=self.plane.limits.connect_timeout)
        self.accepted += 1
        self.relays.add(started)
        cut = started.loop.call_later(MAX_DURATION, started.close, True)
        started.ended.add_done_callback(lambda _: self._ended(started, cut, in_flight))

    def _pick(self, snapshot: Snapshot, listener: Listener):
        action = listener.rules[-1].action  # the default rule: the only one a passthrough listener has
        if not isinstance(action, Forward):
            return None
        group_id = self.plane.balancer.choose_group(action)
        group = snapshot.target_groups.get(group_id) if group_id is not None else None
        target = self.plane.balancer.pick(group) if group is not None else None
        return (group_id, target) if target is not None else None

    def _ended(self, ended: relay.Relay, cut: asyncio.TimerHandle, in_flight) -> None:
        cut.cancel()
        in_flight.__exit__(None, None, None)
        self.relays.discard(ended)
        if ended.error:
            log.info("TLS passthrough to %s:%s ended %s: %s", *ended.target, ended.reason, ended.error)

    def close(self) -> None:
        """Cut every open relay (at shutdown)."""
        for open_relay in list(self.relays):
            open_relay.close()


async def read_hello(sock: socket.socket, timeout: float) -> clienthello.Hello | None:
    """The ClientHello waiting in ``sock``, left unread; None if the client stopped sending before it was
    whole. Raises ``NotClientHello`` for anything else, ``TimeoutError`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen, wanted = 0, clienthello.RECORD_HEADER
    try:
        while True:
            # The kernel reports the socket readable once ``wanted`` bytes are queued (or at end of stream).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, wanted)
            await asyncio.wait_for(_readable(sock), max(0.0, deadline - loop.time()))
            data = sock.recv(clienthello.MAX_BYTES, socket.MSG_PEEK)
            if len(data) <= seen:  # readable without new bytes: end of stream (or reset) mid-ClientHello
                return None
            seen = len(data)
            found = clienthello.parse(data)
            if isinstance(found, clienthello.Hello):
                return found
            wanted = found
    finally:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)


async def _readable(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    fd = sock.fileno()
    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
