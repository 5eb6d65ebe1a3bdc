"""The per-Rollout loops (handlers.Loops): a wake-up is never lost, only a 404 ends a loop, and a
standby runs no loop but remembers every Rollout it saw, to wake them all when it leads.

The reconcile and exists callables here are in-test stand-ins with the real signatures, so the
interleavings the watch can produce are played exactly, every run."""

from __future__ import annotations

import asyncio
from datetime import datetime

from ramp.runtime.handlers import Loops
from ramp.runtime.settings import OperatorSettings
from tests.support.eventually import eventually_async

FAST = OperatorSettings(min_interval=0.001, retry_backoff=0.01, resync_interval=60.0)


class Rollouts:
    """What the loops see of the API: which Rollouts exist, and a record of reconciles."""

    def __init__(self) -> None:
        self.present: set[tuple[str, str]] = set()
        self.reconciled: list[tuple[str, str]] = []
        self.hold_exists: asyncio.Event | None = None
        self.checking = asyncio.Event()
        self.exists_failures = 0

    async def reconcile(self, namespace: str, name: str) -> datetime | None:
        self.reconciled.append((namespace, name))
        return None  # gone, finalized or invalid: nothing scheduled

    async def exists(self, namespace: str, name: str) -> bool:
        answer = (namespace, name) in self.present  # the GET is answered now ...
        if self.hold_exists is not None:
            self.checking.set()
            await self.hold_exists.wait()  # ... and its response arrives later
        if self.exists_failures:
            self.exists_failures -= 1
            raise RuntimeError("etcdserver: request timed out")
        return answer

    def count(self, name: str) -> int:
        return sum(1 for _, n in self.reconciled if n == name)


def loops_for(rollouts: Rollouts) -> Loops:
    return Loops(rollouts.reconcile, rollouts.exists, FAST)


async def settled(loops: Loops) -> bool:
    return not loops.tasks


async def test_a_rollout_recreated_while_its_loop_checks_for_it_is_reconciled() -> None:
    rollouts = Rollouts()
    loops = loops_for(rollouts)
    await loops.lead()
    rollouts.hold_exists = asyncio.Event()
    loops.seen("shop", "checkout", deleted=True)  # DELETED: the loop reconciles, finds it gone
    await asyncio.wait_for(rollouts.checking.wait(), timeout=5)

    # A GitOps replace: the same name is created again while the "is it gone?" GET is in flight
    # (the GET saw it gone); the ADDED event wakes the loop that is about to end.
    rollouts.present.add(("shop", "checkout"))
    loops.seen("shop", "checkout", deleted=False)
    rollouts.hold_exists.set()
    rollouts.hold_exists = None

    async def reconciled_again() -> bool:
        return rollouts.count("checkout") >= 2

    await eventually_async(
        reconciled_again, timeout=5, what="the re-created Rollout reconciled after its ADDED"
    )
    await loops.stop()


async def test_a_failed_existence_check_is_retried_not_taken_for_gone() -> None:
    rollouts = Rollouts()
    rollouts.present.add(("shop", "checkout"))
    rollouts.exists_failures = 1
    loops = loops_for(rollouts)
    await loops.lead()
    loops.seen("shop", "checkout", deleted=False)

    async def reconciled_again() -> bool:
        return rollouts.count("checkout") >= 2

    await eventually_async(
        reconciled_again, timeout=5, what="a reconcile retried after the API error"
    )
    assert ("shop", "checkout") in loops.tasks, "the loop ended on an error that is not a 404"
    await loops.stop()


async def test_a_loop_ends_only_when_the_rollout_is_gone_and_a_new_wake_starts_it_again() -> None:
    rollouts = Rollouts()
    loops = loops_for(rollouts)
    await loops.lead()
    loops.seen("shop", "checkout", deleted=True)
    await eventually_async(lambda: settled(loops), timeout=5, what="the loop of a gone Rollout")
    assert rollouts.count("checkout") == 1

    rollouts.present.add(("shop", "checkout"))
    loops.seen("shop", "checkout", deleted=False)
    assert ("shop", "checkout") in loops.tasks, "a wake after the loop ended started no loop"

    async def reconciled_again() -> bool:
        return rollouts.count("checkout") == 2

    await eventually_async(reconciled_again, timeout=5, what="the new loop's reconcile")
    await loops.stop()


async def test_a_standby_runs_no_loop_and_wakes_every_rollout_it_saw_when_it_leads() -> None:
    rollouts = Rollouts()
    rollouts.present |= {("shop", "checkout"), ("shop", "search")}
    loops = loops_for(rollouts)
    loops.seen("shop", "checkout", deleted=False)  # Kopf's initial listing
    loops.seen("shop", "search", deleted=False)
    loops.seen("shop", "old", deleted=False)
    loops.seen("shop", "old", deleted=True)  # deleted while standing by
    loops.wake("shop", "checkout")  # e.g. its ConfigMap changed
    await asyncio.sleep(0)  # give a wrongly started task its chance to run
    assert not loops.tasks and not rollouts.reconciled, "a standby reconciled"

    await loops.lead()

    async def both_reconciled() -> bool:
        return rollouts.count("checkout") == 1 and rollouts.count("search") == 1

    await eventually_async(both_reconciled, timeout=5, what="every known Rollout reconciled")
    assert rollouts.count("old") == 0, "a Rollout deleted while standing by was woken"

    await loops.stop()
    assert not loops.tasks
    loops.wake("shop", "checkout")
    assert not loops.tasks, "a loop started after leadership was lost"
