"""Health checks: the matcher, the target state machine, real checks over real sockets, and the
monitor writing target states into a real store."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import re
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import RequestReceived
from hypothesis import given, strategies as st

from dataplane_env import eventually
from latticework.dataplane.health import (
    FAILED, HEALTHY, INITIAL, MISMATCH, REASON_CODES, TIMEOUT, UNHEALTHY, HealthMonitor, Outcome, TargetHealth,
    elb_health, observe, parse_matcher, probe, status_of,
)
from latticework.dataplane.plane import Limits
from latticework.records import elbv2
from latticework.snapshot.model import HealthCheck, NetworkLoadBalancer, Snapshot, Target, TargetGroup
from latticework.store import Record
from latticework.store.sql import SqlStore

ACCOUNT, REGION, TG = "111111111111", "us-east-1", "tg-0123456789abcdef0"
FAST = HealthCheck(enabled=True, interval=0.05, timeout=0.5, healthy_threshold=2, unhealthy_threshold=2)


# -- matcher ------------------------------------------------------------------------------

codes = st.integers(100, 599)
parts = st.one_of(codes.map(lambda c: (c, c, False)),
                  st.tuples(codes, codes).map(lambda p: (min(p), max(p), True)))


@given(st.lists(parts, min_size=1, max_size=6))
def test_matcher_accepts_exactly_the_listed_codes_and_ranges(items):
    text = ",".join(f"{lo}-{hi}" if ranged else f"{lo}" for lo, hi, ranged in items)
    matcher = parse_matcher(text)
    for status in range(100, 600):
        assert (status in matcher) == any(lo <= status <= hi for lo, hi, _ in items)


VALID = re.compile(r"\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*", re.ASCII)


@given(st.text(alphabet="0123456789-, x", max_size=16))
def test_matcher_refuses_anything_else(text):
    compact = text.replace(" ", "")
    ordered = VALID.fullmatch(compact) and all(
        int(p.split("-")[0]) <= int(p.split("-")[-1]) for p in compact.split(","))
    if ordered:
        parse_matcher(text)
    else:
        with pytest.raises(ValueError):
            parse_matcher(text)


@pytest.mark.parametrize("text, inside, outside", [
    ("200", [200], [201, 199]), ("200,202", [200, 202], [201]), ("200-299", [200, 250, 299], [300, 199]),
    ("200, 302-304", [200, 303], [301, 305]),
])
def test_matcher_forms_of_the_api(text, inside, outside):
    matcher = parse_matcher(text)
    assert all(s in matcher for s in inside) and not any(s in matcher for s in outside)


def test_status_lines():
    assert status_of(b"HTTP/1.1 204 No Content\r\n") == 204
    assert status_of(b"HTTP/1.0 200\r\n") == 200
    for line in (b"", b"SSH-2.0-OpenSSH\r\n", b"HTTP/1.1 2000 OK\r\n", b"HTTP/2 200\r\n"):
        with pytest.raises(ValueError):
            status_of(line)


# -- the state machine --------------------------------------------------------------------

def run(verdicts, check=FAST, start=TargetHealth()) -> list[str]:
    states, health = [], start
    for passed in verdicts:
        health = observe(health, passed, check)
        states.append(health.status)
    return states


def test_a_new_target_is_healthy_after_one_passed_check():
    assert run([True]) == [HEALTHY]


def test_a_new_target_is_unhealthy_after_the_unhealthy_threshold():
    check = HealthCheck(enabled=True, unhealthy_threshold=3)
    assert run([False, False, True, False, False, False], check) == [INITIAL, INITIAL, HEALTHY, HEALTHY, HEALTHY,
                                                                      UNHEALTHY]
    assert run([False, False, False], check) == [INITIAL, INITIAL, UNHEALTHY]


def test_an_unhealthy_target_needs_the_healthy_threshold_of_consecutive_passes():
    check = HealthCheck(enabled=True, healthy_threshold=3, unhealthy_threshold=2)
    assert run([False, False, True, True, False, True, True, True], check) == [
        INITIAL, UNHEALTHY, UNHEALTHY, UNHEALTHY, UNHEALTHY, UNHEALTHY, UNHEALTHY, HEALTHY]


@given(verdicts=st.lists(st.booleans(), max_size=40), healthy=st.integers(2, 10), unhealthy=st.integers(2, 10))
def test_transitions_follow_runs_of_verdicts(verdicts, healthy, unhealthy):
    check = HealthCheck(enabled=True, healthy_threshold=healthy, unhealthy_threshold=unhealthy)
    before, run_length, last = INITIAL, 0, None
    for passed, after in zip(verdicts, run(verdicts, check)):
        run_length = run_length + 1 if passed == last else 1
        last = passed
        if after != before:  # a pass can only make a target healthy, a failure only unhealthy
            assert after == (HEALTHY if passed else UNHEALTHY)
        if passed:
            assert after == HEALTHY if before == INITIAL or run_length >= healthy else after == before
        else:
            assert after == (UNHEALTHY if run_length >= unhealthy else before)
        before = after


# -- targets to check ----------------------------------------------------------------------

def certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "target.internal")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=2))
            .not_valid_after(now - datetime.timedelta(days=1))  # expired: Lattice does not verify targets
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "target.crt", directory / "target.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls(directory: Path, alpn: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate(directory))
    context.set_alpn_protocols([alpn])
    return context


class Backend:
    """A target process: answers health checks with ``status`` (HTTP/1.1 or HTTP/2), or never."""

    def __init__(self, status: int = 200, *, http2: bool = False, hang: bool = False, tls: ssl.SSLContext = None):
        self.status, self.http2, self.hang, self.tls = status, http2, hang, tls
        self.heads: list[bytes] = []
        self.opened = self.closed_by_checker = 0

    async def __aenter__(self) -> "Backend":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        try:
            if not self.hang:
                await (self._answer_h2 if self.http2 else self._answer)(reader, writer)
            if await reader.read() == b"":  # the checker closes its connection after each check
                self.closed_by_checker += 1
        except (Exception, asyncio.CancelledError):  # a client speaking nonsense, or the test ending
            pass
        finally:
            writer.close()

    async def _answer(self, reader, writer) -> None:
        self.heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(f"HTTP/1.1 {self.status} Whatever\r\nContent-Length: 2\r\n\r\nok".encode())
        await writer.drain()

    async def _answer_h2(self, reader, writer) -> None:
        conn = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        while not self.heads:
            data = await reader.read(65536)
            if not data:
                return
            for event in conn.receive_data(data):
                if isinstance(event, RequestReceived):
                    self.heads.append(repr(event.headers).encode())
                    conn.send_headers(event.stream_id, [(":status", str(self.status))], end_stream=True)
            writer.write(conn.data_to_send())
        await writer.drain()


def unused_port() -> socket.socket:
    """A socket bound but not listening: connecting to its port is refused, and nobody else can take it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


