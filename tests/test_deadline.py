"""``Deadline``: fires once the loop time reaches the latest deadline set, never before, never when stopped."""

from __future__ import annotations

import asyncio

from latticework.dataplane.deadline import Deadline


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario(), 10))


def test_moving_the_deadline_later_delays_the_call_and_earlier_brings_it_forward():
    async def scenario():
        loop, fired = asyncio.get_running_loop(), asyncio.Event()
        times: list[float] = []
        deadline = Deadline(loop, lambda: (times.append(loop.time()), fired.set()))
        start = loop.time()
        deadline.set(start + 0.05)
        deadline.set(start + 0.3)  # later: the armed timer fires early and re-arms
        await asyncio.sleep(0.1)
        assert not times
        deadline.set(loop.time() + 0.02)  # earlier than the armed timer
        await fired.wait()
        await asyncio.sleep(0.35)  # the superseded deadline does not fire again
        return start, times

    start, times = run(scenario)
    assert len(times) == 1 and 0.1 <= times[0] - start < 0.3


def test_a_stopped_or_cancelled_deadline_never_fires():
    async def scenario():
        loop = asyncio.get_running_loop()
        calls: list[str] = []
        stopped = Deadline(loop, lambda: calls.append("stopped"))
        stopped.set(loop.time() + 0.02)
        stopped.set(None)
        cancelled = Deadline(loop, lambda: calls.append("cancelled"))
        cancelled.set(loop.time() + 0.02)
        cancelled.cancel()
        await asyncio.sleep(0.1)
        return calls

    assert run(scenario) == []


def test_a_deadline_moved_later_still_fires_at_the_later_time():
    async def scenario():
        loop, fired = asyncio.get_running_loop(), asyncio.Event()
        deadline = Deadline(loop, fired.set)
        start = loop.time()
        deadline.set(start + 0.02)
        deadline.set(start + 0.1)  # the armed timer fires at 0.02, finds the clock moved, re-arms
        await fired.wait()
        return loop.time() - start

    assert run(scenario) >= 0.1
