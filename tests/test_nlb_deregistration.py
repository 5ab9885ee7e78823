"""Deregistration delay through a real server: a target deregistered from a network load balancer's group
drains (DescribeTargetHealth says ``draining``; new connections go elsewhere, open ones go on) for the group's
``deregistration_delay.timeout_seconds``, then leaves the group; with
``deregistration_delay.connection_termination.enabled`` its open connections are closed then."""

from __future__ import annotations

import socket

import pytest

from dataplane_env import wait_for
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