# -- one check -----------------------------------------------------------------------------

def check(status=200, *, matcher="200", path="/health?deep=1", protocol="HTTP", version="HTTP1", http2=False,
          tls=None, hang=False, timeout=1.0):
    async def scenario():
        async with Backend(status, http2=http2, hang=hang, tls=tls) as backend:
            settings = HealthCheck(enabled=True, protocol=protocol, protocol_version=version, path=path,
                                   timeout=timeout, matcher=matcher)
            outcome = await probe("127.0.0.1", backend.port, settings, parse_matcher(matcher))
            return outcome, backend

    return asyncio.run(scenario())


def test_a_check_is_one_get_on_its_own_connection():
    outcome, backend = check()
    assert outcome.passed and outcome.detail == "status 200"
    head = backend.heads[0].decode()
    assert head.startswith("GET /health?deep=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{backend.port}\r\n" in head and "Connection: close\r\n" in head
    assert backend.opened == 1


def test_the_connection_is_closed_after_the_check():
    async def scenario():
        async with Backend() as backend:
            for _ in range(3):
                assert (await probe("127.0.0.1", backend.port, FAST, parse_matcher("200"))).passed
            deadline = asyncio.get_running_loop().time() + 5
            while backend.closed_by_checker < 3 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            return backend

    backend = asyncio.run(scenario())
    assert backend.opened == backend.closed_by_checker == 3


def test_a_status_outside_the_matcher_fails():
    outcome, _ = check(500)
    assert not outcome.passed and "500" in outcome.detail
    assert check(302, matcher="200,300-399")[0].passed


def test_no_answer_within_the_timeout_fails():
    outcome, _ = check(hang=True, timeout=0.1)
    assert not outcome.passed and "no response within 0.1 s" == outcome.detail


def test_a_refused_connection_fails():
    async def scenario():
        with unused_port() as sock:
            return await probe("127.0.0.1", sock.getsockname()[1], FAST, parse_matcher("200"))

    outcome = asyncio.run(scenario())
    assert not outcome.passed and outcome.detail == "connection refused"


def test_https_checks_do_not_verify_the_target_certificate(tmp_path):
    outcome, backend = check(protocol="HTTPS", tls=server_tls(tmp_path, "http/1.1"))
    assert outcome.passed and backend.heads


def test_http2_checks_with_prior_knowledge():
    outcome, backend = check(204, matcher="200-299", version="HTTP2", http2=True)
    assert outcome.passed and outcome.detail == "status 204"
    assert "':path', '/health?deep=1'" in backend.heads[0].decode()


def test_http2_checks_over_tls_negotiate_h2(tmp_path):
    outcome, _ = check(protocol="HTTPS", version="HTTP2", http2=True, tls=server_tls(tmp_path, "h2"))
    assert outcome.passed
    outcome, _ = check(protocol="HTTPS", version="HTTP2", http2=False, tls=server_tls(tmp_path, "http/1.1"),
                       timeout=0.2)
    assert not outcome.passed  # the target speaks only HTTP/1.1: an HTTP/2 check cannot pass


# -- the monitor and the store -------------------------------------------------------------

def target_record(store: SqlStore, port: int, status: str = INITIAL, n: int = 0) -> str:
    """A target record as RegisterTargets writes it; returns its key."""
    key, name = f"{TG}/{n:03d}-digest", f"127.0.0.1:{port}"
    body = {"id": "127.0.0.1", "port": port, "status": status, "reasonCode": REASON_CODES[status],
            "createdAt": "2024-01-01T00:00:00Z"}
    if REASON_CODES[status] is None:
        del body["reasonCode"]
    with store.transaction(ACCOUNT, REGION, "RegisterTargets") as tx:
        tx.put(Record(kind="target", id=key, account=ACCOUNT, region=REGION, body=body, parent=TG, name=name))
    return key


def stored(store: SqlStore, key: str) -> dict | None:
    record = store.reader(ACCOUNT, REGION, "test").get("target", key)
    return record.body if record else None


def snapshot(*targets: Target, check: HealthCheck = FAST, used: bool = True, type: str = "IP",
             revision: int = 1) -> Snapshot:
    group = TargetGroup(id=TG, arn=f"arn:aws:vpc-lattice:{REGION}:{ACCOUNT}:targetgroup/{TG}", name="checked",
                        account=ACCOUNT, region=REGION, type=type, protocol="HTTP", protocol_version="HTTP1",
                        port=80, vpc_id="vpc-1", health_check=check, targets=targets, used=used)
    return Snapshot(revision=revision, target_groups={TG: group})


def target(key: str, port: int, draining: bool = False) -> Target:
    return Target(key=key, id="127.0.0.1", port=port, address=("127.0.0.1", port), draining=draining)


@pytest.fixture
def store(tmp_path):
    opened = SqlStore.sqlite(tmp_path / "state.db")
    yield opened
    opened.close()


def monitored(store, scenario):
    """Run ``scenario(monitor)`` on a fresh event loop, closing the monitor afterwards."""
    async def main():
        monitor = HealthMonitor(store, Limits())
        try:
            return await scenario(monitor)
        finally:
            await monitor.close()

    return asyncio.run(main())


def test_the_record_follows_the_target_through_its_states(store):
    async def scenario(monitor):
        async with Backend(200) as backend:
            key = target_record(store, backend.port)
            monitor.apply(snapshot(target(key, backend.port)))
            await eventually(lambda: stored(store, key)["status"] == HEALTHY)
            assert "reasonCode" not in stored(store, key)
            assert monitor.state(TG, key) == HEALTHY
            backend.status = 503
            await eventually(lambda: stored(store, key)["status"] == UNHEALTHY)
            assert stored(store, key)["reasonCode"] == "HealthCheckFailed"
            assert monitor.state(TG, key) == UNHEALTHY
            backend.status = 200
            await eventually(lambda: monitor.state(TG, key) == HEALTHY)
            assert stored(store, key)["status"] == HEALTHY and "reasonCode" not in stored(store, key)
            return backend

    backend = monitored(store, scenario)
    assert backend.opened >= 5  # one connection per check


def test_silent_and_absent_targets_become_unhealthy(store):
    async def scenario(monitor):
        with unused_port() as sock:
            async with Backend(hang=True) as silent:
                refused = sock.getsockname()[1]
                keys = [target_record(store, silent.port, n=0), target_record(store, refused, n=1)]
                monitor.apply(snapshot(target(keys[0], silent.port), target(keys[1], refused),
                                       check=HealthCheck(enabled=True, interval=0.05, timeout=0.1)))
                await eventually(lambda: all(stored(store, k)["status"] == UNHEALTHY for k in keys))
                assert all(stored(store, k)["reasonCode"] == "HealthCheckFailed" for k in keys)

    monitored(store, scenario)


def test_an_unchanged_snapshot_keeps_the_checkers_running(store):
    async def scenario(monitor):
        async with Backend() as backend:
            key = target_record(store, backend.port)
            monitor.apply(snapshot(target(key, backend.port)))
            await eventually(lambda: monitor.state(TG, key) == HEALTHY)
            task = monitor._checkers[(TG, key)].task
            monitor.apply(snapshot(target(key, backend.port), revision=2))  # equal, newer objects
            assert monitor._checkers[(TG, key)].task is task and monitor.state(TG, key) == HEALTHY
            monitor.apply(snapshot(target(key, backend.port), check=dataclasses.replace(FAST, path="/other")))
            assert monitor._checkers[(TG, key)].task is not task  # new settings: restarted
            assert monitor.state(TG, key) == HEALTHY  # ... keeping the verdict
            await eventually(lambda: task.done())

    monitored(store, scenario)


def test_a_new_address_starts_over(store):
    async def scenario(monitor):
        async with Backend() as first, Backend(hang=True) as second:
            key = target_record(store, first.port)
            monitor.apply(snapshot(target(key, first.port)))
            await eventually(lambda: stored(store, key)["status"] == HEALTHY)
            monitor.apply(snapshot(target(key, second.port)))
            assert monitor.state(TG, key) == INITIAL
            await eventually(lambda: stored(store, key)["status"] == INITIAL)
            assert stored(store, key)["reasonCode"] == "HealthCheckInProgress"

    monitored(store, scenario)


def test_only_used_checked_ip_and_instance_groups_are_checked(store):
    async def scenario(monitor):
        async with Backend() as backend:
            key = target_record(store, backend.port)
            t = target(key, backend.port)
            for unchecked in (snapshot(t, used=False), snapshot(t, check=HealthCheck(enabled=False)),
                              snapshot(t, type="ALB"), snapshot(target(key, backend.port, draining=True)),
                              snapshot(Target(key=key, id="i-0123456789abcdef0", port=80, address=None))):
                monitor.apply(unchecked)
                assert monitor._checkers == {}
            monitor.apply(snapshot(t, type="INSTANCE"))
            await eventually(lambda: monitor.state(TG, key) == HEALTHY)
            monitor.apply(snapshot(t, used=False))  # stopped: no verdict any more
            assert monitor._checkers == {} and monitor.state(TG, key) == INITIAL
            return backend

    assert monitored(store, scenario).opened >= 1


def test_starting_over_resets_a_stale_verdict_first(store):
    async def scenario(monitor):
        async with Backend(hang=True) as backend:
            key = target_record(store, backend.port, status=HEALTHY)  # from before the group was unused
            monitor.apply(snapshot(target(key, backend.port), check=HealthCheck(enabled=True, timeout=5)))
            await eventually(lambda: stored(store, key)["status"] == INITIAL)
            assert stored(store, key)["reasonCode"] == "HealthCheckInProgress"

    monitored(store, scenario)


def test_a_draining_record_is_left_alone(store):
    async def scenario(monitor):
        async with Backend(500) as backend:
            key = target_record(store, backend.port)
            with store.transaction(ACCOUNT, REGION, "DeregisterTargets") as tx:
                record = tx.get("target", key)
                record.body.update(status="DRAINING", reasonCode="TargetDeregistrationInProgress")
                tx.put(record)
            monitor.apply(snapshot(target(key, backend.port)))  # a snapshot from before the deregistration
            await eventually(lambda: monitor.state(TG, key) == UNHEALTHY)
            assert stored(store, key)["status"] == "DRAINING"

    monitored(store, scenario)


def test_a_deleted_record_is_not_recreated(store):
    async def scenario(monitor):
        async with Backend() as backend:
            key = target_record(store, backend.port)
            with store.transaction(ACCOUNT, REGION, "DeregisterTargets") as tx:
                tx.delete("target", key)
            monitor.apply(snapshot(target(key, backend.port)))
            await eventually(lambda: monitor.state(TG, key) == HEALTHY)
            assert stored(store, key) is None

    monitored(store, scenario)


# -- network load balancers' target groups (ELB's words) ------------------------------------

def test_why_a_check_failed():
    assert check(hang=True, timeout=0.1)[0].failure == TIMEOUT
    assert (check(500)[0].failure, check(500)[0].status) == (MISMATCH, 500)

    async def refused():
        with unused_port() as sock:
            return await probe("127.0.0.1", sock.getsockname()[1], FAST, parse_matcher("200"))

    assert asyncio.run(refused()).failure == FAILED


def test_a_tcp_check_passes_when_a_connection_opens():
    tcp = HealthCheck(enabled=True, protocol="TCP", timeout=0.5)

    async def scenario():
        async with Backend(hang=True) as backend:  # says nothing: a TCP check does not wait for a word
            passed = await probe("127.0.0.1", backend.port, tcp, parse_matcher("200"))
        with unused_port() as sock:
            failed = await probe("127.0.0.1", sock.getsockname()[1], tcp, parse_matcher("200"))
        return passed, failed, backend

    passed, failed, backend = asyncio.run(scenario())
    assert passed.passed and backend.opened == 1 and backend.heads == []
    assert not failed.passed and failed.failure == FAILED


def test_elb_words_for_states_and_failures():
    assert elb_health(HEALTHY, Outcome(True, "connected")) == {"State": "healthy"}
    checking = {"State": "initial", "Reason": "Elb.InitialHealthChecking",
                "Description": "Initial health checks in progress"}
    assert elb_health(INITIAL, Outcome(False, "refused", FAILED)) == checking  # not yet enough failures
    # Target.Timeout and Target.ResponseCodeMismatch are ALB-only reasons: an NLB says what failed in the description.
    assert elb_health(UNHEALTHY, Outcome(False, "late", TIMEOUT)) == {
        "State": "unhealthy", "Reason": "Target.FailedHealthChecks", "Description": "Request timed out"}
    assert elb_health(UNHEALTHY, Outcome(False, "refused", FAILED)) == {
        "State": "unhealthy", "Reason": "Target.FailedHealthChecks", "Description": "Health checks failed"}
    assert elb_health(UNHEALTHY, Outcome(False, "404", MISMATCH, 404)) == {
        "State": "unhealthy", "Reason": "Target.FailedHealthChecks",
        "Description": "Health checks failed with these codes: [404]"}


ELB_TG = "0123456789abcdef"


def elb_group_record(store: SqlStore, port: int) -> None:
    """An ELB target group record with one registered target, as CreateTargetGroup and RegisterTargets leave it."""
    body = {"TargetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/tg/{ELB_TG}",
            "TargetType": "ip", "Protocol": "TCP", "Port": port}
    with store.transaction(ACCOUNT, REGION, "CreateTargetGroup") as tx:
        tx.put(Record(kind=elbv2.TARGET_GROUP, id=ELB_TG, account=ACCOUNT, region=REGION, body=body, name="tg",
                      internal={"attributes": {}, "targets": [{"Id": "127.0.0.1", "Port": port}]}))


def elb_stored(store: SqlStore, port: int) -> dict | None:
    record = store.reader(ACCOUNT, REGION, "test").get(elbv2.TARGET_GROUP, ELB_TG)
    return (record.internal.get("health") or {}).get(f"127.0.0.1:{port}")


def nlb_snapshot(port: int, listened: bool, check: HealthCheck) -> Snapshot:
    t = Target(key=f"{ELB_TG}/127.0.0.1:{port}", id="127.0.0.1", port=port, address=("127.0.0.1", port))
    group = TargetGroup(id=ELB_TG, arn="arn", name="tg", account=ACCOUNT, region=REGION, type="IP", protocol="TCP",
                        protocol_version="", port=port, vpc_id="vpc-1", health_check=check, targets=(t,), used=True)
    balancers = {"lb": NetworkLoadBalancer(id="lb", arn="arn", vpc_id="vpc-1",
                                           listeners={80: ELB_TG} if listened else {})}
    return Snapshot(revision=1, nlb_groups={ELB_TG: group}, balancers=balancers)


def test_an_nlb_group_is_checked_while_a_listener_uses_it_and_its_record_says_so_in_elb_words(store):
    tcp = HealthCheck(enabled=True, protocol="TCP", interval=0.05, timeout=0.5, unhealthy_threshold=2)

    async def scenario(monitor):
        async with Backend(hang=True) as backend:
            elb_group_record(store, backend.port)
            key = (ELB_TG, f"{ELB_TG}/127.0.0.1:{backend.port}")
            monitor.apply(nlb_snapshot(backend.port, listened=False, check=tcp))
            assert monitor._checkers == {}
            monitor.apply(nlb_snapshot(backend.port, listened=True, check=tcp))
            await eventually(lambda: elb_stored(store, backend.port) == {"State": "healthy"})
            assert monitor.state(*key) == HEALTHY
            backend.server.close()  # no one listens any more: refused
            await backend.server.wait_closed()
            await eventually(lambda: (elb_stored(store, backend.port) or {}).get("State") == "unhealthy")
            assert elb_stored(store, backend.port)["Reason"] == "Target.FailedHealthChecks"
            assert monitor.state(*key) == UNHEALTHY

    monitored(store, scenario)
