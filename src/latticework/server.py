"""Assembling and running the server: store, accounts, services, data plane, HTTP.

This is the composition root: the only module that knows every part. The
control plane (``Dispatcher`` and ``Settlement``) and the data plane
(``DataPlane``) never import each other; each gets what it needs of the
other here, as the Protocols of ``seams``.

A server with a data plane runs on a fabric range it leases host-wide
(``fabric.leases``) once its state file is its own, and gives the range back
when it stops; without a data plane it leases nothing.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import uvicorn

from latticework.api.dispatch import Dispatcher
from latticework.api.gateway import Gateway
from latticework.api.ownpaths import OwnPaths
from latticework.api.settle import Settlement
from latticework.config import Directory
from latticework.dataplane.runtime import DataPlane, DataPlaneSettings
from latticework.fabric import Fabric, leases
from latticework.services import build_apis, repair, settlers
from latticework.snapshot.identities import FollowedIdentities
from latticework.store import Store
from latticework.store.sql import SqlStore


@dataclass
class Settings:
    host: str
    port: int
    state: Path
    directory: Directory
    dataplane: bool = True
    fabric: Fabric | None = None  # None: a free range, leased at start (``fabric.leases``)
    dns_port: int = 53
    workers: int = 1  # data-plane processes
    aws_upstreams: dict[str, str] = field(default_factory=dict)  # AWS service -> upstream URL (``--aws-upstream``)


class _Parts:
    """What starts with the server, in order: records from older versions repaired, then the data plane
    (which settles what a previous run left in progress), or, without one, the settling itself."""

    def __init__(self, store: Store, settlement: Settlement, dataplane: DataPlane | None):
        self.store, self.settlement, self.dataplane = store, settlement, dataplane

    async def start(self) -> None:
        repair(self.store)
        if self.dataplane is None:
            self.settlement.settle_all()
        else:
            await self.dataplane.start()
        # What start-up loaded (the API models, the first snapshot) lives as long as the server. Left in
        # the collector's oldest generation, each full collection walks all of it, on the loop that serves
        # traffic: tens of milliseconds every few seconds under load (`make bench`: p99 53 ms -> 4 ms).
        gc.collect()
        gc.freeze()

    async def close(self) -> None:
        if self.dataplane is not None:
            await self.dataplane.close()


def build_app(settings: Settings, store: SqlStore) -> Gateway:
    apis = build_apis()
    settlement = Settlement(store, settlers(apis))
    dataplane = None
    if settings.dataplane:
        dataplane = DataPlane(store, settlement, DataPlaneSettings(
            settings.state.parent, settings.fabric or Fabric(), settings.dns_port, workers=settings.workers,
            accounts=settings.directory.to_json(), aws_upstreams=settings.aws_upstreams))
    dispatcher = Dispatcher(settings.directory, store, apis, settlement, applier=dataplane,
                            state_dir=settings.state.parent,
                            credentials=FollowedIdentities(store, settings.directory))
    return Gateway(dispatcher, OwnPaths(store, dataplane), _Parts(store, settlement, dataplane))


@contextlib.contextmanager
def leased(settings: Settings) -> Iterator[Settings]:
    """The settings with the fabric range this server leased (held for the block); unchanged without a data plane.

    Raises ``leases.LeaseError`` (``FabricTaken`` when ``--fabric`` overlaps another server's range)."""
    if not settings.dataplane:
        yield settings
        return
    with leases.held(settings.state, settings.fabric.range if settings.fabric else None) as taken:
        if moved := taken.moved():
            logging.getLogger("latticework").warning(moved)
        yield replace(settings, fabric=Fabric(taken.lease.range))


class _Server(uvicorn.Server):
    """uvicorn's server, announcing the bound address once it accepts connections.

    SIGINT and SIGTERM ask for a graceful shutdown and the process then exits 0:
    uvicorn's own handler would re-raise the signal after shutting down, which
    turns a requested stop into a death by signal.
    """

    def __init__(self, config: uvicorn.Config, settings: Settings):
        super().__init__(config)
        self.settings = settings

    @contextlib.contextmanager
    def capture_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.should_exit:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        fabric = (f", fabric: {self.settings.fabric.range}, data-plane workers: {self.settings.workers}"
                  if self.settings.fabric and self.settings.dataplane else "")
        print(f"Latticework ready on http://{host}:{port} (state: {self.settings.state}{fabric})", flush=True)


def run(settings: Settings) -> int:
    """Serve until SIGINT/SIGTERM. Raises ``StoreLocked`` or ``leases.LeaseError`` before serving."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = SqlStore.sqlite(settings.state)  # first: a state file another server holds touches no lease
    try:
        with leased(settings) as settings:
            return _serve(settings, build_app(settings, store))
    finally:
        store.close()


def _serve(settings: Settings, app: Gateway) -> int:
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, lifespan="on", access_log=False,
        log_level="warning", http="httptools", loop="uvloop" if sys.platform != "win32" else "asyncio",
        timeout_graceful_shutdown=5,
    )
    server = _Server(config, settings)
    server.run()
    return 0 if server.started else 1
