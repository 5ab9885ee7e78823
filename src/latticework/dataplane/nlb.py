"""Network load balancers' data path: which target takes a new connection, and the relay to it.

A connection reaches a network load balancer at one of its nodes (a
``FabricInterface`` the load balancer owns, ``listeners`` binds a TCP socket
there per TCP listener) or, through PrivateLink, at an interface endpoint's
interface in a consumer VPC. Either way ``Nodes.connect`` picks a target of
the listener's target group and relays the connection to it
(``relay.start``). Targets are chosen round robin per worker over the
registered targets (a deregistered one gets no new connections); a group
with no target resets the client, as an NLB does.

Relays started for an interface endpoint are kept by endpoint id
(``Nodes.through``) until they end, so that a snapshot in which the
endpoint's connection is no longer ``available`` (rejected by the provider,
or the endpoint deleted) cuts them with a reset (``Nodes.cut_endpoints``).
"""

from __future__ import annotations

import socket
import struct

from latticework.dataplane import relay
from latticework.dataplane.plane import Plane
from latticework.snapshot.model import Snapshot, Target, TargetGroup

Relays = dict[str, set[relay.Relay]]


def listener_group(snapshot: Snapshot, balancer_id: str, port: int) -> TargetGroup | None:
    """The target group the load balancer's listener on ``port`` forwards to."""
    balancer = snapshot.balancers.get(balancer_id)
    group_id = balancer.listeners.get(port) if balancer is not None else None
    return snapshot.nlb_groups.get(group_id) if group_id is not None else None


def candidates(group: TargetGroup) -> tuple[Target, ...]:
    """The targets of ``group`` that take new connections."""
    return tuple(t for t in group.serving() if t.address is not None)


class Nodes:
    """One worker's side of every network load balancer: target choice and the relays it starts."""

    def __init__(self, plane: Plane):
        self.plane = plane
        self.turns: dict[str, int] = {}  # target group id -> connections it was given (round robin)
        self.accepted = 0
        self.through: Relays = {}  # interface endpoint id -> its open relays

    def pick(self, balancer_id: str, port: int) -> tuple[TargetGroup, Target] | None:
        group = listener_group(self.plane.snapshot, balancer_id, port)
        targets = candidates(group) if group is not None else ()
        if group is None or not targets:
            return None
        turn = self.turns.get(group.id, 0)
        self.turns[group.id] = turn + 1
        return group, targets[turn % len(targets)]

    def connect(self, client: socket.socket, balancer_id: str, port: int, *,
                endpoint_id: str | None = None) -> relay.Relay | None:
        """Relay ``client`` (an accepted socket, now ours) to a target of the listener on ``port``;
        ``endpoint_id``: the interface endpoint it came through (its relays are cut with its connection)."""
        picked = self.pick(balancer_id, port)
        if picked is None:  # nowhere to go: reset, as an NLB does
            reset(client)
            return None
        _, target = picked
        assert target.address is not None  # ``candidates`` keeps only targets with a host socket
        self.accepted += 1
        started = relay.start(client, target.address)
        if endpoint_id is not None:
            _keep(self.through, endpoint_id, started)
        return started

    def cut_endpoints(self, snapshot: Snapshot) -> int:
        """Reset every relay through an endpoint whose connection ``snapshot`` no longer has ``available``."""
        cut = 0
        for endpoint_id in list(self.through):
            endpoint = snapshot.endpoints.get(endpoint_id)
            if endpoint is None or not endpoint.available:
                for open_relay in self.through.pop(endpoint_id):
                    open_relay.close(reset=True)
                    cut += 1
        return cut


def _keep(through: Relays, endpoint_id: str, started: relay.Relay) -> None:
    """File ``started`` under its endpoint until it ends."""
    relays = through.setdefault(endpoint_id, set())
    relays.add(started)

    def forget(_) -> None:
        relays.discard(started)
        if not relays and through.get(endpoint_id) is relays:
            del through[endpoint_id]

    started.ended.add_done_callback(forget)


def reset(client: socket.socket) -> None:
    """Close ``client`` with a TCP reset."""
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
