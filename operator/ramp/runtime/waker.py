"""What a Rollout's reconcile loop sleeps on: a wake-up, or its own timer, whichever is first.

With thousands of analysing Rollouts the loops sleep and wake thousands of times a minute.
`asyncio.wait_for(event.wait(), timeout)` makes a Task, a future and a timer for every sleep;
this sleeps on one future and a timer from the event loop's own heap, which is all a sleep
needs.
"""

from __future__ import annotations

import asyncio


def _time_is_up(woken: asyncio.Future[bool]) -> None:
    if not woken.done():
        woken.set_result(False)


class Waker:
    """A flag that `set` raises (and wakes the sleeper) and the loop clears when it acts."""

    __slots__ = ("_raised", "_sleeper")

    def __init__(self) -> None:
        self._raised = False
        self._sleeper: asyncio.Future[bool] | None = None

    def set(self) -> None:
        self._raised = True
        sleeper = self._sleeper
        if sleeper is not None and not sleeper.done():
            sleeper.set_result(True)

    def is_set(self) -> bool:
        return self._raised

    def clear(self) -> None:
        self._raised = False

    async def sleep(self, seconds: float) -> bool:
        """Sleep until woken (True) or until ``seconds`` have passed (False)."""
        if self._raised:
            return True
        loop = asyncio.get_running_loop()
        sleeper: asyncio.Future[bool] = loop.create_future()
        self._sleeper = sleeper
        timer = loop.call_later(max(seconds, 0.0), _time_is_up, sleeper)
        try:
            return await sleeper
        finally:
            timer.cancel()
            self._sleeper = None
