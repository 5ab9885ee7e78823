"""Active health checks of targets, and the target states they lead to.

Lattice checks every target of a target group that a service uses, with the
group's health-check settings
(https://docs.aws.amazon.com/vpc-lattice/latest/ug/target-group-health-checks.html):
each check is one request on a fresh connection (closed afterwards), ``GET
path`` over HTTP or HTTPS (target certificates are not verified), HTTP/1.1 or
HTTP/2, answered within ``timeout`` with a status the ``matcher`` accepts.
Checks start every ``interval``; a check that takes longer does not push the
schedule back, the next one then starts as soon as it ends. LAMBDA and ALB
groups are never checked.

Target states (``observe``, a pure function of the verdicts so far):

- INITIAL -> HEALTHY after one passed check (a newly registered target must
  pass one check), INITIAL -> UNHEALTHY after ``unhealthy_threshold``
  consecutive failures;
- HEALTHY -> UNHEALTHY after ``unhealthy_threshold`` consecutive failures;
- UNHEALTHY -> HEALTHY after ``healthy_threshold`` consecutive passes.

Every transition is written to the target's record, so ListTargets reports
it, with the reason code of ``REASON_CODES``. Lattice's ListTargets has been
seen answering ``HealthCheckFailed`` for unhealthy targets (AWS CLI examples
of ``list-targets``), and no finer code (ELB's ``Target.Timeout``,
``Target.ResponseCodeMismatch``...) is documented for Lattice, so every
failure reports that one code; what exactly failed goes to the log.

Network load balancers' target groups (``Snapshot.nlb_groups``) are checked
the same way while a listener of a network load balancer forwards to them,
with ELB's settings (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html):
a ``TCP`` check passes when a connection opens within the timeout (it is
closed at once), ``HTTP``/``HTTPS`` checks as above with the group's
``Matcher``. A newly registered target is in service after one passed check
("Your target is not in service until it passes one health check",
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-troubleshooting.html),
as for Lattice. Their verdicts go to the ELB target group's record in ELB's
words (``elb_health``): ``initial`` / ``Elb.InitialHealthChecking`` once
checks run, ``healthy``, ``unhealthy`` / ``Target.FailedHealthChecks``
(ELB's finer reasons are documented for ALBs only) with a description of
what failed (no answer in time, a status the matcher refuses, anything
else). An unhealthy target's description follows its latest failure.

``HealthMonitor`` runs one checker task per (target group, target) on the
data plane's event loop and reconciles them on every snapshot swap
(``apply``): checkers keep running while nothing they use changes; a change
of settings restarts the schedule keeping the target's state, a change of
address starts over from INITIAL (it is another process now). A checker
starting over for a target whose record still says HEALTHY or UNHEALTHY (its
group was unused, or checks were off, meanwhile) first writes INITIAL back.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import ssl
from dataclasses import dataclass
from typing import Callable, Iterator

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import ConnectionTerminated, ResponseReceived, StreamReset

from latticework.dataplane.plane import Limits
from latticework.dataplane.tasks import cancel_all
from latticework.records import elbv2
from latticework.records.lattice import record_target_health
from latticework.snapshot.model import HTTPS, TCP, HealthCheck, Snapshot, Target, TargetGroup
from latticework.store import Store

log = logging.getLogger("latticework.dataplane.health")

INITIAL, HEALTHY, UNHEALTHY = "INITIAL", "HEALTHY", "UNHEALTHY"

REASON_CODES: dict[str, str | None] = {
    INITIAL: "HealthCheckInProgress",  # what RegisterTargets stores for a new target
    HEALTHY: None,  # Lattice gives a healthy target no reason code
    UNHEALTHY: "HealthCheckFailed",  # observed in Lattice's ListTargets output
}

CHECKED_TYPES = frozenset({"IP", "INSTANCE"})
USER_AGENT = "Latticework-HealthChecker/1.0"  # Lattice's own checker's agent string is not documented

Key = tuple[str, str]  # (target group id, target key)


# -- matcher ---------------------------------------------------------------------------

_PART = re.compile(r"(\d{3})(?:-(\d{3}))?", re.ASCII)


@dataclass(frozen=True)
class Matcher:
    """HTTP status codes a passing check may answer: inclusive ranges."""

    text: str
    ranges: tuple[tuple[int, int], ...]

    def __contains__(self, status: int) -> bool:
        return any(low <= status <= high for low, high in self.ranges)


@functools.lru_cache(maxsize=256)
def parse_matcher(text: str) -> Matcher:
    """``"200"``, ``"200,202"``, ``"200-299"`` and combinations such as ``"200,300-399"``.

    Raises ``ValueError`` for anything else (an empty part, a reversed range).
    """
    ranges = []
    for part in text.replace(" ", "").split(","):
        found = _PART.fullmatch(part)
        if found is None:
            raise ValueError(f"invalid health check matcher {text!r}")
        low = int(found.group(1))
        high = int(found.group(2) or low)
        if low > high:
            raise ValueError(f"invalid health check matcher {text!r}: {low} > {high}")
        ranges.append((low, high))
    return Matcher(text, tuple(ranges))


def _matcher_of(check: HealthCheck) -> Matcher:
    try:
        return parse_matcher(check.matcher)
    except ValueError:  # the control plane validates matchers; a bad one checks for the default
        log.warning("health check matcher %r is invalid; checking for 200", check.matcher)
        return parse_matcher("200")


# -- target states ---------------------------------------------------------------------

@dataclass(frozen=True)
class TargetHealth:
    """A target's state and its current run of consecutive passes or failures."""

    status: str = INITIAL
    passes: int = 0
    failures: int = 0


