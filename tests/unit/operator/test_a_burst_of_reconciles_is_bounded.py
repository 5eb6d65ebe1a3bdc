"""A burst of reconciles runs at most `reconciles_in_flight` at once, and one woken by a change
goes before those woken by their own timer (ramp.runtime.throttle)."""

from __future__ import annotations

import asyncio

import pytest

from ramp.runtime.throttle import CHANGED, TIMED, Throttle
from tests.support.eventually import eventually_async


async def test_no_more_than_the_size_run_at_once_and_every_one_runs() -> None:
    throttle = Throttle(3)
    running = peak = done = 0
    release = asyncio.Event()

    async def reconcile() -> None:
        nonlocal running, peak, done
        async with throttle.admit(TIMED):
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1
            done += 1

    tasks = [asyncio.create_task(reconcile()) for _ in range(50)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert running == 3
    release.set()
    await asyncio.gather(*tasks)
    assert (peak, done, throttle.running, throttle.waiting) == (3, 50, 0, [])


async def test_a_change_goes_before_the_timers_already_waiting() -> None:
    throttle = Throttle(1)
    order: list[str] = []
    hold = asyncio.Event()

    async def reconcile(label: str, priority: int) -> None:
        async with throttle.admit(priority):
            order.append(label)
            await hold.wait()

    first = asyncio.create_task(reconcile("running", TIMED))
    await asyncio.sleep(0)
    timers = [asyncio.create_task(reconcile(f"timer-{i}", TIMED)) for i in range(5)]
    await asyncio.sleep(0)
    edit = asyncio.create_task(reconcile("edit", CHANGED))
    await asyncio.sleep(0)
    hold.set()
    await asyncio.gather(first, *timers, edit)
    assert order == ["running", "edit", *(f"timer-{i}" for i in range(5))]


async def test_a_waiter_cancelled_does_not_take_a_turn_for_ever() -> None:
    throttle = Throttle(1)
    hold = asyncio.Event()

    async def reconcile() -> None:
        async with throttle.admit(TIMED):
            await hold.wait()

    first = asyncio.create_task(reconcile())
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(reconcile())
    later = asyncio.create_task(reconcile())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    hold.set()

    async def all_done() -> bool:
        return first.done() and later.done()

    await eventually_async(all_done, timeout=5, what="the waiter after the cancelled one to run")
    assert (throttle.running, throttle.waiting) == (0, [])
