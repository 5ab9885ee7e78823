"""Draining: a deregistered target's record goes once its requests end, or when the drain time is up."""

from __future__ import annotations

import asyncio

import pytest

from dataplane_env import eventually
from latticework.dataplane.balancer import Balancer
from latticework.dataplane.drain import Drainer
from latticework.dataplane.health import HealthMonitor
from latticework.dataplane.plane import Limits
from latticework.snapshot.model import HealthCheck, Snapshot, Target, TargetGroup
from latticework.store import Record
from latticework.store.sql import SqlStore

ACCOUNT, REGION, TG = "111111111111", "us-east-1", "tg-0123456789abcdef0"


@pytest.fixture
def store(tmp_path):
    opened = SqlStore.sqlite(tmp_path / "state.db")
    yield opened
    opened.close()


def register(store: SqlStore, n: int = 0, status: str = "DRAINING") -> Target:
    """A target record as RegisterTargets (and DeregisterTargets, for DRAINING) leave it."""
    key, port = f"{TG}/{n:03d}-digest", 9000 + n
    body = {"id": "127.0.0.1", "port": port, "status": status, "createdAt": "2024-01-01T00:00:00Z",
            "reasonCode": "TargetDeregistrationInProgress" if status == "DRAINING" else "HealthCheckInProgress"}
    with store.transaction(ACCOUNT, REGION, "RegisterTargets") as tx:
        tx.delete("target", key)
        tx.put(Record(kind="target", id=key, account=ACCOUNT, region=REGION, body=body, parent=TG,
                      name=f"127.0.0.1:{port}", status="DELETE_IN_PROGRESS" if status == "DRAINING" else None))
    return Target(key=key, id="127.0.0.1", port=port, address=("127.0.0.1", port), draining=status == "DRAINING")


def snapshot(*targets: Target) -> Snapshot:
    group = TargetGroup(id=TG, arn=f"arn:aws:vpc-lattice:{REGION}:{ACCOUNT}:targetgroup/{TG}", name="drained",
                        account=ACCOUNT, region=REGION, type="IP", protocol="HTTP", protocol_version="HTTP1", port=80,
                        vpc_id="vpc-1", health_check=HealthCheck(enabled=False), targets=targets, used=True)
    return Snapshot(revision=1, target_groups={TG: group})


def exists(store: SqlStore, target: Target) -> bool:
    return store.reader(ACCOUNT, REGION, "test").get("target", target.key) is not None


def drained(store, scenario, drain_seconds: float = 30.0):
    """Run ``scenario(drainer, balancer)`` on a fresh event loop."""
    async def main():
        balancer = Balancer(HealthMonitor(store, Limits()))
        drainer = Drainer(store, balancer, Limits(drain_seconds=drain_seconds))
        try:
            return await scenario(drainer, balancer)
        finally:
            await drainer.close()

    return asyncio.run(main())


def test_a_target_without_requests_in_flight_leaves_at_once(store):
    async def scenario(drainer, balancer):
        target = register(store)
        drainer.apply(snapshot(target))
        await eventually(lambda: not exists(store, target), timeout=2)
        await eventually(lambda: not drainer.draining())

    drained(store, scenario)


def test_the_record_goes_when_the_last_request_in_flight_ends(store):
    async def scenario(drainer, balancer):
        target = register(store)
        first, second = balancer.track(TG, target), balancer.track(TG, target)
        with first:
            with second:
                drainer.apply(snapshot(target))
                assert balancer.in_flight(TG, target.key) == 2
                await asyncio.sleep(0.05)  # give a wrong drain every chance to delete early
                assert exists(store, target) and drainer.draining() == {(TG, target.key)}
            await asyncio.sleep(0.05)
            assert exists(store, target) and balancer.in_flight(TG, target.key) == 1
        await eventually(lambda: not exists(store, target), timeout=2)

    drained(store, scenario)


