"""When the shell must evaluate metrics and when it must come back: pure functions of status."""

from __future__ import annotations

from datetime import datetime, timedelta

from ramp.api.spec import RolloutSpec
from ramp.api.status import RolloutStatus
from ramp.engine.policy import analysing


def analysis_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """One evaluation per interval while the rollout is active or rolled back to a previous
    phase, and one as soon as a soak ends (promotion is decided on fresh values)."""
    if spec.analysis is None or not analysing(status) or not spec.enabled:
        return False
    last = status.last_analysis_at
    if last is None or now >= last + spec.analysis.every:
        return True
    due = status.next_promotion_at
    return due is not None and last < due <= now


RESTORE_CHECK = timedelta(seconds=1)
"""How soon to confirm that workers got their original scale back."""

MISSING_WORKER_CHECK = timedelta(seconds=5)
"""How often to look for a worker that does not exist yet (its creation sends Ramp no event)."""

PUBLISH_CHECK = timedelta(seconds=1)
"""How soon to confirm that the ConfigMap serves what the status says (its watch event usually
comes first)."""

OUTBOX_RETRY = timedelta(seconds=10)
"""How often undelivered announcements are tried again."""


def next_wakeup(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> datetime | None:
    """The earliest moment something can change without an outside event; None: nothing will."""
    phase = status.phase or "Pending"
    restoring = phase == "Completed" or (phase == "RolledBack" and not status.percentage)
    moments = []
    if status.outbox:
        moments.append(now + OUTBOX_RETRY)
    if status.awaiting_publish_since is not None:
        moments.append(now + PUBLISH_CHECK)
    if status.worker_originals and restoring:
        # Workers are being given back their own scale: look again to confirm and forget them.
        moments.append(now + RESTORE_CHECK)
    if not analysing(status) or not spec.enabled:
        return min(moments) if moments else None
    if spec.analysis is not None:
        last = status.last_analysis_at
        moments.append(now if last is None else last + spec.analysis.every)
    if status.next_promotion_at is not None:
        moments.append(status.next_promotion_at)
    if status.phase == "Pending" and spec.analysis is None:
        moments.append(now)
    if any(c.type == "WorkersReady" and c.status == "False" for c in status.conditions or []):
        moments.append(now + MISSING_WORKER_CHECK)
    if not moments:
        return None
    return max(min(moments), now)
