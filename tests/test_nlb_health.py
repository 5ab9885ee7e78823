"""Network load balancers health check their targets through a real server: boto3's DescribeTargetHealth
reports the states and reasons AWS reports, and only healthy targets take new connections (all of them when
none is healthy: an NLB fails open)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys

import pytest

from dataplane_env import EchoTarget, wait_for
from test_ec2_endpoints import make_vpc
from test_nlb_traffic import ECHO, cross_zone, exchange, free_port
from test_privatelink_dns import interfaces_of

# The fastest checks the API allows: every 5 s, 2 s to answer, 2 passes or failures to change state.
FAST = dict(HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
            UnhealthyThresholdCount=2)


@pytest.fixture
def echo_processes():
    """Start named TCP echo processes on 127.0.0.1: ``start(name)`` -> (process, port)."""
    procs = []

    def start(name: str):
        proc = subprocess.Popen([sys.executable, "-c", ECHO, name], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc, int(proc.stdout.readline())

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def balancer_with(clients, cidr: str, group: dict, targets: list[dict]) -> tuple[str, list[str], int]:
    """An NLB with one TCP listener over a new target group of ``targets``: (group ARN, node addresses, port)."""
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    vpc, subnets = make_vpc(ec2, cidr)
    lb = elbv2.create_load_balancer(Name=f"lb-{cidr.split('.')[1]}", Type="network", Scheme="internal",
                                    Subnets=subnets)["LoadBalancers"][0]
    cross_zone(elbv2, lb["LoadBalancerArn"])
    tg = elbv2.create_target_group(Protocol="TCP", VpcId=vpc, TargetType="ip", **group)["TargetGroups"][0]
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=targets)
    port = free_port()
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    lb_id = lb["LoadBalancerArn"].rsplit("/", 1)[1]
    return tg["TargetGroupArn"], sorted(interfaces_of(clients.server, vpc, lb_id)), port


def health_by_port(elbv2, arn: str) -> dict[int, dict]:
    return {h["Target"]["Port"]: h["TargetHealth"]
            for h in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]}


def states(elbv2, arn: str) -> dict[int, str]:
    return {port: health["State"] for port, health in health_by_port(elbv2, arn).items()}


def test_a_stopped_target_turns_unhealthy_and_gets_no_new_connections(clients, echo_processes):
    elbv2 = clients.client("elbv2")
    (one, one_port), (_, two_port) = echo_processes("one"), echo_processes("two")
    arn, nodes, port = balancer_with(clients, "10.11.0.0/16", dict(Name="tcp-checked", Port=7, **FAST),
                                     [{"Id": "10.11.0.10", "Port": one_port}, {"Id": "10.11.0.11", "Port": two_port}])
    # A TCP check that connects passes; one passed check puts a new target in service.
    wait_for(lambda: states(elbv2, arn) == {one_port: "healthy", two_port: "healthy"}, timeout=15, what="healthy")
    assert {exchange(nodes[i % 2], port, b"hi") for i in range(4)} == {b"one:hi", b"two:hi"}

    one.kill()
    one.wait()
    wait_for(lambda: states(elbv2, arn)[one_port] == "unhealthy", timeout=20, what="unhealthy")
    assert health_by_port(elbv2, arn) == {
        one_port: {"State": "unhealthy", "Reason": "Target.FailedHealthChecks", "Description": "Health checks failed"},
        two_port: {"State": "healthy"}}
    # The unhealthy target gets no new connection; the other keeps serving.
    assert {exchange(nodes[i % 2], port, b"ping") for i in range(6)} == {b"two:ping"}


def http_get(node: str, port: int, conn: http.client.HTTPConnection | None = None) -> str:
    """The name of the echo target that answered a GET through the NLB (on ``conn`` when given)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection(node, port, timeout=10)
    try:
        conn.request("GET", "/anything")
        return json.loads(conn.getresponse().read())["target"]
    finally:
        if own:
            conn.close()


def kept_alive_to(nodes: list[str], port: int, name: str) -> http.client.HTTPConnection:
    """A keep-alive HTTP connection through the NLB that reached the target ``name``."""
    for i in range(20):
        conn = http.client.HTTPConnection(nodes[i % 2], port, timeout=10)
        if http_get(nodes[i % 2], port, conn) == name:
            return conn
        conn.close()
    raise AssertionError(f"no connection reached {name}")


def reset(conn: http.client.HTTPConnection) -> bool:
    try:
        http_get("", 0, conn)
    except (ConnectionError, http.client.HTTPException):
        return True
    return False


def test_http_checks_report_the_status_and_an_nlb_fails_open(clients):
    elbv2 = clients.client("elbv2")
    fine, failing = EchoTarget("fine"), EchoTarget("failing", 0, "--health-status", "503")
    try:
        arn, nodes, port = balancer_with(
            clients, "10.12.0.0/16",
            dict(Name="http-checked", Port=80, HealthCheckProtocol="HTTP", HealthCheckPath="/health",
                 Matcher={"HttpCode": "200,503"}, **FAST),
            [{"Id": "10.12.0.10", "Port": fine.port}, {"Id": "10.12.0.11", "Port": failing.port}])
        wait_for(lambda: set(states(elbv2, arn).values()) == {"healthy"}, timeout=15, what="both healthy")
        open_to_failing = kept_alive_to(nodes, port, "failing")

        # 503 no longer passes: that target turns unhealthy, its open connection is reset (the group's
        # target_health_state.unhealthy.connection_termination.enabled is true by default), new ones go elsewhere.
        elbv2.modify_target_group(TargetGroupArn=arn, Matcher={"HttpCode": "200"})
        wait_for(lambda: states(elbv2, arn) == {fine.port: "healthy", failing.port: "unhealthy"}, timeout=20,
                 what="one healthy, one unhealthy")
        assert health_by_port(elbv2, arn)[failing.port] == {
            "State": "unhealthy", "Reason": "Target.FailedHealthChecks",
            "Description": "Health checks failed with these codes: [503]"}
        wait_for(lambda: reset(open_to_failing), timeout=5, what="the connection to the unhealthy target to be reset")
        assert {http_get(nodes[i % 2], port) for i in range(4)} == {"fine"}

        # No target healthy: every target takes connections again.
        elbv2.modify_target_group(TargetGroupArn=arn, Matcher={"HttpCode": "204"})
        wait_for(lambda: set(states(elbv2, arn).values()) == {"unhealthy"}, timeout=20, what="all unhealthy")
        assert {http_get(nodes[i % 2], port) for i in range(6)} == {"fine", "failing"}
    finally:
        fine.stop()
        failing.stop()
