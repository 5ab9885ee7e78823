"""Traffic through the real server: boto3 builds the topology, real processes serve it.

The payment-service example: a client VPC joined to a service network that
holds the ``payment`` service, whose HTTP (80) and HTTPS (443) listeners
split 80/20 between a blue target group (two echo processes) and a green one
(one), with rules by path, header and method. Clients run inside the client
VPC: unmodified curl through ``latticework exec --vpc``, and ``VpcClient``
for volume. Ports 80 and 443 and the resolvers' port 53 need root.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import urllib.request

import pytest

from conftest import _accounts, client_for
from dataplane_env import EchoTarget, Topology, forward, send_in_flight, wait_for
from latticework.vpcclient import NameNotFound

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="listeners on ports 80/443 and resolvers on 53 need root")


@pytest.fixture(scope="module")
def server(server_by_workers):
    """Every test here runs against a data plane of one worker process, then of two."""
    return server_by_workers


@pytest.fixture(scope="module")
def payment(server):
    topo = Topology.fresh(server)
    targets = {name: EchoTarget(name) for name in ("blue-1", "blue-2", "green-1")}
    topo.client_vpc, topo.other_vpc = topo.vpc("10.0.0.0/16"), topo.vpc("10.2.0.0/16")
    provider = topo.vpc("10.1.0.0/16")
    topo.network = topo.lattice.create_service_network(name="payments-net")
    topo.service = topo.lattice.create_service(name="payment")
    blue = topo.group("blue", [targets["blue-1"], targets["blue-2"]], provider)
    green = topo.group("green", [targets["green-1"]], provider)
    split, only_green = forward((blue, 80), (green, 20)), forward((green, 100))
    http = topo.listener("http", "HTTP", 80, split)
    topo.listener("https", "HTTPS", 443, split)
    topo.rule(http, "v2-green", 10, {"pathMatch": {"match": {"prefix": "/v2"}}}, only_green)
    topo.rule(http, "canary", 20, {"headerMatches": [{"name": "X-Canary", "match": {"exact": "true"}}]}, only_green)
    topo.rule(http, "refunds", 30, {"method": "POST", "pathMatch": {"match": {"exact": "/refunds"}}},
              {"fixedResponse": {"statusCode": 404}})
    topo.rule(http, "v2-post", 5, {"method": "POST", "pathMatch": {"match": {"prefix": "/v2/admin"}}},
              {"fixedResponse": {"statusCode": 500}})
    topo.join()
    wait_for(lambda: all(s == "HEALTHY" for g in ("blue", "green") for s in topo.states(g).values()),
             what="targets to pass their first health checks")
    yield topo
    for target in targets.values():
        target.stop()


def latticework(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "latticework", *args], capture_output=True, text=True,
                          timeout=60, **kwargs)


def in_vpc(topo: Topology, vpc: str, *command: str) -> subprocess.CompletedProcess:
    return latticework("exec", "--endpoint", topo.endpoint, "--vpc", vpc, "--", *command)


# -- unmodified clients --------------------------------------------------------------------------

def test_curl_reaches_the_service_by_its_name_over_http(payment):
    done = in_vpc(payment, payment.client_vpc, "curl", "-sS", "--fail", f"http://{payment.name}/pay")
    assert done.returncode == 0, done.stderr
    assert '"target": "' in done.stdout and '"x-amzn-source-vpc"' in done.stdout


def test_curl_reaches_the_service_over_https_trusting_the_exported_ca(payment, tmp_path):
    ca = tmp_path / "ca.pem"
    exported = latticework("ca", "export", "--endpoint", payment.endpoint, "--out", str(ca))
    assert exported.returncode == 0, exported.stderr
    done = in_vpc(payment, payment.client_vpc, "curl", "-sS", "--fail", "--cacert", str(ca),
                  f"https://{payment.name}/pay")
    assert done.returncode == 0, done.stderr
    assert '"x-forwarded-proto", "https"' in done.stdout


def test_resolver_address_is_printed_and_answers(payment):
    printed = latticework("vpc", "resolver", "--endpoint", payment.endpoint, payment.client_vpc)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == payment.client().info.resolver


def test_a_vpc_not_associated_cannot_resolve_or_connect(payment):
    other = payment.client(payment.other_vpc)
    with pytest.raises(NameNotFound):
        other.resolve(payment.name)
    with pytest.raises(ConnectionRefusedError):  # nothing listens for it at its own Lattice address
        socket.create_connection((other.info.lattice, 80), timeout=5)
    done = in_vpc(payment, payment.other_vpc, "curl", "-sS", f"http://{payment.name}/pay")
    assert done.returncode != 0 and "resolve" in done.stderr.lower()


# -- routing -------------------------------------------------------------------------------------

def test_rules_by_priority_path_header_and_method(payment):
    client, base = payment.client(), f"http://{payment.name}"
    assert client.get(f"{base}/v2/pay").json()["target"] == "green-1"
    assert client.get(f"{base}/pay", headers={"x-canary": "TRUE"}).json()["target"] == "green-1"
    assert client.request("POST", f"{base}/refunds").status == 404
    assert client.request("GET", f"{base}/refunds").status == 200  # method must match too
    assert client.request("POST", f"{base}/v2/admin/x").status == 500  # priority 5 beats the /v2 rule


def test_weights_hold_within_two_percent_over_ten_thousand_requests(payment):
    client, url = payment.client(), f"http://{payment.name}/pay"
    seen = collections.Counter(client.get(url).json()["target"] for _ in range(10_000))
    green = seen["green-1"] / 10_000
    assert abs(green - 0.20) <= 0.02, seen
    assert abs(seen["blue-1"] - seen["blue-2"]) <= 2, seen  # round robin inside the blue group


def test_headers_seen_by_the_target_are_exact(payment):
    client = payment.client()
    echoed = client.get(f"http://{payment.name}/pay?x=1", headers={
        "x-amzn-lattice-identity": "Principal=spoofed", "x-amzn-source-vpc": "vpc-spoofed",
        "x-forwarded-for": "203.0.113.9", "x-custom": "kept"}).json()
    headers = dict(echoed["headers"])
    vpc, account = payment.client_vpc, payment.network["arn"].split(":")[4]
    target_arns = {g: payment.lattice.get_target_group(targetGroupIdentifier=tg)["arn"]
                   for g, tg in payment.groups.items()}
    group = "green" if echoed["target"].startswith("green") else "blue"
    assert headers["host"] == payment.name and echoed["path"] == "/pay?x=1"
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert headers["x-forwarded-port"] == "80" and headers["x-forwarded-proto"] == "http"
    assert headers["x-amzn-source-vpc"] == vpc
    assert headers["x-amzn-lattice-network"] == f"SourceVpcArn=arn:aws:ec2:us-east-1:{account}:vpc/{vpc}"
    assert headers["x-amzn-lattice-target"] == (f"ServiceArn={payment.service['arn']}; "
                                                f"ServiceNetworkArn={payment.network['arn']}; "
                                                f"TargetGroupArn={target_arns[group]}")
    assert len(headers["x-amzn-requestid"]) == 36 and headers["x-custom"] == "kept"
    assert "x-amzn-lattice-identity" not in headers
    assert [n for n, _ in echoed["headers"]].count("x-amzn-source-vpc") == 1


def test_https_clients_get_the_same_service(payment):
    client = payment.client()
    echoed = client.get(f"https://{payment.name}/pay").json()
    headers = dict(echoed["headers"])
    assert headers["x-forwarded-port"] == "443" and headers["x-forwarded-proto"] == "https"


# -- configuration follows the API -----------------------------------------------------------------

def test_a_new_rule_serves_as_soon_as_the_api_answers(payment):
    client, url = payment.client(), f"http://{payment.name}/teapot"
    assert client.get(url).status == 200
    rule = payment.rule(payment.listeners["http"], "teapot", 99, {"pathMatch": {"match": {"exact": "/teapot"}}},
                        {"fixedResponse": {"statusCode": 404}})
    assert client.get(url).status == 404
    assert payment.lattice.get_rule(serviceIdentifier=payment.service["id"], listenerIdentifier=payment.listeners[
        "http"], ruleIdentifier=rule)["priority"] == 99
    payment.lattice.delete_rule(serviceIdentifier=payment.service["id"], listenerIdentifier=payment.listeners["http"],
                                ruleIdentifier=rule)
    assert client.get(url).status == 200


def test_statuses_turn_active_once_served(server):
    n = next(_accounts)
    lattice = client_for(server, "vpc-lattice", n)
    created = lattice.create_service(name="fresh")
    assert created["status"] == "CREATE_IN_PROGRESS"
    assert lattice.get_service(serviceIdentifier=created["id"])["status"] == "ACTIVE"


def test_the_data_plane_status_shows_the_served_revision_and_the_loop_lag(server):
    with urllib.request.urlopen(f"{server.url}/_latticework/dataplane", timeout=10) as answer:
        status = json.load(answer)
    assert status["appliedRevision"] >= 0
    assert 0 <= status["loopLagMillisecondsMedian"] <= status["loopLagMillisecondsP99"] \
        <= status["loopLagMillisecondsMax"]
    assert status["loopLagWindowSeconds"] > 0


# -- health and draining ----------------------------------------------------------------------------

@pytest.fixture
def three_targets(server):
    topo = Topology.fresh(server)
    targets = [EchoTarget(f"t-{i}") for i in range(3)]
    topo.one_service("health")
    tg = topo.group("pool", targets, topo.client_vpc)
    topo.listener("http", "HTTP", 80, forward((tg, 100)))
    topo.join()
    wait_for(lambda: set(topo.states("pool").values()) == {"HEALTHY"}, what="three healthy targets")
    yield topo, targets
    for target in targets:
        target.stop()


def test_a_stopped_target_turns_unhealthy_gets_no_traffic_and_comes_back(three_targets):
    topo, targets = three_targets
    client, url = topo.client(), f"http://{topo.name}/pay"
    targets[1].stop()
    # Two failed checks 5 s apart (plus a 2 s timeout) make it UNHEALTHY.
    wait_for(lambda: topo.states("pool")[targets[1].port] == "UNHEALTHY", timeout=20, what="UNHEALTHY")
    seen = collections.Counter(client.get(url).json()["target"] for _ in range(60))
    assert set(seen) == {"t-0", "t-2"} and seen["t-0"] == seen["t-2"] == 30
    targets[1].start()  # same port
    wait_for(lambda: topo.states("pool")[targets[1].port] == "HEALTHY", timeout=25, what="HEALTHY again")
    seen = collections.Counter(client.get(url).json()["target"] for _ in range(60))
    assert seen == {"t-0": 20, "t-1": 20, "t-2": 20}


def test_deregistration_drains_in_flight_requests(three_targets):
    topo, targets = three_targets
    client, slow = topo.client(), topo.client()
    tg, first = topo.groups["pool"], targets[0]
    # Only t-0 stays registered, so the slow request surely goes there.
    topo.lattice.deregister_targets(targetGroupIdentifier=tg, targets=[{"id": "127.0.0.1", "port": t.port}
                                                                       for t in targets[1:]])
    wait_for(lambda: set(topo.states("pool")) == {first.port}, what="the other two to drain")
    thread, answers = send_in_flight(first, lambda: slow.get(f"http://{topo.name}/s?delay=3"))
    topo.lattice.deregister_targets(targetGroupIdentifier=tg, targets=[{"id": "127.0.0.1", "port": first.port}])
    assert topo.states("pool") == {first.port: "DRAINING"}
    assert client.get(f"http://{topo.name}/pay").status == 503  # nothing takes new requests
    thread.join(10)
    assert answers["answer"].status == 200 and answers["answer"].json()["target"] == "t-0"
    wait_for(lambda: topo.states("pool") == {}, timeout=10, what="the drained target to go")


# -- target kinds -----------------------------------------------------------------------------------

def test_instance_and_vpc_address_targets_map_to_local_processes(server):
    """An INSTANCE target reaches the address its host-address tag names; an IP target inside the VPC CIDR
    reaches 127.0.0.1 on its port."""
    topo = Topology.fresh(server)
    by_instance = EchoTarget("by-instance", 0, "--host", "127.0.0.2")  # only the tag leads there
    by_vpc_address = EchoTarget("by-vpc-address")
    try:
        topo.client_vpc = topo.vpc("10.0.0.0/16")
        subnet = topo.ec2.create_subnet(VpcId=topo.client_vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        instance = topo.ec2.run_instances(
            ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1, SubnetId=subnet,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": "latticework:host-address", "Value": "127.0.0.2"}]}])["Instances"][0]["InstanceId"]
        topo.network = topo.lattice.create_service_network(name="kinds-net")
        topo.service = topo.lattice.create_service(name="kinds")
        off = {"enabled": False}
        instances = topo.lattice.create_target_group(name="by-instance", type="INSTANCE", config={
            "port": by_instance.port, "protocol": "HTTP", "vpcIdentifier": topo.client_vpc, "healthCheck": off})["id"]
        topo.lattice.register_targets(targetGroupIdentifier=instances, targets=[{"id": instance}])
        addresses = topo.group("by-vpc-address", [], topo.client_vpc, enabled=False)
        topo.lattice.register_targets(targetGroupIdentifier=addresses,
                                      targets=[{"id": "10.0.1.77", "port": by_vpc_address.port}])
        http = topo.listener("http", "HTTP", 80, forward((instances, 100)))
        topo.rule(http, "by-address", 10, {"pathMatch": {"match": {"prefix": "/address"}}}, forward((addresses, 100)))
        topo.join()
        client = topo.client()
        assert client.get(f"http://{topo.name}/x").json()["target"] == "by-instance"
        assert client.get(f"http://{topo.name}/address").json()["target"] == "by-vpc-address"
        assert set(topo.states("by-vpc-address").values()) == {"UNAVAILABLE"}  # checks are off
    finally:
        by_instance.stop()
        by_vpc_address.stop()


def test_when_every_target_is_unhealthy_traffic_fails_open(server):
    """Lattice routes to all targets of a group when none is healthy, rather than failing requests."""
    topo = Topology.fresh(server)
    sick = [EchoTarget(f"sick-{i}", 0, "--health-status", "503") for i in range(2)]
    try:
        topo.one_service("fail-open")
        tg = topo.group("sick", sick, topo.client_vpc)
        topo.listener("http", "HTTP", 80, forward((tg, 100)))
        topo.join()
        # Each target fails its first check at once and its second one interval later: two in a row.
        wait_for(lambda: set(topo.states("sick").values()) == {"UNHEALTHY"}, timeout=20, what="UNHEALTHY")
        reasons = {t["reasonCode"] for t in topo.lattice.list_targets(targetGroupIdentifier=tg)["items"]}
        assert reasons == {"HealthCheckFailed"}
        client = topo.client()
        seen = collections.Counter(client.get(f"http://{topo.name}/").json()["target"] for _ in range(20))
        assert seen == {"sick-0": 10, "sick-1": 10}
    finally:
        for target in sick:
            target.stop()


def test_an_http2_client_reaches_an_http1_target_group(payment, tmp_path):
    """Lattice converts between HTTP/2 (client, ALPN h2 on the HTTPS listener) and HTTP/1.1 (target group)."""
    ca = tmp_path / "ca.pem"
    ca.write_text(latticework("ca", "export", "--endpoint", payment.endpoint).stdout)
    done = in_vpc(payment, payment.client_vpc, "curl", "-sS", "--fail", "--http2", "--cacert", str(ca),
                  "-o", "/dev/null", "-w", "%{http_version}", f"https://{payment.name}/pay")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2"
    body = in_vpc(payment, payment.client_vpc, "curl", "-sS", "--http2", "--cacert", str(ca),
                  f"https://{payment.name}/pay").stdout
    assert '"target": "' in body and '"x-forwarded-proto", "https"' in body and '"x-forwarded-port", "443"' in body
