"""Interface endpoints' data path: a connection to an endpoint's interface, on to its service's load balancer.

An ``Interface`` endpoint to a provider's endpoint service
(``Snapshot.endpoints``) listens, on each of its interfaces, on every TCP
listener port of the service's network load balancers (``ports``), as AWS's
endpoint accepts the load balancer's listener ports; ``listeners`` binds
those sockets, and only while the endpoint's connection is ``available``:
before the provider accepts, and once it rejects, nothing listens there and
a client is refused.

``Endpoints.connect`` sends an accepted connection to the load balancer the
interface's zone uses (``InterfaceEndpoint.balancer_for``: AWS connects an
endpoint, per zone, to one load balancer of the service), where
``nlb.Nodes.connect`` picks the target and relays, as for a connection to a
node. Each relay is filed under its endpoint and interface until it ends, so
that a snapshot in which the endpoint is no longer ``available`` (the
provider rejected the connection, the consumer deleted the endpoint), or no
longer has that interface (``ModifyVpcEndpoint`` removed its subnet, which
deletes the interface), resets them (``Endpoints.cut``), before the worker
reports serving that snapshot.
"""

from __future__ import annotations

import socket

from latticework.dataplane import nlb, relay
from latticework.snapshot.model import VPC_ENDPOINT, FabricInterface, Snapshot

Via = tuple[str, str]  # (interface endpoint id, the fabric address of the interface a connection came in at)


def sockets(snapshot: Snapshot) -> set[tuple[str, int]]:
    """(address, port) of every socket the snapshot's interface endpoints listen on."""
    return {(address, port) for address, interface in snapshot.interfaces.items()
            for port in ports(snapshot, interface)}


def ports(snapshot: Snapshot, interface: FabricInterface) -> frozenset[int]:
    """The ports an endpoint's interface accepts on: its load balancers' TCP listener ports, while ``available``."""
    endpoint = snapshot.endpoints.get(interface.owner) if interface.owner_kind == VPC_ENDPOINT else None
    return endpoint.ports(snapshot.balancers) if endpoint is not None and endpoint.available else frozenset()


class Endpoints:
    """One worker's side of every interface endpoint: the load balancer a connection goes to, and its open relays."""

    def __init__(self, nodes: nlb.Nodes):
        self.nodes = nodes
        self.through: dict[Via, set[relay.Relay]] = {}  # (endpoint id, interface address) -> its open relays

    def connect(self, client: socket.socket, snapshot: Snapshot, interface: FabricInterface,
                port: int) -> relay.Relay | None:
        """Relay ``client``, accepted at ``interface`` on ``port``, while the endpoint is ``available`` (a
        snapshot may have turned it away since the socket accepted); else reset it."""
        endpoint = snapshot.endpoints.get(interface.owner)
        balancer_id = endpoint.balancer_for(interface.zone, port, snapshot.balancers) \
            if endpoint is not None and endpoint.available else None
        if balancer_id is None:
            nlb.reset(client)
            return None
        started = self.nodes.connect(client, balancer_id, port, endpoint_id=interface.owner)
        if started is not None and started.reason is None:
            self._keep((interface.owner, interface.address), started)
        return started

    def cut(self, snapshot: Snapshot) -> int:
        """Reset every relay through an endpoint that ``snapshot`` no longer has ``available``, or through an
        interface it no longer has."""
        cut = 0
        for via in list(self.through):
            if not _open(snapshot, via):
                for open_relay in self.through.pop(via):
                    open_relay.close(reset=True)
                    cut += 1
        return cut

    def _keep(self, via: Via, started: relay.Relay) -> None:
        self.through.setdefault(via, set()).add(started)
        started.when_ended(lambda _: self._forget(via, started))  # no future per connection

    def _forget(self, via: Via, ended: relay.Relay) -> None:
        open_relays = self.through.get(via)
        if open_relays is not None:
            open_relays.discard(ended)
            if not open_relays:
                del self.through[via]


def _open(snapshot: Snapshot, via: Via) -> bool:
    """Whether connections through this endpoint and interface may go on."""
    endpoint_id, address = via
    endpoint, interface = snapshot.endpoints.get(endpoint_id), snapshot.interfaces.get(address)
    return endpoint is not None and endpoint.available and interface is not None and interface.owner == endpoint_id
