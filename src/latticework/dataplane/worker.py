"""A data-plane worker: one process serving traffic from the snapshot it compiles itself.

``latticework up`` runs N of these (``workers.WorkerPool``); each opens its
own listening sockets with ``SO_REUSEPORT`` (``listeners``), so the kernel
spreads connections across them, and each follows the control process's
feed (``feed``): it compiles every ``load``/``changes`` into its own
``Snapshot``, swaps it in, realises its listening sockets and answers
``serving`` with the revision. The control process answers a write only
once every worker has said so.

What a worker does not do, so that its loop only serves traffic: health
checks (the control process runs them once per target and sends the
states: ``HealthView``), store writes, DNS. Compiling and warming TLS
certificates for a full ``load``, or for changes that may rebuild whole VPC
views (``snapshot.compile.wide``: associations, VPCs...), run on a thread
beside the loop (the loop only swaps the result in), so they slow requests
a little instead of stalling them; other changes compile in place, since
they rebuild only what they touched (well under a millisecond for a rule
at 1,000 services).

A worker leaves when told (``stop``: stop accepting, finish open requests,
exit) and as soon as its feed closes: the control process is gone, and a
worker never serves alone. It ignores SIGINT and SIGTERM, which reach it
with the whole process group (Ctrl-C in a terminal): the control process
handles them and tells it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import socket
from pathlib import Path

try:
    from uvloop import run as run_loop
except ImportError:  # Windows: asyncio's own loop
    from asyncio import run as run_loop  # type: ignore[assignment]

from latticework.dataplane import feed
from latticework.dataplane.balancer import Balancer
from latticework.dataplane.health import INITIAL
from latticework.dataplane.listeners import Listeners, wanted_sockets
from latticework.dataplane.looplag import LoopLag
from latticework.dataplane.plane import Plane
from latticework.dataplane.tls import CertificateAuthority, Certificates
from latticework.dataplane.upstream_http1 import Http1Upstream
from latticework.dataplane.upstream_http2 import Http2Upstream
from latticework.fabric import Fabric
from latticework.snapshot import KINDS, Snapshot
from latticework.snapshot.compile import Compiler, wide
from latticework.snapshot.identities import Identities
from latticework.store import StoreView

log = logging.getLogger("latticework.dataplane.worker")

Key = tuple[str, str]  # (target group id, target key)


class HealthView:
    """Target states as the control process's health checkers decided them.

    The balancer's ``Health``: INITIAL until told otherwise; ``generation``
    changes with every update so the balancer's candidate cache follows."""

    def __init__(self) -> None:
        self._states: dict[Key, str] = {}
        self.generation = 0

    def state(self, group_id: str, target_key: str) -> str:
        return self._states.get((group_id, target_key), INITIAL)

    def update(self, message: feed.Message) -> None:
        for group_id, key, status in message["set"]:
            self._states[(group_id, key)] = status
        for group_id, key in message["clear"]:
            self._states.pop((group_id, key), None)
        self.generation += 1