def observe(health: TargetHealth, passed: bool, check: HealthCheck) -> TargetHealth:
    """The state after one more check verdict."""
    if passed:
        passes = health.passes + 1
        needed = 1 if health.status == INITIAL else max(1, check.healthy_threshold)
        status = HEALTHY if passes >= needed else health.status
        return TargetHealth(status, passes, 0)
    failures = health.failures + 1
    status = UNHEALTHY if failures >= max(1, check.unhealthy_threshold) else health.status
    return TargetHealth(status, 0, failures)


# -- one check -------------------------------------------------------------------------

TIMEOUT, MISMATCH, FAILED = "timeout", "mismatch", "failed"  # why a check failed


@dataclass(frozen=True)
class Outcome:
    passed: bool
    detail: str  # what was seen: "status 200", "connection refused"...
    failure: str | None = None  # TIMEOUT | MISMATCH | FAILED when not passed
    status: int | None = None  # the HTTP status answered, if any


def status_of(line: bytes) -> int:
    """The status code of an HTTP/1.x status line; ``ValueError`` if it is not one."""
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not re.fullmatch(rb"\d{3}", parts[1]):
        raise ValueError(f"not an HTTP/1.x status line: {line[:80]!r}")
    return int(parts[1])


@functools.lru_cache(maxsize=2)
def _tls_context(alpn: str) -> ssl.SSLContext:
    # Lattice does not validate target certificates: self-signed and expired ones pass.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols([alpn])
    return context


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def probe(host: str, port: int, check: HealthCheck, matcher: Matcher, head_limit: int = 64 * 1024) -> Outcome:
    """Run one health check against ``host:port``; never raises (but for cancellation)."""
    try:
        async with asyncio.timeout(check.timeout):
            if check.protocol == TCP:
                await _connect(host, port)
                return Outcome(True, "connected")
            status = await _request(host, port, check, head_limit)
    except TimeoutError:
        return Outcome(False, f"no response within {check.timeout:g} s", TIMEOUT)
    except ConnectionRefusedError:
        return Outcome(False, "connection refused", FAILED)
    except Exception as exc:  # any failure to get a status is a failed check
        return Outcome(False, f"{type(exc).__name__}: {exc}", FAILED)
    if status in matcher:
        return Outcome(True, f"status {status}", status=status)
    return Outcome(False, f"status {status} does not match {matcher.text!r}", MISMATCH, status)


async def _connect(host: str, port: int) -> None:
    """A TCP check: the connection opens (then closes at once)."""
    _, writer = await asyncio.open_connection(host, port)
    writer.close()


async def _request(host: str, port: int, check: HealthCheck, head_limit: int) -> int:
    http2 = check.protocol_version == "HTTP2"
    tls = _tls_context("h2" if http2 else "http/1.1") if check.protocol == HTTPS else None
    reader, writer = await asyncio.open_connection(host, port, ssl=tls, limit=head_limit)
    try:
        if not http2:
            return await _http1_status(reader, writer, _authority(host, port), check.path)
        _require_h2(writer)
        scheme = "https" if tls else "http"
        return await _http2_status(reader, writer, _authority(host, port), check.path, scheme)
    finally:
        writer.close()  # one connection per check: closed whatever happened


async def _http1_status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, authority: str,
                        path: str) -> int:
    head = (f"GET {path or '/'} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n")
    writer.write(head.encode("latin-1"))
    await writer.drain()
    line = await reader.readline()
    if not line:
        raise ConnectionError("connection closed before a response")
    return status_of(line)


