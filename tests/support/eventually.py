"""Synchronise on state, never on sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Deadline(Generic[T]):
    """One wait, sync or async: what it waits for, until when, and the last value or error
    seen, which the assertion names when the time is up so a failing test explains itself."""

    def __init__(self, timeout: float, what: str) -> None:
        self.timeout = timeout
        self.what = what
        self.at = time.monotonic() + timeout
        self.value: T

    def met(self, outcome: T | Exception) -> bool:
        """Whether ``outcome`` (what the check returned, or raised: "not yet") ends the wait;
        raises once the deadline has passed without it."""
        if outcome and not isinstance(outcome, Exception):
            self.value = outcome
            return True
        if time.monotonic() >= self.at:
            raise AssertionError(
                f"timed out after {self.timeout:.0f}s waiting for {self.what}; last: {outcome!r}"
            )
        return False


def _outcome(check: Callable[[], T]) -> T | Exception:
    try:
        return check()
    except Exception as e:
        return e


async def _outcome_async(check: Callable[[], Awaitable[T]]) -> T | Exception:
    try:
        return await check()
    except Exception as e:
        return e


def eventually(check: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy and return it; exceptions count as
    "not yet"."""
    deadline: Deadline[T] = Deadline(timeout, what)
    while not deadline.met(_outcome(check)):
        time.sleep(interval)
    return deadline.value


async def eventually_async(
    check: Callable[[], Awaitable[T]], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    """`eventually` for a coroutine ``check``, sleeping without blocking the event loop."""
    deadline: Deadline[T] = Deadline(timeout, what)
    while not deadline.met(await _outcome_async(check)):  # noqa: ASYNC110 (polling is its job)
        await asyncio.sleep(interval)
    return deadline.value
