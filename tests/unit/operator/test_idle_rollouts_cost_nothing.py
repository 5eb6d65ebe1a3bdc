"""A settled Rollout costs nothing: the resync decides nothing and reads nothing unless the watch
delivered a new version or a timer is due; and what the watch delivered is what the reconcile
decides on, never an older version (ramp.runtime.index).

The reconcile callable is an in-test stand-in with the real signature, so the loop's timing is
played exactly; the resync interval is shortened to make several resyncs pass in a test.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from ramp.api import RolloutStatus
from ramp.engine import routine_readings
from ramp.runtime.handlers import Loops, indexed_exists
from ramp.runtime.index import BodyIndex, RolloutIndex
from ramp.runtime.settings import OperatorSettings
from tests.support.eventually import eventually_async

RESYNC = 0.05
FAST = OperatorSettings(min_interval=0.001, retry_backoff=0.01, resync_interval=RESYNC)
KEY = ("shop", "checkout")


def body(version: str, percentage: int = 10) -> dict[str, object]:
    return {
        "metadata": {"namespace": KEY[0], "name": KEY[1], "resourceVersion": version},
        "spec": {"phases": [{"name": "canary", "percentage": percentage}]},
    }


class Reconciles:
    def __init__(self, index: RolloutIndex) -> None:
        self.index = index
        self.decided_on: list[str | None] = []
        self.due: datetime | None = None

    async def reconcile(self, namespace: str, name: str) -> datetime | None:
        self.decided_on.append(self.index.version((namespace, name)))
        return self.due


async def test_a_settled_rollout_is_not_reconciled_again_by_the_resync() -> None:
    index = RolloutIndex()
    index.observe(*KEY, body("7"), deleted=False)
    reconciles = Reconciles(index)
    loops = Loops(reconciles.reconcile, indexed_exists(index), FAST, index.version)
    await loops.lead()
    loops.seen(*KEY, deleted=False)

    async def reconciled_once() -> bool:
        return len(reconciles.decided_on) == 1

    await eventually_async(reconciled_once, timeout=5, what="the first reconcile")
    await asyncio.sleep(RESYNC * 10)  # ten resyncs pass, with nothing new
    assert reconciles.decided_on == ["7"], "a resync reconciled an unchanged Rollout"

    # A version the watch delivered without a wake-up (never happens, but the resync is the
    # safety net for it) is reconciled at the next resync.
    index.observe(*KEY, body("8"), deleted=False)

    async def reconciled_again() -> bool:
        return reconciles.decided_on[-1:] == ["8"]

    await eventually_async(reconciled_again, timeout=5, what="the new version reconciled")
    await loops.stop()


async def test_a_rollout_with_a_timer_due_is_reconciled_when_it_is_due() -> None:
    index = RolloutIndex()
    index.observe(*KEY, body("7"), deleted=False)
    reconciles = Reconciles(index)
    reconciles.due = datetime.now(UTC) + timedelta(seconds=0.01)  # e.g. the next analysis
    loops = Loops(reconciles.reconcile, indexed_exists(index), FAST, index.version)
    await loops.lead()
    loops.seen(*KEY, deleted=False)

    async def timer_ran() -> bool:
        reconciles.due = datetime.now(UTC) + timedelta(seconds=0.01)
        return len(reconciles.decided_on) >= 3

    await eventually_async(timer_ran, timeout=5, what="reconciles at each timer, same version")
    await loops.stop()


def test_an_older_watch_event_never_replaces_the_version_our_write_returned() -> None:
    index = RolloutIndex()
    index.observe(*KEY, body("7", percentage=10), deleted=False)
    index.store(KEY, body("9", percentage=25))  # what our status write returned
    index.observe(*KEY, body("8", percentage=10), deleted=False)  # an echo still in flight
    assert index.version(KEY) == "9"

    index.observe(*KEY, body("10", percentage=50), deleted=False)
    assert index.version(KEY) == "10"


def test_a_reconcile_changes_its_copy_not_what_the_watch_delivered() -> None:
    index = RolloutIndex()
    index.observe(*KEY, body("7"), deleted=False)
    mine = index.get(KEY)
    assert mine is not None
    mine["status"] = {"phase": "Progressing"}
    mine["metadata"]["finalizers"] = ["ramp.dev/restore-workers"]
    again = index.get(KEY)
    assert again is not None and "status" not in again
    assert "finalizers" not in again["metadata"]


def test_a_deleted_rollout_is_gone_from_the_index() -> None:
    index = RolloutIndex()
    index.observe(*KEY, body("7"), deleted=False)
    index.observe(*KEY, body("8"), deleted=True)
    assert KEY not in index and index.get(KEY) is None


def test_the_index_keeps_no_managed_fields() -> None:
    index = RolloutIndex()
    watched = body("7")
    watched["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]  # type: ignore[index]
    index.observe(*KEY, watched, deleted=False)
    kept = index.get(KEY)
    assert kept is not None and "managedFields" not in kept["metadata"]
    assert kept["metadata"]["resourceVersion"] == "7"


def test_the_echo_of_our_own_write_wakes_nothing() -> None:
    index = RolloutIndex()
    assert index.observe(*KEY, body("7"), deleted=False), "a new Rollout is news"
    assert index.store(KEY, body("9", percentage=25)), "what our status write returned"
    assert not index.observe(*KEY, body("9", percentage=25), deleted=False), (
        "the watch echo of our own write woke a reconcile that would decide the same again"
    )
    assert index.observe(*KEY, body("10", percentage=50), deleted=False), "a later edit is news"


def test_a_write_that_returns_after_the_deletion_does_not_bring_the_object_back() -> None:
    """A ConfigMap the watch said was deleted (or lost Ramp's labels) must be read again, not
    answered from a body our write returned a moment before."""
    index = BodyIndex()
    index.observe(*KEY, body("7"), deleted=False)
    index.observe(*KEY, body("9"), deleted=True)
    assert not index.store(KEY, body("8")), "a write older than the deletion came back"
    assert KEY not in index
    assert index.store(KEY, body("12")), "a later object of the same name is news"
    assert index.version(KEY) == "12"


def test_a_body_not_confirmed_recently_is_read_again() -> None:
    index = BodyIndex()
    index.observe(*KEY, body("7"), deleted=False)
    assert index.confirmed_within(KEY, 60) is not None
    index.confirmed[KEY] -= 61  # a minute without an event or a write
    assert index.confirmed_within(KEY, 60) is None, "a body the watch may have lost was trusted"
    index.observe(*KEY, body("7"), deleted=False)  # a re-list delivers it again, unchanged
    assert index.confirmed_within(KEY, 60) is not None


def test_a_status_left_unwritten_holds_only_on_the_version_it_was_decided_on() -> None:
    index = RolloutIndex()
    stored = {"phase": "AwaitingApproval", "lastAnalysisAt": "2026-12-02T10:00:00Z"}
    index.observe(*KEY, {**body("7"), "status": stored}, deleted=False)
    decided = RolloutStatus(phase="AwaitingApproval", last_analysis_at=datetime.now(UTC))
    dumped = decided.model_dump(by_alias=True, exclude_none=True, mode="json")
    index.keep_unwritten(KEY, "7", routine_readings(dumped))
    assert index.status_to_decide_on(KEY) == decided, "the readings over the stored status"
    index.observe(*KEY, body("8"), deleted=False)  # a person's edit, or a `ramp` action
    assert index.status_to_decide_on(KEY) is None, "decided on a status older than the edit"
    index.keep_unwritten(KEY, "8", routine_readings(dumped))
    index.observe(*KEY, body("8"), deleted=True)
    assert index.status_to_decide_on(KEY) is None


def test_a_status_found_in_dumped_form_is_trusted_only_at_that_version() -> None:
    index = RolloutIndex()
    index.observe(*KEY, body("7"), deleted=False)
    index.mark_normalized(KEY, "7")
    assert index.status_normalized(KEY, "7")
    assert not index.status_normalized(KEY, "8"), "a newer version's status is parsed again"
    index.observe(*KEY, body("7"), deleted=True)
    assert not index.status_normalized(KEY, "7"), "a deleted Rollout's marker outlived it"
