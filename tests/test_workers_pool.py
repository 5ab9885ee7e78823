"""``WorkerPool`` with real worker processes, without a server: start-up failures, hung and dead workers.

The workers here serve an empty store (no listener to bind), so what is
checked is the pool's own bookkeeping: a worker that cannot start fails
``start`` with its status, a worker that stops answering is killed once
``ack_seconds`` are up and the write goes on, and a killed worker comes back
with a ``load`` of the store as it is then.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from dataplane_env import eventually
from latticework.dataplane import feed
from latticework.dataplane.health import INITIAL
from latticework.dataplane.tls import CertificateAuthority
from latticework.dataplane.workers import PoolSettings, WorkerFailed, WorkerPool

FABRIC = "127.250.0.0/16"  # the workers compile against it; with nothing to serve they bind nothing


def pool(state_dir: Path, count: int = 1, ack_seconds: float = 30.0, revision: list[int] | None = None) -> WorkerPool:
    now = revision if revision is not None else [1]
    return WorkerPool(PoolSettings(count, str(state_dir), FABRIC, ack_seconds=ack_seconds),
                      current_load=lambda: feed.load(now[0], {}), health_state=lambda group, key: INITIAL)


def test_a_worker_that_cannot_start_fails_the_start_with_its_status(tmp_path):
    async def scenario():
        workers = pool(tmp_path / "no-ca-here")  # a worker needs the CA the server creates first
        with pytest.raises(WorkerFailed, match="exited with status 1 before serving"):
            await workers.start(feed.load(1, {}))
        await workers.close(1.0)
    asyncio.run(scenario())


def test_a_hung_worker_is_killed_after_ack_seconds_and_comes_back_with_the_store_as_it_is(tmp_path):
    CertificateAuthority.load_or_create(tmp_path / "ca")
    store_revision = [1]

    async def scenario():
        workers = pool(tmp_path, count=2, ack_seconds=1.0, revision=store_revision)
        await workers.start(feed.load(1, {}))
        hung, other = (w["pid"] for w in workers.status()["workers"])
        os.kill(hung, signal.SIGSTOP)
        store_revision[0] = 2
        loop = asyncio.get_running_loop()
        started = loop.time()
        await workers.apply(feed.changes(2, {}))  # answered: the other worker serves it, the hung one is killed
        assert 1.0 <= loop.time() - started < 10.0

        def back() -> bool:
            found = workers.status()["workers"]
            return (workers.restarts == 1 and len(found) == 2 and hung not in {w["pid"] for w in found}
                    and all(w["revision"] >= 2 for w in found))
        await eventually(back, timeout=20)
        assert other in {w["pid"] for w in workers.status()["workers"]}
        await workers.close(1.0)
    asyncio.run(scenario())
