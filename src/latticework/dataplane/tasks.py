"""Background tasks of the data plane's long-lived parts (health checkers, drains, deregistration delays)."""

from __future__ import annotations

import asyncio
from typing import Iterable


async def cancel_all(tasks: Iterable[asyncio.Task]) -> None:
    """Cancel ``tasks`` and wait until each has ended, whatever it ended with."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
