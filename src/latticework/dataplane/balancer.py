"""Load balancing: which target group, then which target, serves a request.

Lattice balances in two steps, per request:

1. a ``Forward`` action splits traffic over its target groups in proportion
   to their weights (0-999; a weight of 0 takes no traffic) -- a weighted
   random choice (``choose_group``);
2. inside the chosen group, targets take turns: round robin, kept per target
   group even when the same address is registered with several groups
   (https://docs.aws.amazon.com/vpc-lattice/latest/ug/target-groups.html).

Which targets take turns is one policy, ``candidates``: targets that are not
draining and that the fabric maps somewhere; among them the HEALTHY ones when
the group is health checked, and all of them when none is HEALTHY: Lattice
fails open rather than refusing traffic
(https://docs.aws.amazon.com/vpc-lattice/latest/ug/target-group-health-checks.html).

The balancer also counts requests in flight per (target group, target), which
is what draining waits on (``drain.Drainer``): ``track`` wraps one request and
``wait_idle`` resolves once the count is back to zero.

Everything here runs on the data plane's event loop, per request, so the hot
path allocates nothing beyond its result: the candidate list is cached per
target group and recomputed only when the snapshot's group object or the
health monitor's ``generation`` changes.
"""

from __future__ import annotations

import asyncio
import random
from typing import Callable, Protocol

from latticework.snapshot.model import Forward, Target, TargetGroup

HEALTHY = "HEALTHY"
UNCHECKED_TYPES = frozenset({"ALB", "LAMBDA"})  # Lattice never health checks these groups
CONNECTIONLESS_TYPES = frozenset({"LAMBDA"})  # invoked, not connected to: no address needed


class Health(Protocol):
    """What the balancer needs from the health monitor.

    An optional integer attribute ``generation``, changed whenever any state
    changes, lets the balancer cache candidates; without it they are
    recomputed on every pick.
    """

    def state(self, group_id: str, target_key: str) -> str: ...


def candidates(group: TargetGroup, state: Callable[[str, str], str]) -> tuple[Target, ...]:
    """The targets of ``group`` that may take the next request, in registration order.

    Serving targets are those not draining and with an address (Lambda
    functions have none and need none). Health only narrows the choice when
    the group is health checked and at least one serving target is HEALTHY;
    otherwise every serving target takes turns, INITIAL and UNHEALTHY alike
    (Lattice's fail-open).
    """
    serving = tuple(t for t in group.targets if _serving(group, t))
    if not group.health_check.enabled or group.type in UNCHECKED_TYPES:
        return serving
    healthy = tuple(t for t in serving if state(group.id, t.key) == HEALTHY)
    return healthy or serving


def _serving(group: TargetGroup, target: Target) -> bool:
    return not target.draining and (target.address is not None or group.type in CONNECTIONLESS_TYPES)


class _InFlight:
    """One request in flight to one target: counted from ``__enter__`` to ``__exit__``."""

    __slots__ = ("_balancer", "_key")

    def __init__(self, balancer: "Balancer", key: tuple[str, str]):
        self._balancer = balancer
        self._key = key

    def __enter__(self) -> "_InFlight":
        counts = self._balancer._in_flight
        counts[self._key] = counts.get(self._key, 0) + 1
        return self

    def __exit__(self, *exc) -> None:
        self._balancer._release(self._key)


class Balancer:
    def __init__(self, health: Health, rng: random.Random | None = None):
        self._health = health
        self._rng = rng or random.Random()
        self._cursor: dict[str, int] = {}  # target group id -> next round-robin position
        # target group id -> (group object it was computed for, health generation, candidates)
        self._cache: dict[str, tuple[TargetGroup, int, tuple[Target, ...]]] = {}
        self._in_flight: dict[tuple[str, str], int] = {}
        self._idle: dict[tuple[str, str], list[asyncio.Future]] = {}

    # -- target groups --------------------------------------------------------------

    def choose_group(self, forward: Forward) -> str | None:
        """A target group id, drawn with probability weight / total weight; None if every weight is 0."""
        groups = forward.groups
        if len(groups) == 1:
            return groups[0].target_group_id if groups[0].weight > 0 else None
        total = forward.total_weight
        if total <= 0:
            return None
        point = self._rng.randrange(total)
        for g in groups:
            point -= g.weight
            if point < 0:
                return g.target_group_id
        return None  # unreachable: the points cover [0, total)

    # -- targets --------------------------------------------------------------------

    def pick(self, group: TargetGroup) -> Target | None:
        """The next target of ``group`` in round robin; None when no target can take a request."""
        pool = self._candidates(group)
        if not pool:
            return None
        turn = self._cursor.get(group.id, 0)
        self._cursor[group.id] = turn + 1
        return pool[turn % len(pool)]

    def _candidates(self, group: TargetGroup) -> tuple[Target, ...]:
        generation = getattr(self._health, "generation", None)
        if generation is None:
            return candidates(group, self._health.state)
        cached = self._cache.get(group.id)
        # Identity, not equality: the cache holds the group, so its id cannot be reused meanwhile.
        if cached is not None and cached[0] is group and cached[1] == generation:
            return cached[2]
        pool = candidates(group, self._health.state)
        self._cache[group.id] = (group, generation, pool)
        return pool

    # -- requests in flight ---------------------------------------------------------

    def track(self, group_id: str, target: Target) -> _InFlight:
        """``with balancer.track(group.id, target): ...`` counts one request in flight."""
        return _InFlight(self, (group_id, target.key))

    def in_flight(self, group_id: str, key: str) -> int:
        return self._in_flight.get((group_id, key), 0)

    async def wait_idle(self, group_id: str, key: str) -> None:
        """Return once no request is in flight to the target (at once if none is)."""
        wanted = (group_id, key)
        if not self._in_flight.get(wanted):
            return
        waiter = asyncio.get_running_loop().create_future()
        self._idle.setdefault(wanted, []).append(waiter)
        try:
            await waiter
        finally:
            self._forget_waiter(wanted, waiter)

    def _release(self, key: tuple[str, str]) -> None:
        left = self._in_flight.get(key, 0) - 1
        if left > 0:
            self._in_flight[key] = left
            return
        self._in_flight.pop(key, None)  # keep the table as small as the traffic
        for waiter in self._idle.pop(key, ()):
            if not waiter.done():
                waiter.set_result(None)

    def _forget_waiter(self, key: tuple[str, str], waiter: asyncio.Future) -> None:
        waiters = self._idle.get(key)
        if waiters and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._idle[key]
