"""Network load balancers' data path: which target takes a new connection, and the relay to it.

A connection reaches a network load balancer at one of its nodes (a
``FabricInterface`` the load balancer owns, ``listeners`` binds a TCP socket
there per TCP listener) or, through PrivateLink, at an interface endpoint's
interface in a consumer VPC. Either way ``Nodes.connect`` picks a target of
the listener's target group and relays the connection to it
(``relay.start``). Targets are chosen round robin per worker over the
registered targets (a deregistered one gets no new connections); a group
with no target resets the client, as an NLB does.
"""

from __future__ import annotations

import socket
import struct

from latticework.dataplane import relay
from latticework.dataplane.plane import Plane
from latticework.snapshot.model import Snapshot, Target, TargetGroup


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
        ``endpoint_id``: the interface endpoint it came through, if any (for proxy protocol v2's AWS TLV)."""
        picked = self.pick(balancer_id, port)
        if picked is None:  # nowhere to go: reset, as an NLB does
            reset(client)
            return None
        _, target = picked
        assert target.address is not None  # ``candidates`` keeps only targets with a host socket
        self.accepted += 1
        return relay.start(client, target.address)


def reset(client: socket.socket) -> None:
    """Close ``client`` with a TCP reset."""
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
