"""Resource configurations' data path: a consumer's TCP connection, relayed through the resource gateway.

A consumer VPC reaches a SINGLE (or CHILD) resource configuration at fabric
addresses of its own block (``Snapshot.resource_at``): one per service-network
VPC association or service-network endpoint whose network offers it
(``fabric``: resource addresses), and the interfaces of a ``Resource``
endpoint to it. ``wanted_sockets`` asks for a TCP socket at each such address
on each port of the configuration's port ranges (at most ``MAX_PORTS`` per
address: a range such as ``1-65535`` cannot be served port by port; narrow
ranges first, then the first ports of wide ones, as the README says). A port
outside the ranges has no socket, so a client's connection is refused there.

``Gateways.serve`` accepts on one socket; each connection goes to the
configuration's resource, from one of its gateway's interface addresses in
turn (``relay.start(source=...)``), so the resource sees the gateway as its
client, as in AWS (SNAT to the gateway's addresses). Where the resource is:

- an IP resource: the host address the compiler mapped its address to (the
  same rule as targets: ``snapshot.compile._HostMap``);
- a DNS resource: its name resolved when the connection arrives. A gateway
  with ``IN_VPC`` resolution first answers it as its own VPC's resolver
  would from the snapshot (Lattice service names, endpoint and load balancer
  names, its resource names); ``PUBLIC`` (and ``IN_VPC`` for other names)
  asks the host's resolver (``localhost``, ``/etc/hosts`` and public names
  work). The address found is used as given.

A connection whose resource went away, or whose name does not resolve, is
reset; so is an open one once a snapshot no longer lets its consumer reach
the configuration on its port (``prune``: the association or endpoint
deleted, the port out of the ranges), as a deleted path carries no traffic.
Connections idle for 350 s are reset: the resource idle timeout third-party
sources report (AWS documents none for resources; an NLB's is 350 s too).
"""

from __future__ import annotations

import asyncio
import logging
import socket

from latticework.dataplane import relay
from latticework.dataplane.nlb import reset
from latticework.dataplane.plane import Plane
from latticework.snapshot.model import Resource, Snapshot, lookup

log = logging.getLogger("latticework.dataplane")

RESOURCE = "RESOURCE"  # the listeners' mode of a resource address's socket
MAX_PORTS = 256  # sockets per consumer address: a configuration's first ports when its ranges hold more
IDLE_TIMEOUT = 350.0


def served_ports(resource: Resource) -> list[int]:
    """The ports of ``resource``'s ranges a consumer address listens on: the first ``MAX_PORTS``, narrow
    ranges first (a single port named beside ``1-65535`` is served)."""
    ports: list[int] = []
    for low, high in sorted(resource.ports, key=lambda r: (r[1] - r[0], r[0])):
        ports.extend(p for p in range(low, min(high, low + MAX_PORTS) + 1) if p not in ports)
        if len(ports) >= MAX_PORTS:
            return ports[:MAX_PORTS]
    return ports


def wanted_sockets(snapshot: Snapshot) -> dict[tuple[str, int], str]:
    """(consumer address, port) -> ``RESOURCE`` for every resource address of ``snapshot``."""
    wanted: dict[tuple[str, int], str] = {}
    for address, rc_id in snapshot.resource_at.items():
        wanted.update({(address, port): RESOURCE for port in served_ports(snapshot.resources[rc_id])})
    return wanted


def in_vpc_addresses(snapshot: Snapshot, vpc_id: str, name: str) -> tuple[str, ...] | None:
    """What the resolver of ``vpc_id`` answers for ``name`` from the snapshot alone (None: it would ask
    the host's resolvers)."""
    view = snapshot.vpcs.get(vpc_id)
    if view is None:
        return None
    name = name.lower().rstrip(".")
    if name in view.routes:
        return (view.lattice,)
    return lookup(view.names, name) or lookup(snapshot.resource_names.get(vpc_id, {}), name) or \
        lookup(snapshot.names, name)


class Gateways:
    """One worker's side of every resource gateway: the relays from consumers to resources."""

    def __init__(self, plane: Plane):
        self.plane = plane
        self.turns: dict[str, int] = {}  # gateway id -> connections it carried (its addresses take turns)
        self.accepted = 0
        self.relays: dict[relay.Relay, tuple[str, int, str]] = {}  # open relays: (consumer address, port, rcfg id)

    async def serve(self, sock: socket.socket, address: str, port: int) -> None:
        """Accept on ``sock`` (a consumer's resource address) until cancelled."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                client, _ = await loop.sock_accept(sock)
                try:
                    self.connect(client, address, port)
                except OSError as exc:  # one client's trouble (it reset before we read it) stops no other
                    log.info("resource connection at %s:%s dropped: %s", address, port, exc)
                    client.close()
        finally:
            sock.close()

    def connect(self, client: socket.socket, address: str, port: int) -> None:
        snapshot = self.plane.snapshot
        rc_id = snapshot.resource_at.get(address)
        resource = snapshot.resources.get(rc_id) if rc_id is not None else None
        if resource is None or not resource.allows(port):
            reset(client)
            return
        self.accepted += 1
        if resource.host is not None:
            self._start(client, resource, (resource.host, port), address)
        elif resource.domain is not None:
            asyncio.get_running_loop().create_task(self._connect_by_name(client, resource, port, address))
        else:
            reset(client)

    def prune(self, snapshot: Snapshot) -> None:
        """Cut (reset) the open relays ``snapshot`` no longer allows: their consumer address reaches another
        configuration or none (an association, an endpoint or the configuration deleted), or their port left
        the configuration's ranges."""
        for started, (address, port, rc_id) in list(self.relays.items()):
            resource = snapshot.resources.get(rc_id)
            if snapshot.resource_at.get(address) != rc_id or resource is None or not resource.allows(port):
                started.close(reset=True)

    async def _connect_by_name(self, client: socket.socket, resource: Resource, port: int, address: str) -> None:
        assert resource.domain is not None  # ``connect`` sends DNS resources here only
        host = await self._resolve(resource, resource.domain)
        if host is None:
            log.info("resource %s: %s does not resolve; connection reset", resource.id, resource.domain)
            reset(client)
            return
        self._start(client, resource, (host, port), address)

    async def _resolve(self, resource: Resource, name: str) -> str | None:
        if resource.resolution == "IN_VPC":
            found = in_vpc_addresses(self.plane.snapshot, resource.vpc_id, name)
            if found:
                return found[0]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(name, None, family=socket.AF_INET,
                                                                 type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return None
        return str(infos[0][4][0]) if infos else None

    def _start(self, client: socket.socket, resource: Resource, target: relay.Address, address: str) -> None:
        source = self._source(resource)
        started = relay.start(client, target, idle_timeout=IDLE_TIMEOUT, source=source)
        self.relays[started] = (address, target[1], resource.id)
        started.ended.add_done_callback(lambda _: self.relays.pop(started, None))

    def _source(self, resource: Resource) -> str | None:
        """The gateway's next interface address (they take turns), None for a gateway without one."""
        if not resource.sources:
            return None
        turn = self.turns.get(resource.gateway_id, 0)
        self.turns[resource.gateway_id] = turn + 1
        return resource.sources[turn % len(resource.sources)]
