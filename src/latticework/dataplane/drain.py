"""Draining: a deregistered target finishes its requests, then leaves its group.

DeregisterTargets marks a target ``DRAINING``; from the snapshot holding that
mark on, the balancer sends it no new request. The ``Drainer`` then waits for
the target's requests in flight (``InFlight.wait_idle``: the balancer of one
process, or every worker's, ``workers.WorkerPool``) for at most the
drain time, ``limits.drain_seconds`` (Lattice's default draining time is one
minute: TargetSummary in the API reference,
https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_TargetSummary.html;
older editions said five), and then deletes the target's record, which ends
DRAINING in ListTargets. As with Elastic Load Balancing, a target with nothing
in flight completes its deregistration at once. Requests still running when
the time is up are left to finish; the target just no longer belongs to the
group.

Records are re-read before anything is deleted: a target re-registered while
it drained is a new record (a new ``created_rev``, even when it reuses the
id), and the drain of the old one must not remove it. The drain time counts
from the first snapshot in which this data plane sees the target draining.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from latticework.dataplane.plane import Limits
from latticework.dataplane.tasks import cancel_all
from latticework.records import lattice
from latticework.records.lattice import draining_since
from latticework.snapshot.model import Snapshot, TargetGroup
from latticework.store import Store

log = logging.getLogger("latticework.dataplane.drain")

Key = tuple[str, str]  # (target group id, target key)


class InFlight(Protocol):
    """Where requests to targets are counted."""

    async def wait_idle(self, group_id: str, target_key: str) -> None:
        """Return once no request is in flight to the target (at once if none is)."""


def _draining(snapshot: Snapshot) -> dict[Key, TargetGroup]:
    return {(g.id, t.key): g for g in snapshot.target_groups.values() for t in g.targets if t.draining}


class Drainer:
    def __init__(self, store: Store, in_flight: InFlight, limits: Limits):
        self._store = store
        self._in_flight = in_flight  # what a drain waits on
        self._limits = limits
        self._tasks: dict[Key, asyncio.Task] = {}

    def apply(self, snapshot: Snapshot) -> None:
        """Start draining newly draining targets; stop for those no longer draining (re-registered, gone).

        Call it on the event loop at every snapshot swap.
        """
        draining = _draining(snapshot)
        for key in [k for k in self._tasks if k not in draining]:
            self._tasks.pop(key).cancel()
        for key, group in draining.items():
            if key not in self._tasks:
                self._start(key, group)

    def draining(self) -> frozenset[Key]:
        """Targets whose drain is under way."""
        return frozenset(self._tasks)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        await cancel_all(tasks)

    # -- one target ------------------------------------------------------------------

    def _start(self, key: Key, group: TargetGroup) -> None:
        task = asyncio.get_running_loop().create_task(self._drain(key, group), name=f"drain {key[1]}")
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: Key, task: asyncio.Task) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("draining target %s failed", key[1], exc_info=task.exception())

    async def _drain(self, key: Key, group: TargetGroup) -> None:
        record = self._store.reader(group.account, group.region, "Drain").get(lattice.TARGET, key[1])
        if record is None or not draining_since(record):
            return  # already gone, or re-registered since the snapshot was compiled
        try:
            async with asyncio.timeout(self._limits.drain_seconds):
                await self._in_flight.wait_idle(*key)
        except TimeoutError:
            log.info("target %s of %s: drain time over with requests still in flight",
                     lattice.TargetRecord(record).target_id, group.id)
        self._deregister(group, key[1], record.created_rev)

    def _deregister(self, group: TargetGroup, target_key: str, generation: int) -> None:
        with self._store.transaction(group.account, group.region, "DrainTarget") as tx:
            lattice.remove_drained_target(tx, target_key, generation)