def test_the_drain_time_ends_draining_with_requests_still_in_flight(store):
    async def scenario(drainer, balancer):
        target = register(store)
        with balancer.track(TG, target):
            started = asyncio.get_running_loop().time()
            drainer.apply(snapshot(target))
            await eventually(lambda: not exists(store, target), timeout=3)
            assert asyncio.get_running_loop().time() - started >= 0.2
            assert balancer.in_flight(TG, target.key) == 1  # the request itself is left to finish

    drained(store, scenario, drain_seconds=0.2)


def test_every_snapshot_starts_a_drain_only_once(store):
    async def scenario(drainer, balancer):
        target = register(store)
        with balancer.track(TG, target):
            drainer.apply(snapshot(target))
            task = drainer._tasks[(TG, target.key)]
            drainer.apply(snapshot(target))
            assert drainer._tasks[(TG, target.key)] is task
        await eventually(lambda: not exists(store, target), timeout=2)

    drained(store, scenario)


def test_a_target_registered_again_while_draining_stays(store):
    async def scenario(drainer, balancer):
        target = register(store)
        with balancer.track(TG, target):
            drainer.apply(snapshot(target))
            task = drainer._tasks[(TG, target.key)]
            again = register(store, status="INITIAL")  # the same record id, a new record
        await eventually(task.done)  # no request left: the drain ends, finding the new record
        assert not task.cancelled() and exists(store, again)
        drainer.apply(snapshot(again))
        assert drainer.draining() == frozenset()

    drained(store, scenario)


def test_registering_again_stops_the_drain(store):
    async def scenario(drainer, balancer):
        target = register(store)
        with balancer.track(TG, target):
            drainer.apply(snapshot(target))
            task = drainer._tasks[(TG, target.key)]
            again = register(store, status="INITIAL")
            drainer.apply(snapshot(again))
            await eventually(task.done)
            assert task.cancelled() and drainer.draining() == frozenset()
        assert exists(store, again)

    drained(store, scenario)


def test_deregistering_again_drains_again(store):
    async def scenario(drainer, balancer):
        target = register(store)
        with balancer.track(TG, target):
            drainer.apply(snapshot(target))
            drainer.apply(snapshot(register(store, status="INITIAL")))
            target = register(store)  # deregistered once more: a new drain
            drainer.apply(snapshot(target))
            assert exists(store, target)
        await eventually(lambda: not exists(store, target), timeout=2)

    drained(store, scenario)


def test_a_record_already_gone_is_no_error(store):
    async def scenario(drainer, balancer):
        target = register(store)
        with store.transaction(ACCOUNT, REGION, "DeleteTargetGroup") as tx:
            tx.delete("target", target.key)
        revision = store.revision()
        drainer.apply(snapshot(target))
        await eventually(lambda: not drainer.draining())
        assert store.revision() == revision  # nothing to delete: nothing written

    drained(store, scenario)


def test_close_stops_every_drain(store):
    async def scenario(drainer, balancer):
        targets = [register(store, n) for n in range(3)]
        for t in targets:
            balancer.track(TG, t).__enter__()
        drainer.apply(snapshot(*targets))
        tasks = list(drainer._tasks.values())
        await drainer.close()
        assert all(t.cancelled() for t in tasks) and drainer.draining() == frozenset()
        assert all(exists(store, t) for t in targets)

    drained(store, scenario)


def test_a_drain_never_removes_a_later_registration_draining_in_its_turn(store):
    async def scenario(drainer, balancer):
        target = register(store)
        with balancer.track(TG, target):
            drainer.apply(snapshot(target))
            task = drainer._tasks[(TG, target.key)]
            await asyncio.sleep(0)  # one turn of the loop: the drain reads the record it drains, then waits
            later = register(store)  # registered and deregistered again: the same id, another record
        await eventually(task.done)  # the first drain ends, finding a record it did not start
        assert not task.cancelled() and exists(store, later)

    drained(store, scenario)
