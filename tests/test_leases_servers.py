"""Fabric leases between real servers: ``latticework up`` processes on one host never share VPC addresses.

The servers lease from the host's registry, as every test server does, so
these tests hold beside other test runs and a user's own server: they check
what a server was given against what the others hold, never a fixed range.
Resolvers answer on an unprivileged port, so no test here needs root.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest

from conftest import READY, start_server
from dataplane_env import Topology
from latticework.fabric.leases import Registry
from latticework.ownpaths_client import vpc_info
from latticework.vpcclient import NameNotFound

DNS_PORT = "10253"


def held() -> dict[int, ipaddress.IPv4Network]:
    """The host's live leases: holder pid -> range."""
    return {lease.pid: lease.range for lease in Registry().leases()}


@pytest.fixture
def first(tmp_path):
    server = start_server(tmp_path / "first" / "state.db", extra=["--dns-port", DNS_PORT])
    yield server
    server.stop()


def reachable_service(server) -> Topology:
    """A VPC of the server's default account that reaches one service through a service network."""
    topo = Topology.for_account(server, None)
    topo.one_service("leased")
    topo.join()
    return topo


def test_two_servers_without_fabric_take_different_ranges_and_resolve_their_own_names(first, tmp_path):
    second = start_server(tmp_path / "second" / "state.db", extra=["--dns-port", DNS_PORT])
    try:
        ranges = held()
        assert ranges[first.process.pid] == first.fabric and ranges[second.process.pid] == second.fabric
        assert not first.fabric.overlaps(second.fabric)
        assert f"fabric: {first.fabric}" in first.ready and f"fabric: {second.fabric}" in second.ready
        topologies = [reachable_service(server) for server in (first, second)]
        for server, topo, other in zip((first, second), topologies, reversed(topologies)):
            info = vpc_info(server.url, topo.client_vpc)
            assert ipaddress.IPv4Address(info.resolver) in server.fabric
            client = topo.client()
            assert client.resolve(topo.name) == info.lattice
            with pytest.raises(NameNotFound):  # the other server's service is not this VPC's to reach
                client.resolve(other.name)
    finally:
        second.stop()


def test_a_server_asking_for_a_range_another_holds_exits_naming_the_holder(first, tmp_path):
    inside = next(first.fabric.subnets(new_prefix=max(first.fabric.prefixlen, 16)))
    state = tmp_path / "second" / "state.db"
    refused = subprocess.run([sys.executable, "-m", "latticework", "up", "--port", "0", "--state", str(state),
                              "--fabric", str(inside)], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and not READY.search(refused.stdout)
    message = refused.stderr
    assert f"fabric range {inside} overlaps {first.fabric}" in message, message
    assert f"pid {first.process.pid}" in message and str(first.state) in message and "--fabric" in message
    assert "Traceback" not in message
    assert first.process.pid in held() and refused.returncode == 1


def test_a_server_without_a_data_plane_leases_nothing(first, tmp_path):
    api_only = start_server(tmp_path / "api" / "state.db", fabric=str(first.fabric), extra=["--no-dataplane"])
    try:
        assert api_only.process.pid not in held()
        assert "fabric" not in api_only.ready
    finally:
        api_only.stop()


def test_a_restarted_server_keeps_its_range_and_a_stopped_one_gives_it_back(tmp_path):
    state = tmp_path / "state.db"
    server = start_server(state)
    try:
        taken, pid = server.fabric, server.process.pid
        assert held()[pid] == taken
    finally:
        server.stop()
    assert pid not in held()
    again = start_server(state)
    try:
        now = held()
        assert now[again.process.pid] == again.fabric
        # The same range, unless another server (of another test run, say) took it while none held it.
        assert again.fabric == taken or any(r.overlaps(taken) for p, r in now.items() if p != again.process.pid)
    finally:
        again.stop(kill=True)  # a crash: no release, the next reader drops the entry
    assert again.process.pid not in held()
