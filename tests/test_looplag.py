"""The loop-lag figure: a loop that is blocked shows it, an idle one does not."""

from __future__ import annotations

import asyncio
import time

from latticework.dataplane.looplag import LoopLag


def test_a_blocked_loop_shows_its_lag_and_an_idle_one_does_not():
    async def scenario():
        lag = LoopLag(interval=0.01, window=5)
        lag.start()
        seen = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, seen.set)
        await seen.wait()
        idle = lag.figures()
        time.sleep(0.3)  # a callback that blocks the loop, as a synchronous store write would
        await asyncio.sleep(0.05)  # let the monitor run after the block
        blocked = lag.figures()
        lag.stop()
        return idle, blocked

    idle, blocked = asyncio.run(scenario())
    assert idle["loopLagMillisecondsMax"] < 250 and idle["loopLagWindowSeconds"] > 0
    assert blocked["loopLagMillisecondsMax"] >= 250
    assert blocked["loopLagMillisecondsMedian"] <= blocked["loopLagMillisecondsP99"] <= blocked["loopLagMillisecondsMax"]
