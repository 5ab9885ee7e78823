"""Fabric leases (``fabric.leases``) without servers: overlap, dead holders, pid reuse, racing claims.

Every test uses a registry of its own (``tmp_path``), never the host's. Other
holders are real processes: a child that waits on its stdin stands for a
running server, one that has exited for a crashed one. The racing claims run
in separate processes that start together at a barrier and hold what they
won until every one has tried; every wait is bounded.
"""

from __future__ import annotations

import ipaddress
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from latticework.fabric import leases
from latticework.fabric.leases import FabricTaken, Lease, NoFreeFabric, Registry

net = ipaddress.IPv4Network
DEFAULT = net("127.64.0.0/10")
WAIT = 30


@pytest.fixture
def registry(tmp_path) -> Registry:
    return Registry(tmp_path / "leases")


@pytest.fixture
def holder():
    """A live process of its own (it waits on stdin), standing for another server."""
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    yield process
    process.stdin.close()
    process.wait(timeout=WAIT)


def write_entries(registry: Registry, *entries: Lease) -> None:
    registry.directory.mkdir(parents=True, exist_ok=True)
    registry.path.write_text(json.dumps({"leases": [entry.to_json() for entry in entries]}))


def lease_of(process, network: str, state: str = "/elsewhere/state.db") -> Lease:
    return Lease(net(network), process.pid, leases.process_start(process.pid), state)


def stored(registry: Registry) -> list[dict]:
    return json.loads(registry.path.read_text())["leases"]


# -- overlap ------------------------------------------------------------------------------------

def test_a_range_overlapping_a_live_lease_is_refused_naming_its_holder(registry, holder):
    write_entries(registry, lease_of(holder, "127.64.0.0/10", "/srv/a/state.db"))
    for inside in ("127.72.0.0/13", "127.64.0.0/10", "127.127.255.0/24", "127.0.0.0/8"):
        with pytest.raises(FabricTaken) as taken:
            registry.claim(net(inside), "/srv/b/state.db")
        message = str(taken.value)
        assert inside in message and "127.64.0.0/10" in message
        assert str(holder.pid) in message and "/srv/a/state.db" in message and "--fabric" in message
    assert registry.claim(net("127.128.0.0/10"), "/srv/b/state.db").range == net("127.128.0.0/10")
    assert {entry["range"] for entry in stored(registry)} == {"127.64.0.0/10", "127.128.0.0/10"}


def test_a_range_holding_a_leased_one_is_refused_too(registry):
    registry.claim(net("127.72.0.0/16"), "a.db")
    with pytest.raises(FabricTaken):
        registry.claim(DEFAULT, "b.db")
    assert registry.claim(net("127.73.0.0/16"), "b.db").range == net("127.73.0.0/16")  # beside it is free


def test_released_leases_are_gone(registry):
    lease = registry.claim(DEFAULT, "a.db")
    assert registry.leases() == [lease] and lease.pid == os.getpid()
    registry.release(lease)
    assert registry.leases() == [] and stored(registry) == []
    assert registry.claim(DEFAULT, "b.db").range == DEFAULT


# -- dead holders and reused pids ----------------------------------------------------------------

def test_entries_of_processes_that_are_gone_are_dropped_when_read(registry, holder):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    crashed = Lease(DEFAULT, gone.pid, leases.process_start(gone.pid) or 1, "/crashed/state.db")
    gone.wait(timeout=WAIT)
    alive = lease_of(holder, "127.128.0.0/10")
    write_entries(registry, crashed, alive)
    assert registry.leases() == [alive]
    assert stored(registry) == [alive.to_json()]  # dropped from the file, too
    assert registry.claim(DEFAULT, "new.db").range == DEFAULT


def test_a_reused_pid_does_not_keep_a_dead_lease(registry):
    """Same pid, another start time: the process that leased it is gone, this one merely got its pid."""
    started = leases.process_start(os.getpid())
    assert started is not None and started > 0
    write_entries(registry, Lease(DEFAULT, os.getpid(), started - 1, "/old/state.db"))
    assert registry.leases() == []
    write_entries(registry, Lease(DEFAULT, os.getpid(), started, "/mine/state.db"))
    assert [lease.state for lease in registry.leases()] == ["/mine/state.db"]


def test_start_time_is_read_past_a_command_name_with_spaces_and_parentheses():
    fields = ["S"] + [str(n) for n in range(4, 22)] + ["987654", "5", "6"]  # field 3 onwards; field 22 = 987654
    assert leases.start_of("4242 (evil) name (x) " + " ".join(fields)) == 987654
    assert leases.process_start(os.getpid()) == leases.start_of(Path(f"/proc/{os.getpid()}/stat").read_text())


def test_an_unreadable_registry_starts_afresh(registry):
    registry.directory.mkdir(parents=True)
    registry.path.write_text('{"leases": [{"range": ')
    assert registry.leases() == []
    assert registry.claim(DEFAULT, "a.db").range == DEFAULT


# -- automatic choice ----------------------------------------------------------------------------

