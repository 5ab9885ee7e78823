"""The data plane's life: follow the store, compile, relay to the workers, realise.

``DataPlane`` runs in the server's (the control process's) event loop; the
traffic itself is served by worker processes (``workers.WorkerPool``, one
per core by default), so nothing here runs on a loop that serves requests.
Every commit wakes it (``Store.subscribe``); it compiles the newest
revision into a ``Snapshot`` (skipping revisions that piled up meanwhile:
one compile serves them all), relays the same records to every worker
(``feed``: the store's change journal is the feed; each worker compiles its
own copy), and once every worker serves the revision:

1. DNS resolvers per VPC, the AWS services' front (``awsservices.front``: S3
   and DynamoDB through VPC endpoints, served here, where botocore's models
   are loaded anyway), health checkers per target (run here, once per
   target, their states sent to the workers), drains of deregistered
   targets (waiting on every worker's requests in flight; network load
   balancers' groups wait out their deregistration delay, ``nlb``);
2. the control plane's pending statuses: what the API created or deleted is
   now served, so it settles (the ``seams.Settler`` given at construction),
   and writes waiting in ``applied(revision)`` are answered.

A revision that changes nothing the workers serve (a service network
nothing is associated with yet, a tag) is not relayed: its records go with
the next revision that does, and the write is answered at once.

A full compile (at start, or after a gap in the journal), or one of changes
that may rebuild whole VPC views (``snapshot.compile.wide``), runs on a
thread beside the loop, so API calls, DNS answers and health checks keep
their pace meanwhile; other changes compile in place, faster than a
hand-over to a thread.

It is the control plane's ``seams.Applier``, ``seams.Introspection`` and a
``seams.Lifecycle``; it never imports the control plane.

A snapshot that fails its consistency check is logged and dropped; the old
one keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from latticework.dataplane import explain, feed
from latticework.dataplane.awsservices.front import AwsServiceFronts
from latticework.dataplane.nlb import Deregistrations, dns_failover
from latticework.dataplane.drain import Drainer
from latticework.dataplane.health import HealthMonitor
from latticework.dataplane.looplag import LoopLag
from latticework.dataplane.plane import Limits
from latticework.dataplane.tls import CertificateAuthority
from latticework.dataplane.workers import PoolSettings, WorkerPool
from latticework.dns.resolver import Resolvers
from latticework.fabric import Fabric
from latticework.records import lattice
from latticework.seams import Settler
from latticework.snapshot import EMPTY, KINDS, Inconsistent, Snapshot
from latticework.snapshot.compile import Compiler, wide
from latticework.snapshot.identities import Identities
from latticework.store import Record, Store, StoreView

log = logging.getLogger("latticework.dataplane")

DRAINED_BY_DATA_PLANE = frozenset({lattice.TARGET})
# Writes that never change a snapshot: statuses settling (CREATE_IN_PROGRESS -> ACTIVE;
# records being deleted are already out of the snapshot) and health verdicts.
NEUTRAL_OPERATIONS = frozenset({"Settle", "HealthCheck"})


@dataclass
class DataPlaneSettings:
    state_dir: Path
    fabric: Fabric = field(default_factory=Fabric)
    dns_port: int = 53
    limits: Limits = field(default_factory=Limits)
    workers: int = 1  # processes serving traffic
    drain_seconds: float = 10.0  # at shutdown, open connections get this long to finish their requests
    accounts: dict | None = None  # the accounts file's directory as data (``config.Directory.to_json``)
    aws_upstreams: dict[str, str] = field(default_factory=dict)  # AWS service -> upstream URL (``--aws-upstream``)


class DataPlane:
    def __init__(self, store: Store, settler: Settler, settings: DataPlaneSettings):
        self.store = store
        self.settler = settler
        self.settings = settings
        self.snapshot: Snapshot = EMPTY
        self.applied_revision = -1
        self.loop_lag = LoopLag()  # this loop's: API calls, DNS answers and health checks wait on it
        self.compile_seconds: list[float] = []  # recent compile times, for /_latticework/dataplane
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._dirty = True
        self._neutral_revision = -1  # the newest revision written by a neutral operation
        self._task: asyncio.Task | None = None
        self._compiler: Compiler | None = None
        self._unrelayed: dict[tuple[str, str], Record | None] = {}  # changes not sent to the workers yet
        self._started = False

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        limits, state_dir = self.settings.limits, self.settings.state_dir
        self.ca = CertificateAuthority.load_or_create(state_dir / "ca")  # before any worker needs it
        self.workers = WorkerPool(
            PoolSettings(self.settings.workers, str(state_dir), str(self.settings.fabric.range), limits,
                         accounts=self.settings.accounts),
            current_load=lambda: feed.load(*_everything(self.store)), health_state=lambda group, key: self.health.state(group, key))
        self.health = HealthMonitor(self.store, limits, on_change=self.workers.health_changed)
        self.resolvers = Resolvers(port=self.settings.dns_port, fabric=self.settings.fabric,  # NLB DNS failover:
                                   narrow=lambda snapshot, found: dns_failover(snapshot, self.health.state, found))
        self.drainer = Drainer(self.store, self.workers, limits)
        self.aws_services = AwsServiceFronts(self.ca, self.settings.aws_upstreams, lambda: self.snapshot)
        self.deregistrations = Deregistrations(self.store)  # network load balancers' deregistration delays
        self.loop_lag.start()
        loop = asyncio.get_running_loop()
        self.store.subscribe(lambda revision, operation: loop.call_soon_threadsafe(self._changed, revision, operation))
        await self._apply(first=True)
        await asyncio.to_thread(self.settler.settle_all, skip_kinds=DRAINED_BY_DATA_PLANE)
        self._started = True
        self._task = asyncio.create_task(self._follow(), name="latticework-dataplane")

    async def close(self) -> None:
        self._started = False
        self.loop_lag.stop()
        self._release_waiters(self.store.revision())
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.workers.close(self.settings.drain_seconds)
        for part in (self.resolvers, self.aws_services, self.health, self.drainer, self.deregistrations):
            await part.close()

    # -- the control plane's side ----------------------------------------------------
    async def applied(self, revision: int) -> None:
        """Return once a snapshot at or after ``revision`` is serving and its statuses settled.

        Before start and after close nothing is served and nothing waits."""
        if self.applied_revision >= revision or not self._started:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((revision, future))
        self._wake.set()
        await future

    # -- the loop ----------------------------------------------------------------------
    def _changed(self, revision: int, operation: str) -> None:
        if operation in NEUTRAL_OPERATIONS:
            self._neutral_revision = max(self._neutral_revision, revision)
        else:
            self._dirty = True
        self._wake.set()

    async def _follow(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                if self._dirty:
                    await self._apply()
                elif self._neutral_revision > self.applied_revision:
                    self.applied_revision = self._neutral_revision
                    self._release_waiters(self.applied_revision)
            except Exception:  # never let one bad revision stop the data plane
                log.exception("applying revision %s failed", self.store.revision())
                self._compiler = None
                self._release_waiters(self.store.revision())

    def _compile(self, changes) -> tuple[Snapshot, feed.Message | None]:
        """The newest snapshot and the feed message that makes it: ``changes`` (``Store.changes`` since the
        last one), or everything (a ``load``) after a gap or a failure; None when the workers would serve
        exactly what they serve now (the changes wait for the next message)."""
        if self._compiler is None or changes is None:
            self._compiler = Compiler(self.settings.fabric, Identities.from_accounts(self.settings.accounts))
            self._unrelayed = {}
            revision, records = _everything(self.store)
            return self._compiler.load(StoreView(revision, records)), feed.load(revision, records)
        revision, changed = changes
        snapshot = self._compiler.update(revision, changed)
        # Records carry their newest content, so later changes simply replace earlier ones of the same key.
        self._unrelayed.update(changed)
        if self._compiler.serves_alike(self.snapshot, snapshot):
            return snapshot, None
        message, self._unrelayed = feed.changes(revision, self._unrelayed), {}
        return snapshot, message

    async def _apply(self, first: bool = False) -> None:
        started = time.perf_counter()
        self._dirty = False
        changes = self.store.changes(self._compiler.revision, KINDS) if self._compiler else None
        try:
            # A full compile, or changes that may rebuild whole VPC views, run beside the loop; others compile
            # here, in less time than a hand-over to a thread takes.
            if changes is None or wide(changes[1]):
                snapshot, message = await asyncio.to_thread(self._compile, changes)
            else:
                snapshot, message = self._compile(changes)
        except Inconsistent as exc:
            self._compiler = None  # its state took the bad revision in; start over next time
            revision = self.store.revision()
            log.error("revision %s not applied: %s", revision, exc)
            if first:  # the workers start empty, and load everything with the next revision that compiles
                await self.workers.start(feed.load(0, {}))
            self._release_waiters(revision)
            return
        self.compile_seconds = [*self.compile_seconds[-99:], time.perf_counter() - started]
        if first:
            assert message is not None  # the first compile is a load
            await self.workers.start(message)
        elif message is not None:
            await self.workers.apply(message)
        self.snapshot = snapshot
        await self.resolvers.apply(snapshot)
        await self.aws_services.apply(snapshot)
        self.health.apply(snapshot)
        self.drainer.apply(snapshot)
        self.deregistrations.apply(snapshot)
        self.applied_revision = snapshot.revision
        self.settler.settle_applied(snapshot.revision, skip_kinds=DRAINED_BY_DATA_PLANE)
        self._release_waiters(snapshot.revision)

    def _release_waiters(self, revision: int) -> None:
        keep = []
        for wanted, future in self._waiters:
            if wanted <= revision:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((wanted, future))
        self._waiters = keep

    # -- introspection (the /_latticework endpoints and the CLI) -----------------------
    def status(self) -> dict:
        times = sorted(self.compile_seconds) or [0.0]
        control = {f"control{name[0].upper()}{name[1:]}": value for name, value in self.loop_lag.figures().items()}
        return {"appliedRevision": self.applied_revision, "fabric": str(self.settings.fabric.range),
                "compileMillisecondsMedian": round(times[len(times) // 2] * 1000, 3),
                "compileMillisecondsMax": round(times[-1] * 1000, 3),
                **self.workers.status(), **control}

    def ca_pem(self) -> str:
        return self.ca.pem

    def vpc_info(self, vpc_id: str) -> dict | None:
        vpc = self.snapshot.vpcs.get(vpc_id)
        if vpc is None:
            return None
        return {"vpcId": vpc.vpc_id, "account": vpc.account, "region": vpc.region, "resolver": vpc.resolver,
                "resolverPort": self.settings.dns_port, "lattice": vpc.lattice,
                "services": sorted({r.service.id for r in vpc.routes.values()}),
                "names": sorted(vpc.routes), "ports": sorted(vpc.ports()),
                "privateNames": {n: list(a) for n, a in sorted(vpc.names.items())},
                "interfaces": [{"address": i.address, "privateIpAddress": i.private_ip,
                                "networkInterfaceId": i.id, "zone": i.zone, "owner": i.owner}
                               for i in sorted(self.snapshot.interfaces.values(), key=lambda i: i.address)
                               if i.vpc_id == vpc_id],
                "unboundPorts": sorted(p for (a, p) in self.workers.unbound() if a == vpc.lattice)}


    def explain(self, description: dict) -> dict:
        return explain.explain(self.snapshot, description)


def _everything(store: Store) -> tuple[int, dict[str, list[Record]]]:
    """Every record the snapshot reads, and the revision they are at."""
    view = store.view(KINDS)
    return view.revision, view.records
