"""Synchronise on state, never on sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy and return it.

    Exceptions count as "not yet". On timeout the assertion says what was awaited and the
    last value or error seen, so a failing test explains itself.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = value
        except Exception as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}"
            )
        time.sleep(interval)


async def eventually_async(
    check: Callable[[], Awaitable[T]], *, timeout: float, what: str, interval: float = 0.1
) -> T:
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = await check()
            if value:
                return value
            last = value
        except Exception as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}"
            )
        await asyncio.sleep(interval)
