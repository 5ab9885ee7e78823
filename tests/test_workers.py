"""The data plane across worker processes, black-box: a real server with two workers sharing each listener.

What holds over the workers as a whole: a write is served by every worker
before the API answers it, health checks run once per target, a crashed
worker comes back (and says so in the log) while the others keep serving,
and a stop lets requests in flight finish. Traffic comes from many
keep-alive connections: the kernel spreads them over the workers'
sockets, and each connection stays with the worker that accepted it.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from conftest import ACCOUNTS, QUOTA_ACCOUNTS, start_server, write_accounts
from dataplane_env import EchoTarget, Topology, forward, send_in_flight, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="listeners on port 80 and resolvers on 53 need root")

CONNECTIONS = 32  # two workers all get some: the chance that one gets none is 2 * 2**-32


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    base = tmp_path_factory.mktemp("two-workers")
    srv = start_server(base / "state.db", write_accounts(base / "accounts.toml", ACCOUNTS, QUOTA_ACCOUNTS), workers=2)
    yield srv
    srv.stop()


@pytest.fixture
def blue_green(two_workers):
    """A service whose HTTP listener sends everything to blue (green: weight 0); targets without health checks."""
    topo = Topology.fresh(two_workers)
    targets = {name: EchoTarget(name) for name in ("blue", "green")}
    topo.one_service("workers")
    for name, target in targets.items():
        topo.group(name, [target], topo.client_vpc, enabled=False)
    topo.listener("http", "HTTP", 80, forward((topo.groups["blue"], 100), (topo.groups["green"], 0)))
    topo.join()
    yield topo, targets
    for target in targets.values():
        target.stop()


def accepted(server) -> dict[int, int]:
    """Connections each worker (by slot) has accepted, as last reported."""
    return {w["slot"]: w.get("connectionsAccepted", 0) for w in server.dataplane()["workers"]}


def test_every_worker_serves_a_weight_change_before_the_api_answers(two_workers, blue_green):
    topo, _ = blue_green
    before = accepted(two_workers)
    clients, url = [topo.client() for _ in range(CONNECTIONS)], f"http://{topo.name}/"
    assert {c.get(url).json()["target"] for c in clients} == {"blue"}
    # Both workers hold some of the connections (their counts are reported every second).
    wait_for(lambda: all(n > before.get(slot, 0) for slot, n in accepted(two_workers).items()), timeout=10,
             what="both workers to report accepted connections")
    for flip in range(6):
        serving, idle = ("green", "blue") if flip % 2 == 0 else ("blue", "green")
        topo.lattice.update_listener(serviceIdentifier=topo.service["id"], listenerIdentifier=topo.listeners["http"],
                                     defaultAction=forward((topo.groups[serving], 100), (topo.groups[idle], 0)))
        seen = [c.get(url).json()["target"] for c in clients]  # the same connections, so the same workers
        assert seen == [serving] * CONNECTIONS, f"after switching to {serving}: {seen}"
    for c in clients:
        c.close()


def test_health_checks_run_once_per_target_not_once_per_worker(two_workers):
    topo = Topology.fresh(two_workers)
    target = EchoTarget("checked")
    try:
        topo.one_service("checks")
        group = topo.group("checked", [target], topo.client_vpc)  # checked every 5 s
        topo.listener("http", "HTTP", 80, forward((group, 100)))
        topo.join()
        wait_for(lambda: topo.states("checked") == {target.port: "HEALTHY"}, what="the first check")
        first = target.health_checks()
        time.sleep(10.5)  # a rate is measured over time: checks every 5 s make 2 or 3 in this window
        checks = target.health_checks() - first
        assert checks in (2, 3), f"{checks} checks in 10.5 s at one per 5 s"  # per worker: 4 to 6
    finally:
        target.stop()


def test_a_crashed_worker_is_restarted_and_logged_while_the_other_serves(two_workers, blue_green):
    topo, _ = blue_green
    status = two_workers.dataplane()
    victim = status["workers"][0]["pid"]
    os.kill(victim, signal.SIGKILL)
    # Connections the dying worker had accepted, or that the kernel queued on its socket, are reset with it.
    # Its sockets close only once its last thread is gone, which may be after its main thread shows as a
    # zombie; the server reaps it after that, so a pid that no longer exists has no socket left.
    wait_for(lambda: not _exists(victim), timeout=10, what="the killed worker to be reaped")
    client = topo.client()
    url = f"http://{topo.name}/"
    for _ in range(20):  # new connections land on the worker still running, or on the restarted one
        client.close()
        assert client.get(url).json()["target"] == "blue"
    now = wait_for(lambda: (lambda s: s if s["workerRestarts"] >= status["workerRestarts"] + 1 and len(s["workers"]) == 2
                            and all(w["revision"] >= 0 for w in s["workers"]) else None)(two_workers.dataplane()),
                   what="the worker to be restarted")
    assert victim not in {w["pid"] for w in now["workers"]}
    assert any(f"(pid {victim}) exited" in line and "restarting" in line for line in two_workers.output)
    # The restarted worker serves what was written before it started, and what is written after.
    topo.lattice.update_listener(serviceIdentifier=topo.service["id"], listenerIdentifier=topo.listeners["http"],
                                 defaultAction=forward((topo.groups["green"], 100)))
    clients = [topo.client() for _ in range(CONNECTIONS)]
    assert {c.get(url).json()["target"] for c in clients} == {"green"}


def test_stopping_the_server_lets_requests_in_flight_finish_on_every_worker(tmp_path):
    server = start_server(tmp_path / "state.db", write_accounts(tmp_path / "accounts.toml", 2), workers=2)
    target = EchoTarget("slow")
    try:
        topo = Topology.for_account(server, 0)
        topo.one_service("stop")
        group = topo.group("slow", [target], topo.client_vpc, enabled=False)
        topo.listener("http", "HTTP", 80, forward((group, 100)))
        topo.join()
        pids = [w["pid"] for w in server.dataplane()["workers"]]
        clients = [topo.client() for _ in range(4)]
        flights = [send_in_flight(target, lambda c=c: c.get(f"http://{topo.name}/s?delay=2")) for c in clients]
        server.process.send_signal(signal.SIGTERM)
        for thread, answer in flights:
            thread.join(15)
            assert answer["answer"].status == 200
        assert server.process.wait(timeout=30) == 0
        for pid in pids:  # the workers are gone with the server
            wait_for(lambda: not _alive(pid), timeout=10, what=f"worker {pid} to exit")
    finally:
        server.stop(kill=True)
        target.stop()


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its state in /proc says it is gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
