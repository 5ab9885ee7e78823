"""``latticework up`` as a process: ready line, health, clean shutdown, durable state.

Each test starts its own server on its own state file (``conftest.start_server``
for the ones that only need a running server). Shutdown waits are bounded;
nothing sleeps.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from conftest import READY, client_for, start_server

SHUTDOWN_TIMEOUT = 20


def _health(url: str) -> dict:
    with urllib.request.urlopen(url + "/_latticework/health", timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


def _spawn(state) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "latticework", "up", "--port", "0", "--state", str(state)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stdout.readline()
    found = READY.search(first)
    assert found, first + process.stderr.read()
    return process, found.group(1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_ready_line_health_and_clean_exit(tmp_path, sig):
    process, url = _spawn(tmp_path / "state.db")
    try:
        health = _health(url)
        assert health["status"] == "ok" and health["revision"] == 0
        process.send_signal(sig)
        code = process.wait(timeout=SHUTDOWN_TIMEOUT)
        rest, errors = process.stdout.read(), process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 0, errors
    assert not READY.search(rest), "exactly one ready line"
    assert "Traceback" not in errors


def test_ready_line_names_the_state_file(tmp_path):
    process, _ = _spawn(tmp_path / "state.db")
    process.kill()
    process.wait(timeout=SHUTDOWN_TIMEOUT)
    assert (tmp_path / "state.db").exists()


def test_health_reports_the_revision(tmp_path):
    server = start_server(tmp_path / "state.db")
    try:
        before = _health(server.url)["revision"]
        client_for(server, "vpc-lattice").create_service_network(name="health-check")
        assert _health(server.url)["revision"] > before
    finally:
        server.stop()


def test_second_server_on_the_same_state_sees_the_data(tmp_path):
    first = start_server(tmp_path / "state.db")
    try:
        created = client_for(first, "vpc-lattice").create_service_network(name="kept", tags={"k": "v"})
        revision = _health(first.url)["revision"]
    finally:
        first.stop()
    second = start_server(tmp_path / "state.db")
    try:
        lattice = client_for(second, "vpc-lattice")
        assert lattice.get_service_network(serviceNetworkIdentifier=created["id"])["name"] == "kept"
        assert lattice.list_tags_for_resource(resourceArn=created["arn"])["tags"] == {"k": "v"}
        assert _health(second.url)["revision"] == revision
    finally:
        second.stop()


def test_busy_port_fails_without_ready_line(tmp_path):
    server = start_server(tmp_path / "a.db")
    try:
        port = server.url.rsplit(":", 1)[1]
        result = subprocess.run([sys.executable, "-m", "latticework", "up", "--port", port, "--state",
                                 str(tmp_path / "b.db")], capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert not READY.search(result.stdout)
    finally:
        server.stop()


def test_vpcs_from_an_older_state_file_get_fabric_addresses(tmp_path):
    """A VPC record without a fabric block (written before VPCs got one at creation) gets one at start."""
    import sqlite3

    first = start_server(tmp_path / "state.db")
    try:
        vpc_id = client_for(first, "ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    finally:
        first.stop()
    with sqlite3.connect(tmp_path / "state.db") as db:
        (internal,) = db.execute("SELECT internal FROM records WHERE kind = 'vpc' AND id = ?", (vpc_id,)).fetchone()
        older = {k: v for k, v in json.loads(internal).items() if k != "FabricIndex"}
        db.execute("UPDATE records SET internal = ? WHERE kind = 'vpc' AND id = ?", (json.dumps(older), vpc_id))
        db.execute("DELETE FROM records WHERE kind = 'fabricblock'")
    second = start_server(tmp_path / "state.db")
    try:
        with urllib.request.urlopen(f"{second.url}/_latticework/vpcs/{vpc_id}", timeout=10) as answer:
            assert json.load(answer)["resolver"].endswith(".2")
    finally:
        second.stop()


def test_without_a_data_plane_statuses_settle_at_once(tmp_path):
    server = start_server(tmp_path / "state.db", extra=["--no-dataplane"])
    try:
        lattice = client_for(server, "vpc-lattice")
        created = lattice.create_service(name="api-only")
        assert created["status"] == "CREATE_IN_PROGRESS"
        assert lattice.get_service(serviceIdentifier=created["id"])["status"] == "ACTIVE"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{server.url}/_latticework/dataplane", timeout=10)
        assert missing.value.code == 404
    finally:
        server.stop()


def test_stopping_the_server_lets_requests_in_flight_finish(tmp_path):
    """SIGTERM: listeners stop accepting, a request already at its target still gets its answer."""
    from dataplane_env import EchoTarget, Topology, forward, send_in_flight

    server = start_server(tmp_path / "state.db", extra=["--dns-port", "10057"])
    target = EchoTarget("slow")
    try:
        topo = Topology.for_account(server, None)
        topo.one_service("stopping")
        tg = topo.group("pool", [target], topo.client_vpc, enabled=False)
        topo.listener("http", "HTTP", 8080, forward((tg, 100)))
        topo.join()
        client = topo.client()
        slow, answers = send_in_flight(target, lambda: client.get(f"http://{topo.name}:8080/s?delay=2"))
        server.process.send_signal(signal.SIGTERM)
        slow.join(15)
        assert answers["answer"].status == 200 and answers["answer"].json()["target"] == "slow"
        assert server.process.wait(timeout=SHUTDOWN_TIMEOUT) == 0
    finally:
        target.stop()
        server.stop()
