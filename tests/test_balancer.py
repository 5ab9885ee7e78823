"""Weighted target-group choice, round robin, the fail-open policy and in-flight counting."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from latticework.dataplane.balancer import Balancer, candidates
from latticework.snapshot.model import Forward, HealthCheck, Target, TargetGroup, WeightedTargetGroup

STATES = ("INITIAL", "HEALTHY", "UNHEALTHY")


class StaticHealth:
    """Health states set by the test; ``generation`` moves with every change, as the monitor's does."""

    def __init__(self, states: dict[tuple[str, str], str] | None = None):
        self.states = dict(states or {})
        self.generation = 0
        self.asked = 0

    def state(self, group_id: str, key: str) -> str:
        self.asked += 1
        return self.states.get((group_id, key), "INITIAL")

    def set(self, group_id: str, key: str, state: str) -> None:
        self.states[(group_id, key)] = state
        self.generation += 1


def target(n: int, *, draining: bool = False, address: tuple[str, int] | None = ("127.0.0.1", 8000)) -> Target:
    return Target(key=f"tg-1/{n:03d}", id=f"10.0.0.{n}", port=8000 + n, address=address, draining=draining)


def group(*targets: Target, id: str = "tg-1", checked: bool = True, type: str = "IP") -> TargetGroup:
    return TargetGroup(id=id, arn=f"arn:aws:vpc-lattice:us-east-1:111111111111:targetgroup/{id}", name=id,
                       account="111111111111", region="us-east-1", type=type, protocol="HTTP",
                       protocol_version="HTTP1", port=80, vpc_id="vpc-1", health_check=HealthCheck(enabled=checked),
                       targets=targets, used=True)


def forward(*weights: int) -> Forward:
    return Forward(tuple(WeightedTargetGroup(f"tg-{i}", w) for i, w in enumerate(weights)))


# -- weighted choice of the target group --------------------------------------------------

@settings(max_examples=40, deadline=None, derandomize=True)
@given(weights=st.lists(st.integers(0, 999), min_size=1, max_size=10).filter(lambda w: sum(w) > 0),
       seed=st.integers(0, 2**32 - 1))
def test_groups_get_their_weight_share_of_requests(weights, seed):
    balancer = Balancer(StaticHealth(), rng=random.Random(seed))
    action = forward(*weights)
    picks = Counter(balancer.choose_group(action) for _ in range(10_000))
    total = sum(weights)
    for i, weight in enumerate(weights):
        # 2 points is four standard deviations of a 10,000-draw share at worst (p = 0.5).
        assert abs(picks[f"tg-{i}"] / 10_000 - weight / total) <= 0.02
    assert None not in picks


@given(weights=st.lists(st.integers(0, 999), min_size=1, max_size=10), seed=st.integers(0, 1000))
def test_a_zero_weight_never_takes_traffic(weights, seed):
    balancer = Balancer(StaticHealth(), rng=random.Random(seed))
    chosen = {balancer.choose_group(forward(*weights)) for _ in range(200)}
    if sum(weights) == 0:
        assert chosen == {None}
    else:
        assert chosen <= {f"tg-{i}" for i, w in enumerate(weights) if w > 0}


def test_a_single_group_takes_everything_unless_its_weight_is_zero():
    balancer = Balancer(StaticHealth())
    assert balancer.choose_group(forward(1)) == "tg-0"
    assert balancer.choose_group(forward(0)) is None


# -- round robin --------------------------------------------------------------------------

@given(size=st.integers(1, 12), rounds=st.integers(1, 20))
def test_round_robin_gives_every_target_the_same_number_of_requests(size, rounds):
    tg = group(*(target(n) for n in range(size)))
    health = StaticHealth({("tg-1", t.key): "HEALTHY" for t in tg.targets})
    balancer = Balancer(health)
    picks = [balancer.pick(tg).key for _ in range(size * rounds)]
    assert Counter(picks) == {t.key: rounds for t in tg.targets}
    assert picks[:size] == [t.key for t in tg.targets]  # in registration order


def test_round_robin_is_kept_per_target_group():
    a = group(target(1), target(2), target(3), id="tg-a")
    b = group(target(1), target(2), id="tg-b")  # the same addresses, another group
    balancer = Balancer(StaticHealth())
    sequence = []
    for _ in range(3):
        sequence.append(balancer.pick(a).key)
        balancer.pick(b)
        balancer.pick(b)
    assert sequence == [t.key for t in a.targets]


# -- which targets take turns -------------------------------------------------------------

