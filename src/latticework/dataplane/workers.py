"""The worker processes that serve traffic, seen from the control process.

``WorkerPool`` starts ``count`` processes (``python -m
latticework.dataplane.worker``), each connected by a socket pair that
carries the feed (``feed``), and keeps them running:

- ``apply(message)`` relays one ``load``/``changes`` to every worker and
  returns once each serves that revision (or a newer one). A worker started
  meanwhile counts too: it got a ``load`` of the store as it was then, and the
  relayed changes after it, so the answer to a write always means "every
  worker serves it". A worker that does not answer within ``ack_seconds`` is
  killed (and restarted), so a hung process cannot hold up writes for ever.
- Health states decided by the control process's checkers reach every worker
  (``health_changed``; coalesced to one message per loop iteration) and a
  restarted worker gets all of them after its ``load``.
- ``wait_idle(group, target)`` resolves once no worker has a request in
  flight to that target: the ``drain.Drainer`` waits on it, once every
  worker serves a snapshot where the target is draining. Each worker's
  ``serving`` lists the draining targets it is still busy with; only those
  workers are asked (``idle?``), so a target nothing is in flight to
  leaves at once, before the API answers its deregistration. A worker that
  dies has nothing in flight any more.
- A worker that exits unasked is logged and restarted (after a pause that
  grows while it keeps failing). One that fails before its first ``serving``
  at start-up makes ``start`` fail: the server does not start half-served.
- ``close(drain)`` asks every worker to stop accepting and finish its open
  requests, and kills what has not exited ``drain`` seconds (plus a margin) later.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import sys
from dataclasses import dataclass, field
from typing import Callable

from latticework.dataplane import feed
from latticework.dataplane.health import INITIAL
from latticework.dataplane.plane import Limits

log = logging.getLogger("latticework.dataplane.workers")

RESTART_PAUSE = (0.1, 10.0)  # seconds before restarting a crashed worker: first, and at most (doubling)
STEADY_SECONDS = 30.0  # a worker that ran this long before crashing is restarted after the shortest pause

Key = tuple[str, str]  # (target group id, target key)


@dataclass
class PoolSettings:
    count: int
    state_dir: str
    fabric: str
    limits: Limits = field(default_factory=Limits)
    ack_seconds: float = 30.0  # a worker that takes longer to serve a revision is taken for hung
    start_seconds: float = 60.0  # to the first ``serving`` at start-up
    accounts: dict | None = None  # the accounts file's directory as data (``config.Directory.to_json``)


class WorkerFailed(RuntimeError):
    """A worker could not start serving."""


@dataclass(eq=False)
class _Worker:
    slot: int
    process: asyncio.subprocess.Process
    channel: feed.Channel
    exited: asyncio.Future  # its exit status, once it is gone
    revision: int = -1  # the newest revision it said it serves
    busy: frozenset[Key] = frozenset()  # draining targets it still had requests in flight to, then
    unbound: frozenset[tuple[str, int]] = frozenset()
    lag: dict = field(default_factory=dict)
    idle: dict[int, asyncio.Future] = field(default_factory=dict)  # ``idle?`` ids waiting for an answer


class WorkerPool:
    def __init__(self, settings: PoolSettings, current_load: Callable[[], feed.Message],
                 health_state: Callable[[str, str], str]):
        """``current_load``: a ``load`` message of the store now (for a restarted worker);
        ``health_state(group id, target key)``: a target's state as the checkers hold it now."""
        self.settings = settings
        self._current_load = current_load
        self._health_state = health_state
        self._workers: dict[int, _Worker] = {}
        self._supervisors: list[asyncio.Task] = []
        self._progress = asyncio.Condition()
        self._sent_health: dict[Key, str] = {}  # every state but INITIAL, as the workers have it
        self._health_pending: set[Key] = set()
        self._ids = itertools.count()
        self._closing = False
        self.restarts = 0

    # -- life --------------------------------------------------------------------------

    async def start(self, first: feed.Message) -> None:
        """Start every worker on ``first`` (a ``load``) and return once all serve it.

        Raises ``WorkerFailed`` if one exits or stays silent before that."""
        started = [self._spawn(slot, first) for slot in range(self.settings.count)]
        workers = await asyncio.gather(*started)
        try:
            async with asyncio.timeout(self.settings.start_seconds):
                await self._wait(lambda: all(w.revision >= first["revision"] or w.exited.done() for w in workers))
        except TimeoutError:
            raise WorkerFailed(f"data-plane workers not serving after {self.settings.start_seconds:g} s") from None
        failed = [w for w in workers if w.exited.done()]
        if failed:
            raise WorkerFailed(f"data-plane worker {failed[0].slot} exited with status "
                               f"{failed[0].process.returncode} before serving")
        self._supervisors = [asyncio.create_task(self._supervise(w), name=f"worker {w.slot}") for w in workers]

    async def close(self, drain: float) -> None:
        self._closing = True
        for task in self._supervisors:
            task.cancel()
        workers = list(self._workers.values())
        for w in workers:
            w.channel.send({"t": "stop", "drain": drain})
        await asyncio.gather(*(self._stopped(w, drain + 5.0) for w in workers))

    async def _stopped(self, worker: _Worker, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await worker.process.wait()
        except TimeoutError:
            log.warning("data-plane worker %d (pid %d) did not stop in time; killed", worker.slot, worker.process.pid)
            worker.process.kill()
            await worker.process.wait()
        worker.channel.close()

    # -- the control process's side ------------------------------------------------------

    async def apply(self, message: feed.Message) -> None:
        """Relay a ``load``/``changes`` to every worker; return once each serves its revision."""
        revision, framed = message["revision"], feed.frame(message)
        for w in self._workers.values():
            w.channel.send(framed)
        try:
            async with asyncio.timeout(self.settings.ack_seconds):
                await self._wait(lambda: all(w.revision >= revision for w in self._workers.values()))
        except TimeoutError:
            for w in self._workers.values():
                if w.revision < revision:
                    log.error("data-plane worker %d (pid %d) did not serve revision %d within %g s; killed",
                              w.slot, w.process.pid, revision, self.settings.ack_seconds)
                    w.process.kill()

    def health_changed(self, key: Key) -> None:
        """A target's state may have changed: tell every worker, once this loop iteration is over."""
        if not self._health_pending:
            asyncio.get_running_loop().call_soon(self._push_health)
        self._health_pending.add(key)

    async def wait_idle(self, group_id: str, target_key: str) -> None:
        """Return once no worker has a request in flight to the target."""
        asked = []
        for w in self._workers.values():
            if (group_id, target_key) not in w.busy:
                continue
            query = next(self._ids)
            w.idle[query] = asyncio.get_running_loop().create_future()
            w.channel.send({"t": "idle?", "id": query, "group": group_id, "target": target_key})
            asked.append((w, query))
        try:
            await asyncio.gather(*(w.idle[q] for w, q in asked))
        finally:
            for w, query in asked:
                w.idle.pop(query, None)

    def unbound(self) -> set[tuple[str, int]]:
        """Sockets some worker could not bind."""
        return {key for w in self._workers.values() for key in w.unbound}

    def status(self) -> dict:
        """Loop-lag figures of the worst worker (each figure on its own), and one line per worker."""
        workers = sorted(self._workers.values(), key=lambda w: w.slot)
        figures: dict = {}
        for w in workers:
            for name, value in w.lag.items():
                if name.startswith("loopLag"):
                    figures[name] = max(figures.get(name, 0.0), value)
        return {**figures, "workers": [{"slot": w.slot, "pid": w.process.pid, "revision": w.revision,
                                        **w.lag} for w in workers], "workerRestarts": self.restarts}

    # -- one worker --------------------------------------------------------------------

    async def _spawn(self, slot: int, load: feed.Message) -> _Worker:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "latticework.dataplane.worker", "--channel", str(theirs.fileno()),
                pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
        worker = _Worker(slot, process, await feed.Channel.over(ours), asyncio.get_running_loop().create_future())
        self._workers[slot] = worker
        worker.channel.send(feed.hello(self.settings.state_dir, self.settings.fabric, self.settings.limits,
                                       self.settings.accounts))
        worker.channel.send(load)
        if self._sent_health:
            worker.channel.send(_health_message(self._sent_health, {}))
        asyncio.create_task(self._listen(worker), name=f"worker {slot} feed")
        return worker

    async def _listen(self, worker: _Worker) -> None:
        """Read what the worker says until it goes away, then forget it."""
        try:
            while True:
                message = await worker.channel.receive()
                await self._heard(worker, message)
        except feed.ChannelClosed:
            pass
        finally:
            await worker.process.wait()
            self._gone(worker)
            async with self._progress:
                self._progress.notify_all()

    async def _heard(self, worker: _Worker, message: feed.Message) -> None:
        kind = message.pop("t")
        if kind == "serving":
            worker.unbound = frozenset((a, p) for a, p in message.pop("unbound"))
            worker.busy = frozenset((g, k) for g, k in message.pop("busy"))
            worker.revision = max(worker.revision, message.pop("revision"))
            worker.lag = message
            async with self._progress:
                self._progress.notify_all()
        elif kind == "lag":
            worker.lag = message
        elif kind == "idle":
            waiting = worker.idle.get(message["id"])
            if waiting is not None and not waiting.done():
                waiting.set_result(None)

    def _gone(self, worker: _Worker) -> None:
        if self._workers.get(worker.slot) is worker:
            del self._workers[worker.slot]
        for waiting in worker.idle.values():  # its requests in flight died with it
            if not waiting.done():
                waiting.set_result(None)
        if not worker.exited.done():
            worker.exited.set_result(worker.process.returncode)

    async def _supervise(self, worker: _Worker) -> None:
        """Restart the worker of this slot whenever it exits, until the pool closes."""
        pause = RESTART_PAUSE[0]
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            status = await worker.exited
            if self._closing:
                return
            pause = RESTART_PAUSE[0] if loop.time() - started > STEADY_SECONDS else min(pause * 2, RESTART_PAUSE[1])
            log.error("data-plane worker %d (pid %d) exited with status %s; restarting it in %.1f s",
                      worker.slot, worker.process.pid, status, pause)
            await asyncio.sleep(pause)
            self.restarts += 1
            try:
                worker = await self._spawn(worker.slot, self._current_load())
            except OSError:
                log.exception("could not restart data-plane worker %d", worker.slot)
                await asyncio.sleep(RESTART_PAUSE[1])

    # -- helpers -----------------------------------------------------------------------

    async def _wait(self, done: Callable[[], bool]) -> None:
        async with self._progress:
            await self._progress.wait_for(done)

    def _push_health(self) -> None:
        pending, self._health_pending = self._health_pending, set()
        changed, cleared = {}, {}
        for key in pending:
            status = self._health_state(*key)
            if status == INITIAL:
                if self._sent_health.pop(key, None) is not None:
                    cleared[key] = status
            elif self._sent_health.get(key) != status:
                changed[key] = self._sent_health[key] = status
        if changed or cleared:
            message = feed.frame(_health_message(changed, cleared))
            for w in self._workers.values():
                w.channel.send(message)


def _health_message(changed: dict[Key, str], cleared: dict[Key, str]) -> feed.Message:
    return {"t": "health", "set": [[g, k, s] for (g, k), s in changed.items()], "clear": [list(k) for k in cleared]}