class Worker:
    def __init__(self, channel: feed.Channel, hello: feed.Message):
        self.channel = channel
        state_dir = Path(hello["stateDir"])
        self.fabric = Fabric.parse(hello["fabric"])
        self.accounts = hello.get("accounts")  # the accounts file's credentials: the snapshot's identities start there
        self.plane = Plane(limits=feed.limits_of(hello))
        self.health = HealthView()
        self.plane.balancer = Balancer(self.health)
        self.plane.upstreams = {"HTTP1": Http1Upstream(self.plane.limits), "HTTP2": Http2Upstream(self.plane.limits)}
        self.plane.certificates = Certificates(CertificateAuthority.load_from(state_dir / "ca"),
                                               state_dir / "certificates")
        self.listeners = Listeners(self.plane)
        self.loop_lag = LoopLag()
        self.compiler: Compiler | None = None
        self._tasks: set[asyncio.Task] = set()

    async def run(self) -> None:
        """Follow the feed until ``stop`` (drain, then return) or until it closes (return at once)."""
        self.loop_lag.start()
        self._spawn(self._report_lag())
        drain = 1.0
        try:
            while True:
                message = await self.channel.receive()
                kind = message["t"]
                if kind == "stop":
                    drain = float(message["drain"])
                    break
                await self._handle(kind, message)
        except feed.ChannelClosed:
            log.warning("the control process went away; this worker stops")
        finally:
            await self._close(drain)

    async def _handle(self, kind: str, message: feed.Message) -> None:
        if kind in ("load", "changes"):
            first = self.compiler is None
            await self._apply(message)
            if first:
                # What the first load built lives as long as the worker: out of the cyclic collector's
                # reach, full collections stop walking it on the loop that serves traffic (as the server does).
                gc.collect()
                gc.freeze()
        elif kind == "health":
            self.health.update(message)
            self.listeners.nodes.health_changed(self.health.state)  # NLBs reset connections to unhealthy targets
        elif kind == "idle?":
            self._spawn(self._answer_idle(message))
        else:
            log.warning("unknown feed message %r ignored", kind)

    # -- snapshots -------------------------------------------------------------------

    async def _apply(self, message: feed.Message) -> None:
        # A load, or changes that may rebuild whole VPC views, compile beside the loop. Other changes rebuild
        # only what they touched, in less time than a hand-over to a thread and back takes when the loop is busy.
        if message["t"] == "load" or wide((kind, id) for kind, id, _ in message["records"]):
            snapshot, sockets, draining = await asyncio.to_thread(self._compile, message)
        else:
            snapshot, sockets, draining = self._compile(message)
        self.plane.snapshot = snapshot
        await self.listeners.apply(snapshot, sockets)
        # From this snapshot on no new request goes to a draining target: the ones idle now stay idle.
        busy = [key for key in draining if self.plane.balancer.in_flight(*key)]
        self.channel.send({"t": "serving", "revision": snapshot.revision, "busy": busy,
                           "unbound": sorted(self.listeners.unbound), **self._figures()})

    def _compile(self, message: feed.Message) -> tuple[Snapshot, dict[tuple[str, int], str], list[Key]]:
        """On a thread: the next snapshot (its new services' certificates warmed), the sockets it needs and
        its draining targets."""
        if message["t"] == "load" or self.compiler is None:
            self.compiler = Compiler(self.fabric, Identities.from_accounts(self.accounts))
            records = feed.loaded_records(message)
            snapshot = self.compiler.load(StoreView(message["revision"], {k: records.get(k, []) for k in KINDS}))
            self.plane.certificates.warm(snapshot.services.values())
        else:
            # A worker that joined late got a ``load`` newer than some relayed changes: content is always
            # the newest, so only the revision must not go back.
            revision = max(message["revision"], self.compiler.revision)
            snapshot = self.compiler.update(revision, feed.changed_records(message))
            rebuilt = self.compiler.rebuilt_services
            self.plane.certificates.warm(snapshot.services[i] for i in rebuilt if i in snapshot.services)
        draining = [(g.id, t.key) for g in snapshot.target_groups.values() for t in g.targets if t.draining]
        return snapshot, wanted_sockets(snapshot), draining

    # -- draining and reports ----------------------------------------------------------

    async def _answer_idle(self, message: feed.Message) -> None:
        await self.plane.balancer.wait_idle(message["group"], message["target"])
        self.channel.send({"t": "idle", "id": message["id"]})

    async def _report_lag(self) -> None:
        while True:
            await asyncio.sleep(feed.LAG_EVERY)
            self.channel.send({"t": "lag", **self._figures()})

    def _figures(self) -> dict:
        return {**self.loop_lag.figures(), "connectionsAccepted": self.listeners.accepted}

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close(self, drain: float) -> None:
        self.loop_lag.stop()
        await self.listeners.close(drain_seconds=drain)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for upstream in self.plane.upstreams.values():
            await upstream.close()
        self.channel.close()


async def serve(channel_fd: int) -> None:
    channel = await feed.Channel.over(socket.socket(fileno=channel_fd))
    hello = await channel.receive()
    await Worker(channel, hello).run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="latticework-worker", description=__doc__.splitlines()[0])
    parser.add_argument("--channel", type=int, required=True, help="file descriptor of the feed socket")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    # Ctrl-C, and SIGTERM sent to the whole process group (timeout(1), kill -- -PGID), reach the workers
    # too: the control process decides when they stop (``stop``), so that they drain in order with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    run_loop(serve(args.channel))


if __name__ == "__main__":
    main()