def test_candidates_try_the_default_then_other_tens_then_thirteens_then_sixteens():
    found = list(leases.candidates())
    assert found[:3] == [DEFAULT, net("127.128.0.0/10"), net("127.192.0.0/10")]
    assert found[3:5] == [net("127.8.0.0/13"), net("127.16.0.0/13")]
    assert [n.prefixlen for n in found] == [10] * 3 + [13] * 31 + [16] * 255
    assert not any(n.overlaps(net("127.0.0.0/16")) for n in found)
    assert len(set(found)) == len(found)
    preferred = list(leases.candidates(net("127.9.0.0/16")))
    assert preferred[0] == net("127.9.0.0/16") and preferred.count(net("127.9.0.0/16")) == 1


def test_the_first_free_candidate_is_taken(registry, holder):
    write_entries(registry, lease_of(holder, "127.64.0.0/10"), lease_of(holder, "127.128.0.0/9"))
    lease, passed_over = registry.claim_first(leases.candidates(), "a.db")
    assert lease.range == net("127.8.0.0/13") and passed_over.range == DEFAULT
    assert registry.claim_first(leases.candidates(), "b.db")[0].range == net("127.16.0.0/13")


def test_no_free_candidate_is_a_clear_error(registry, holder):
    write_entries(registry, lease_of(holder, "127.0.0.0/8"))
    with pytest.raises(NoFreeFabric, match="--fabric"):
        registry.claim_first(leases.candidates(), "a.db")


def test_a_state_file_gets_the_range_it_used_last_time_while_it_is_free(registry, holder, tmp_path):
    state = tmp_path / "state.db"
    first = leases.take(state, registry=registry)
    assert first.lease.range == DEFAULT and first.moved() is None
    assert (tmp_path / "state.db.fabric").read_text().strip() == str(DEFAULT)
    registry.release(first.lease)
    (tmp_path / "state.db.fabric").write_text("127.192.0.0/10\n")
    again = leases.take(state, registry=registry)
    assert again.lease.range == net("127.192.0.0/10") and again.moved() is None
    registry.release(again.lease)
    write_entries(registry, lease_of(holder, "127.192.0.0/12", "/other/state.db"))
    moved = leases.take(state, registry=registry)
    assert moved.lease.range == DEFAULT
    assert "127.192.0.0/10" in moved.moved() and str(holder.pid) in moved.moved()
    assert (tmp_path / "state.db.fabric").read_text().strip() == str(DEFAULT)


def test_an_explicit_range_is_taken_exactly_and_remembered(registry, tmp_path):
    taken = leases.take(tmp_path / "s.db", net("127.200.0.0/16"), registry)
    assert taken.lease.range == net("127.200.0.0/16")
    assert leases.remembered(tmp_path / "s.db") == net("127.200.0.0/16")
    with pytest.raises(FabricTaken):
        leases.take(tmp_path / "t.db", net("127.200.0.0/24"), registry)


def test_the_lease_is_held_for_the_block_and_released_after(registry, tmp_path):
    with leases.held(tmp_path / "s.db", registry=registry) as taken:
        assert registry.leases() == [taken.lease]
    assert registry.leases() == []


def test_the_default_directory_is_shared_and_the_variable_moves_it(monkeypatch, tmp_path):
    monkeypatch.delenv(leases.LEASE_DIR_VARIABLE, raising=False)
    assert leases.lease_dir().name == "latticework"
    monkeypatch.setenv(leases.LEASE_DIR_VARIABLE, str(tmp_path / "mine"))
    registry = Registry()
    registry.claim(DEFAULT, "a.db")
    assert registry.path == tmp_path / "mine" / "fabric-leases.json"
    assert (tmp_path / "mine").stat().st_mode & 0o7777 == 0o1777
    assert registry.path.stat().st_mode & 0o777 == 0o666


# -- racing claims -------------------------------------------------------------------------------

RACERS = 8


def _race(directory: str, wanted: list[str], barrier, results, done) -> None:
    """One racer: wait for all, claim the first free of ``wanted``, report, hold it until told to stop."""
    registry = Registry(Path(directory))
    barrier.wait(WAIT)
    try:
        lease, _ = registry.claim_first([net(w) for w in wanted], f"racer-{os.getpid()}.db")
        results.put(("won", str(lease.range)))
    except NoFreeFabric:
        results.put(("lost", ""))
    done.wait(WAIT)


def _run_race(directory: Path, wanted: list[str]) -> list[tuple[str, str]]:
    context = multiprocessing.get_context("spawn")
    barrier, results, done = context.Barrier(RACERS), context.Queue(), context.Event()
    racers = [context.Process(target=_race, args=(str(directory), wanted, barrier, results, done))
              for _ in range(RACERS)]
    for racer in racers:
        racer.start()
    try:
        return [results.get(timeout=WAIT) for _ in racers]
    finally:
        done.set()
        for racer in racers:
            racer.join(WAIT)
            if racer.is_alive():
                racer.kill()


def test_processes_claiming_one_range_at_once_never_both_win(tmp_path):
    outcomes = _run_race(tmp_path / "leases", [str(DEFAULT)])
    assert sorted(kind for kind, _ in outcomes) == ["lost"] * (RACERS - 1) + ["won"]


def test_processes_claiming_from_a_list_at_once_get_distinct_ranges(tmp_path):
    wanted = ["127.64.0.0/10", "127.64.0.0/16", "127.128.0.0/10", "127.192.0.0/10"]  # the /16 lies in the first
    outcomes = _run_race(tmp_path / "leases", wanted)
    won = sorted(network for kind, network in outcomes if kind == "won")
    assert won == ["127.128.0.0/10", "127.192.0.0/10", "127.64.0.0/10"]
