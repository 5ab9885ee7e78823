"""A deadline that moves by assignment, for clocks restarted on every request or event.

An idle connection's clock restarts with each request, a response's with
each event from the target. Cancelling and arming a timer each time costs a
timer handle per restart; ``Deadline`` keeps one timer instead. Moving the
deadline later only records the new time: when the armed timer fires early
it re-arms itself for the recorded deadline. Only a deadline earlier than
the armed timer cancels and re-arms it. ``set(None)`` stops the clock (the
timer, if armed, then fires into nothing once).
"""

from __future__ import annotations

import asyncio
from typing import Callable


class Deadline:
    __slots__ = ("_loop", "_expired", "_when", "_timer", "_timer_at")

    def __init__(self, loop: asyncio.AbstractEventLoop, expired: Callable[[], None]):
        self._loop = loop
        self._expired = expired  # called once the loop time reaches the deadline
        self._when: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def set(self, when: float | None) -> None:
        """The loop time at which ``expired`` is called; None: no deadline."""
        self._when = when
        if when is not None and (self._timer is None or self._timer_at > when):
            if self._timer is not None:
                self._timer.cancel()
            self._arm(when)

    def cancel(self) -> None:
        self._when = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, when: float) -> None:
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        when = self._when
        if when is None:
            return
        if self._loop.time() < when:
            return self._arm(when)
        self._when = None
        self._expired()