def _require_h2(writer: asyncio.StreamWriter) -> None:
    """Over TLS, the target must not have chosen another protocol (no ALPN at all means prior knowledge)."""
    tls = writer.get_extra_info("ssl_object")
    chosen = tls.selected_alpn_protocol() if tls is not None else None
    if chosen not in (None, "h2"):
        raise ConnectionError(f"target negotiated {chosen!r} instead of h2")


async def _http2_status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, authority: str, path: str,
                        scheme: str) -> int:
    conn = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, [(":method", "GET"), (":scheme", scheme), (":authority", authority),
                               (":path", path or "/"), ("user-agent", USER_AGENT)], end_stream=True)
    writer.write(conn.data_to_send())
    while True:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("connection closed before a response")
        for event in conn.receive_data(data):
            status = _h2_status(event, stream)
            if status is not None:
                conn.close_connection()
                writer.write(conn.data_to_send())
                return status
        writer.write(conn.data_to_send())  # settings acknowledgements, window updates


def _h2_status(event, stream: int) -> int | None:
    if isinstance(event, ResponseReceived) and event.stream_id == stream:
        # h2 types header names as bytes; header_encoding="utf-8" (_http2_status) makes them str.
        return int(dict(event.headers)[":status"])  # type: ignore[index]
    if isinstance(event, (StreamReset, ConnectionTerminated)):
        raise ConnectionError(f"target ended the exchange: {type(event).__name__}")
    return None


# -- ELB's words -------------------------------------------------------------------------

# DescribeTargetHealth's reasons (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html):
# Target.Timeout and Target.ResponseCodeMismatch "apply only to Application Load Balancers and Gateway Load
# Balancers", so a network load balancer's unhealthy target is always Target.FailedHealthChecks; the description
# says what failed, in the words ELB uses for each case
# (https://repost.aws/knowledge-center/elb-fix-failing-health-checks-alb).
ELB_CHECKING = {"State": "initial", "Reason": "Elb.InitialHealthChecking",
                "Description": "Initial health checks in progress"}
ELB_HEALTHY = {"State": "healthy"}
_ELB_DESCRIPTIONS = {TIMEOUT: "Request timed out", FAILED: "Health checks failed"}


def elb_health(status: str, last: Outcome | None) -> dict:
    """A network load balancer's ``TargetHealth`` for a checker's state and its latest outcome."""
    if status == HEALTHY:
        return ELB_HEALTHY
    if status == INITIAL or last is None or last.passed:
        return ELB_CHECKING
    if last.failure == MISMATCH:
        description = f"Health checks failed with these codes: [{last.status}]"
    else:
        description = _ELB_DESCRIPTIONS[last.failure or FAILED]
    return {"State": "unhealthy", "Reason": "Target.FailedHealthChecks", "Description": description}


# -- the monitor -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Spec:
    """What a checker checks with: a change restarts it."""

    check: HealthCheck
    address: tuple[str, int]


@dataclass(eq=False)
class _Checker:
    group: TargetGroup  # the latest snapshot's object: account and region for writes
    target: Target
    spec: _Spec
    health: TargetHealth
    fresh: bool  # starting over: the record may still hold an older verdict
    elb: bool = False  # an ELB target group's target (``nlb_groups``): its verdicts go there, in ELB's words
    written: dict | None = None  # ELB: the last health written
    task: asyncio.Task | None = None


def _checked(snapshot: Snapshot) -> Iterator[tuple[Key, TargetGroup, Target, bool]]:
    """Every (group, target) health checked in ``snapshot``: Lattice's, and ELB's a network load balancer's
    listener forwards to (the last item says which)."""
    elb = {id for b in snapshot.balancers.values() for id in [*b.listeners.values(), *b.udp.values()]
           if id in snapshot.nlb_groups}
    groups = [(g, False) for g in snapshot.target_groups.values() if g.used] + \
        [(snapshot.nlb_groups[id], True) for id in sorted(elb)]
    for group, is_elb in groups:
        if not (group.health_check.enabled and group.type in CHECKED_TYPES):
            continue
        for target in group.targets:
            if not target.draining and target.address is not None:
                yield (group.id, target.key), group, target, is_elb