@given(states=st.lists(st.sampled_from(STATES), min_size=1, max_size=10))
def test_healthy_targets_only_and_fail_open_when_none_is(states):
    tg = group(*(target(n) for n in range(len(states))))
    health = StaticHealth({("tg-1", t.key): s for t, s in zip(tg.targets, states)})
    pool = candidates(tg, health.state)
    healthy = tuple(t for t, s in zip(tg.targets, states) if s == "HEALTHY")
    assert pool == (healthy or tg.targets)


def test_all_unhealthy_targets_still_take_requests_in_turn():
    tg = group(target(1), target(2))
    health = StaticHealth({("tg-1", t.key): "UNHEALTHY" for t in tg.targets})
    balancer = Balancer(health)
    assert [balancer.pick(tg).key for _ in range(4)] == [t.key for t in tg.targets] * 2


def test_draining_and_unmapped_targets_never_take_requests():
    tg = group(target(1), target(2, draining=True), target(3, address=None), target(4))
    health = StaticHealth({("tg-1", tg.targets[1].key): "HEALTHY", ("tg-1", tg.targets[2].key): "HEALTHY"})
    balancer = Balancer(health)
    picks = {balancer.pick(tg).key for _ in range(10)}
    assert picks == {tg.targets[0].key, tg.targets[3].key}  # the healthy ones cannot serve: fail open


def test_no_serving_target_means_no_pick():
    balancer = Balancer(StaticHealth())
    assert balancer.pick(group()) is None
    assert balancer.pick(group(target(1, draining=True), target(2, address=None))) is None


@pytest.mark.parametrize("kind, checked", [("IP", False), ("ALB", True), ("INSTANCE", False)])
def test_unchecked_groups_use_every_serving_target(kind, checked):
    tg = group(target(1), target(2), target(3, draining=True), type=kind, checked=checked)
    health = StaticHealth({("tg-1", tg.targets[0].key): "HEALTHY"})
    assert candidates(tg, health.state) == tg.targets[:2]


def test_a_lambda_function_needs_no_address():
    function = Target(key="tg-1/000", id="arn:aws:lambda:us-east-1:111111111111:function:f", port=0, address=None)
    tg = group(function, type="LAMBDA", checked=False)
    assert Balancer(StaticHealth()).pick(tg) == function


def test_health_changes_reach_the_cached_candidates():
    tg = group(target(1), target(2))
    health = StaticHealth({("tg-1", tg.targets[0].key): "HEALTHY"})
    balancer = Balancer(health)
    assert {balancer.pick(tg).key for _ in range(4)} == {tg.targets[0].key}
    asked = health.asked
    balancer.pick(tg)
    assert health.asked == asked  # nothing changed: the candidates came from the cache
    health.set("tg-1", tg.targets[1].key, "HEALTHY")
    assert {balancer.pick(tg).key for _ in range(4)} == {t.key for t in tg.targets}
    newer = group(target(1))  # a new snapshot's group object replaces the cached one
    assert {balancer.pick(newer).key for _ in range(4)} == {newer.targets[0].key}


# -- requests in flight -------------------------------------------------------------------

def test_track_counts_requests_in_flight_per_group_and_target():
    balancer = Balancer(StaticHealth())
    t = target(1)
    with balancer.track("tg-1", t):
        with balancer.track("tg-1", t), balancer.track("tg-2", t):
            assert balancer.in_flight("tg-1", t.key) == 2
            assert balancer.in_flight("tg-2", t.key) == 1
        assert balancer.in_flight("tg-1", t.key) == 1
    assert balancer.in_flight("tg-1", t.key) == 0
    with pytest.raises(RuntimeError):
        with balancer.track("tg-1", t):
            raise RuntimeError("the request failed")
    assert balancer.in_flight("tg-1", t.key) == 0


def test_wait_idle_resolves_when_the_last_request_ends():
    async def scenario():
        balancer = Balancer(StaticHealth())
        t = target(1)
        await asyncio.wait_for(balancer.wait_idle("tg-1", t.key), 1)  # nothing in flight: at once
        first, second = balancer.track("tg-1", t), balancer.track("tg-1", t)
        first.__enter__()
        second.__enter__()
        waiters = [asyncio.ensure_future(balancer.wait_idle("tg-1", t.key)) for _ in range(2)]
        await asyncio.sleep(0)
        first.__exit__(None, None, None)
        await asyncio.sleep(0)
        assert not any(w.done() for w in waiters)
        second.__exit__(None, None, None)
        await asyncio.wait_for(asyncio.gather(*waiters), 1)
        assert balancer._idle == {} and balancer._in_flight == {}

    asyncio.run(scenario())
