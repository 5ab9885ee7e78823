"""Deregistration delay through a real server: a target deregistered from a network load balancer's group
drains (DescribeTargetHealth says ``draining``; new connections go elsewhere, open ones go on) for the group's
``deregistration_delay.timeout_seconds``, then leaves the group; with
``deregistration_delay.connection_termination.enabled`` its open connections are closed then."""

from __future__ import annotations

import asyncio
import socket

import pytest

from dataplane_env import eventually, wait_for
from latticework.dataplane.nlb import Deregistrations
from latticework.records import elbv2
from latticework.snapshot.model import HealthCheck, Snapshot, Target, TargetGroup
from latticework.store import Record
from latticework.store.sql import SqlStore
from test_nlb_health import balancer_with, echo_processes  # noqa: F401 (a fixture)
from test_nlb_traffic import exchange

DELAY = 2  # seconds: short, set with ModifyTargetGroupAttributes


def open_to(nodes: list[str], port: int, name: bytes) -> socket.socket:
    """A connection through the NLB that reached the target ``name`` (others are closed)."""
    for i in range(20):
        conn = socket.create_connection((nodes[i % len(nodes)], port), timeout=10)
        if talk(conn, b"hello") == name + b":hello":
            return conn
        conn.close()
    raise AssertionError(f"no connection reached {name!r}")


def talk(conn: socket.socket, payload: bytes) -> bytes:
    conn.sendall(payload)
    return conn.recv(65536)


def cut(conn: socket.socket) -> bool:
    """The NLB closed this connection (a reset, or an end of stream)."""
    try:
        return talk(conn, b"still there?") == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def health(elbv2, arn: str) -> dict[int, str]:
    return {h["Target"]["Port"]: h["TargetHealth"].get("Reason", h["TargetHealth"]["State"])
            for h in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]}


@pytest.mark.parametrize("terminate", [True, False], ids=["terminating", "keeping"])
def test_a_deregistered_target_drains_for_the_delay_then_leaves(clients, echo_processes, terminate):
    elbv2 = clients.client("elbv2")
    (_, one_port), (_, two_port) = echo_processes("one"), echo_processes("two")
    cidr = "10.21.0.0/16" if terminate else "10.22.0.0/16"
    base = cidr.rsplit(".", 2)[0]
    arn, nodes, port = balancer_with(clients, cidr, dict(Name=f"drained-{terminate}".lower(), Port=7),
                                     [{"Id": f"{base}.0.10", "Port": one_port}, {"Id": f"{base}.0.11", "Port": two_port}])
    elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(DELAY)},
        {"Key": "deregistration_delay.connection_termination.enabled", "Value": str(terminate).lower()}])
    conn = open_to(nodes, port, b"one")

    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": f"{base}.0.10", "Port": one_port}])
    assert health(elbv2, arn)[one_port] == "Target.DeregistrationInProgress"
    assert {exchange(nodes[i % 2], port, b"new") for i in range(4)} == {b"two:new"}  # no new connection to it
    assert talk(conn, b"open") == b"one:open"  # the open one goes on

    wait_for(lambda: one_port not in health(elbv2, arn), timeout=DELAY + 10, what="the deregistration to end")
    if terminate:
        wait_for(lambda: cut(conn), timeout=5, what="the connection to be closed")
    else:
        assert talk(conn, b"after") == b"one:after"
    conn.close()


# -- the control process's side, on a real store ----------------------------------------------

ACCOUNT, REGION, GROUP = "111111111111", "us-east-1", "0123456789abcdef"


def draining_group(store: SqlStore, since: float) -> None:
    """A target group record with one target whose deregistration began at ``since``."""
    body = {"TargetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/tg/{GROUP}",
            "TargetType": "ip", "Protocol": "TCP", "Port": 7}
    with store.transaction(ACCOUNT, REGION, "DeregisterTargets") as tx:
        tx.put(Record(kind=elbv2.TARGET_GROUP, id=GROUP, account=ACCOUNT, region=REGION, body=body, name="tg",
                      internal={"attributes": {}, "targets": [{"Id": "10.0.0.5", "draining": since}],
                                "health": {"10.0.0.5:7": {"State": "healthy"}}}))


def snapshot_of(delay: float) -> Snapshot:
    target = Target(key=f"{GROUP}/10.0.0.5:7", id="10.0.0.5", port=7, address=("127.0.0.1", 7), draining=True)
    group = TargetGroup(id=GROUP, arn="arn", name="tg", account=ACCOUNT, region=REGION, type="IP", protocol="TCP",
                        protocol_version="", port=7, vpc_id="vpc-1", health_check=HealthCheck(enabled=False),
                        targets=(target,), deregistration_delay=delay)
    return Snapshot(revision=1, nlb_groups={GROUP: group})


def targets(store: SqlStore) -> list:
    return store.reader(ACCOUNT, REGION, "test").get(elbv2.TARGET_GROUP, GROUP).internal["targets"]


@pytest.fixture
def store(tmp_path):
    opened = SqlStore.sqlite(tmp_path / "state.db")
    yield opened
    opened.close()


def test_the_delay_counts_from_the_recorded_deregistration_and_follows_a_changed_delay(store):
    now = [1000.0]

    async def scenario():
        deregistrations = Deregistrations(store, clock=lambda: now[0])
        try:
            draining_group(store, since=990.0)  # began 10 s ago (e.g. before a restart)
            deregistrations.apply(snapshot_of(300))
            await asyncio.sleep(0.05)
            assert targets(store) != []  # 290 s to go
            deregistrations.apply(snapshot_of(10))  # the delay shortened: already over
            await eventually(lambda: targets(store) == [])
            record = store.reader(ACCOUNT, REGION, "test").get(elbv2.TARGET_GROUP, GROUP)
            assert record.internal["health"] == {}  # its health goes with it
        finally:
            await deregistrations.close()

    asyncio.run(scenario())


def test_a_target_registered_again_meanwhile_stays(store):
    async def scenario():
        deregistrations = Deregistrations(store, clock=lambda: 1000.0)
        try:
            draining_group(store, since=999.0)
            deregistrations.apply(snapshot_of(1))
            with store.transaction(ACCOUNT, REGION, "RegisterTargets") as tx:  # a new registration
                record = tx.get(elbv2.TARGET_GROUP, GROUP)
                record.internal["targets"] = [{"Id": "10.0.0.5"}]
                tx.put(record)
            await asyncio.sleep(0.1)
            assert targets(store) == [{"Id": "10.0.0.5"}]
        finally:
            await deregistrations.close()

    asyncio.run(scenario())