class HealthMonitor:
    """Health checkers for the targets of a snapshot, and their verdicts for the balancer."""

    def __init__(self, store: Store, limits: Limits, on_change: Callable[[Key], None] | None = None):
        self._store = store
        self._head_limit = limits.max_headers  # a check's status line may not exceed a request's header limit
        self._checkers: dict[Key, _Checker] = {}
        self.generation = 0  # changes with every state change: the balancer caches on it
        self._on_change = on_change  # told which target's state may have changed (the workers learn the states)

    def state(self, group_id: str, target_key: str) -> str:
        """INITIAL until a checker has a verdict (and for targets not checked at all)."""
        checker = self._checkers.get((group_id, target_key))
        return checker.health.status if checker is not None else INITIAL

    def apply(self, snapshot: Snapshot) -> None:
        """Reconcile the checkers with ``snapshot``; call it on the event loop at every swap."""
        wanted = {key: (group, target, elb) for key, group, target, elb in _checked(snapshot)}
        for key in [k for k in self._checkers if k not in wanted]:
            self._stop(key)
        for key, (group, target, elb) in wanted.items():
            self._reconcile(key, group, target, elb)

    async def close(self) -> None:
        tasks = [c.task for c in self._checkers.values() if c.task is not None]
        self._checkers.clear()
        await cancel_all(tasks)

    # -- reconciling -------------------------------------------------------------

    def _reconcile(self, key: Key, group: TargetGroup, target: Target, elb: bool = False) -> None:
        assert target.address is not None  # _checked picks targets that have one
        spec = _Spec(group.health_check, target.address)
        current = self._checkers.get(key)
        if current is not None and current.spec == spec:
            current.group, current.target = group, target
            return
        kept = current is not None and current.spec.address == spec.address
        health = TargetHealth(current.health.status) if current is not None and kept else TargetHealth()
        if current is not None and current.task is not None:
            current.task.cancel()
        checker = _Checker(group, target, spec, health, fresh=not kept, elb=elb,
                           written=current.written if current is not None and kept else None)
        checker.task = asyncio.get_running_loop().create_task(self._run(checker), name=f"health {key[1]}")
        checker.task.add_done_callback(_report_crash)
        self._checkers[key] = checker
        self._changed(key)

    def _stop(self, key: Key) -> None:
        checker = self._checkers.pop(key)
        if checker.task is not None:
            checker.task.cancel()
        self._changed(key)

    def _changed(self, key: Key) -> None:
        self.generation += 1
        if self._on_change is not None:
            self._on_change(key)

    # -- checking ----------------------------------------------------------------

    async def _run(self, checker: _Checker) -> None:
        if checker.fresh and checker.elb:
            self._write_elb(checker, ELB_CHECKING)
        elif checker.fresh:
            self._write(checker, INITIAL, only_over=(HEALTHY, UNHEALTHY))
        check, (host, port) = checker.spec.check, checker.spec.address
        port = check.port or port
        matcher = _matcher_of(check)
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            outcome = await probe(host, port, check, matcher, self._head_limit)
            self._observe(checker, outcome)
            due = max(due + check.interval, loop.time())
            await asyncio.sleep(due - loop.time())

    def _observe(self, checker: _Checker, outcome: Outcome) -> None:
        before = checker.health.status
        checker.health = observe(checker.health, outcome.passed, checker.spec.check)
        if checker.elb:  # an unhealthy target's reason follows its latest failure
            self._write_elb(checker, elb_health(checker.health.status, outcome))
        if checker.health.status == before:
            return
        self._changed((checker.group.id, checker.target.key))
        log.info("target %s of %s: %s -> %s (%s)", checker.target.id, checker.group.id, before,
                 checker.health.status, outcome.detail)
        if not checker.elb:
            self._write(checker, checker.health.status)

    def _write_elb(self, checker: _Checker, health: dict) -> None:
        """Put ELB's ``TargetHealth`` in the target group's record (DescribeTargetHealth reads it), when it
        changed."""
        if checker.written == health:
            return
        group, target = checker.group, checker.target
        try:
            with self._store.transaction(group.account, group.region, "HealthCheck") as tx:
                elbv2.record_target_health(tx, group.id, target.id, target.port, health)
        except Exception:  # the store being unavailable must not stop the checks
            log.exception("could not record health of target %s", target.key)
            return
        checker.written = health

    def _write(self, checker: _Checker, status: str, only_over: tuple[str, ...] | None = None) -> None:
        """Put ``status`` in the target's record (ListTargets reads it), unless the record is gone,
        draining, already says so, or (with ``only_over``) holds another status."""
        group = checker.group
        try:
            with self._store.transaction(group.account, group.region, "HealthCheck") as tx:
                record_target_health(tx, checker.target.key, status, REASON_CODES[status], only_over)
        except Exception:  # the store being unavailable must not stop the checks
            log.exception("could not record health of target %s", checker.target.key)


def _report_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("health checker %s stopped", task.get_name(), exc_info=task.exception())
