"""Event-loop lag: how late the data plane's loop runs what is due.

Every request, health check and DNS answer of the data plane runs on one
event loop, so anything that blocks it (a store write, a compile, a
certificate issued in line) delays every connection at once. ``LoopLag``
measures that directly: a callback asks to run every ``interval`` seconds
and records how late it actually ran. The last ``window`` seconds of
samples give the figures ``GET /_latticework/dataplane`` shows (median,
p99 and maximum, in milliseconds). One timer per interval: the cost is
constant, whatever the traffic.
"""

from __future__ import annotations

import asyncio
from collections import deque

INTERVAL = 0.05  # seconds between samples
WINDOW = 60.0  # seconds of samples kept


class LoopLag:
    def __init__(self, interval: float = INTERVAL, window: float = WINDOW):
        self.interval = interval
        self.window = window
        self._lags: deque[float] = deque(maxlen=max(1, int(window / interval)))
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._due = loop.time() + self.interval
        self._timer = loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._lags.append(max(0.0, now - self._due))
        self._due = now + self.interval
        self._timer = loop.call_at(self._due, self._tick)

    def figures(self) -> dict:
        """Lag over the window, in milliseconds (zeros before the first sample)."""
        lags = sorted(self._lags) or [0.0]
        at = lambda share: lags[min(len(lags) - 1, int(share * len(lags)))]  # noqa: E731
        return {"loopLagMillisecondsMedian": round(at(0.5) * 1000, 3),
                "loopLagMillisecondsP99": round(at(0.99) * 1000, 3),
                "loopLagMillisecondsMax": round(lags[-1] * 1000, 3),
                "loopLagWindowSeconds": round(min(len(self._lags) * self.interval, self.window), 3)}
