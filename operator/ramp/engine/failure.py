"""What a sustained critical breach does (failurePolicy), and the ways back: step down while it
goes on, `ramp abort`, `ramp retry`."""

from __future__ import annotations

from ramp.api.status import MetricValue, Request, Snapshot
from ramp.engine import cohorts
from ramp.engine.draft import Draft
from ramp.engine.exposure import (
    describe_exposure,
    exposes_anyone,
    not_above,
    phase_exposure,
    serve_nobody,
    serve_phase,
)
from ramp.engine.thresholds import Breach, baseline_metrics


def failure_pause_message(breach: str | None) -> str:
    """The one message of a rollout paused by `failurePolicy.action: Pause`, naming the breach."""
    what = breach or "a critical breach"
    return f"paused by failurePolicy: {what}; fix it, then `ramp resume`"


def take_snapshot(draft: Draft, breach: Breach) -> Snapshot:
    nxt = draft.next
    return Snapshot(
        taken_at=draft.now,
        reason=breach.message,
        step=nxt.current_phase,
        percentage=nxt.percentage or 0.0,
        metrics=[
            MetricValue(
                name=m.name, value=m.value, verdict=m.verdict, compare=cohorts.summary(m.compare)
            )
            for m in nxt.metrics or []
        ],
    )


def fail(draft: Draft, breach: Breach) -> None:
    """Apply spec.failurePolicy to a sustained breach."""
    policy = draft.spec.failure_policy
    nxt = draft.next
    held = nxt.control.pause if nxt.control else None
    if policy.action == "Pause" and nxt.phase == "Paused" and held and held.by == "failurePolicy":
        # Applied already: the snapshot (and so the pause message, which names its breach)
        # stays the one of when it applied; a breach that goes on is no new state to record.
        return
    nxt.snapshot = take_snapshot(draft, breach)
    disable_flag(draft)
    if policy.action == "Pause":
        draft.control.pause = Request(requested_at=draft.now, by="failurePolicy")
        nxt.paused_at = nxt.paused_at or draft.now
        nxt.next_promotion_at = None
        draft.transition(
            "Paused",
            "Paused",
            failure_pause_message(breach.message),
            warning=True,
            metric=breach.metric,
            breach=True,
        )
        return
    roll_back(draft, breach, zero=policy.rollback_to == "Zero")


def roll_back(draft: Draft, breach: Breach | None, *, zero: bool) -> None:
    """Publish 0 %, or the previous phase's percentage (where analysis goes on: I6)."""
    nxt = draft.next
    failed = draft.phase.name
    nxt.rolled_back_from = failed
    nxt.next_promotion_at = None
    nxt.paused_at = None
    if draft.control.pause is not None:
        draft.control.pause = None
    fall_back(draft, zero=zero)
    pct = describe_exposure(nxt.percentage or 0.0, nxt.audiences or [])
    if breach is None:
        message = f"aborted in {failed}: rolled back to {pct}; `ramp retry` starts again"
    else:
        message = f"rolled back from {failed} to {pct}: {breach.message}"
        if exposes_anyone(nxt):
            message += "; analysis goes on, and steps down again while the breach lasts"
    draft.transition(
        "RolledBack",
        "RolledBack",
        message,
        warning=True,
        metric=breach.metric if breach else None,
        breach=breach is not None,
    )


def step_down(draft: Draft, breach: Breach) -> None:
    """I6: rolled back to a previous phase and still breaching: one phase lower, down to 0 %."""
    nxt = draft.next
    before = describe_exposure(nxt.percentage or 0.0, nxt.audiences or [])
    nxt.snapshot = take_snapshot(draft, breach)
    disable_flag(draft)
    fall_back(draft, zero=False)
    after = describe_exposure(nxt.percentage or 0.0, nxt.audiences or [])
    message = f"stepped down from {before} to {after}: {breach.message}"
    draft.transition(
        "RolledBack", "RolledBack", message, warning=True, metric=breach.metric, breach=True
    )


def disable_flag(draft: Draft) -> None:
    """With failurePolicy.disableFlag: enabled=false, kept until a person acts (resume, retry,
    a spec change: I2)."""
    if draft.spec.failure_policy.disable_flag:
        draft.next.flag_disabled_at = draft.next.flag_disabled_at or draft.now
        draft.next.enabled = False


def take_spec_change(draft: Draft) -> None:
    """A spec change is a person acting: it ends a `disableFlag` (I2), but not while the rollout
    stays held (a pause in status.control, spec.paused, or a stored Paused phase such as the
    no-data hold): turning the flag back on then would raise the exposure while held (I4). The
    flag comes back on when the hold ends (`progress.advance` resumes it)."""
    before, control = draft.before, draft.before.control
    held = (
        draft.spec.paused
        or before.phase == "Paused"
        or (control is not None and control.pause is not None)
    )
    if not held:
        draft.next.flag_disabled_at = None


def fall_back(draft: Draft, *, zero: bool) -> None:
    """To nobody (0 %, no audience), or to the phase before the current one, its percentage
    and audiences (nobody from the first); the breach windows start afresh at the new
    exposure. A rollback never exposes more users than it found (I1, I4): when the phase
    before is above what is published (a held rollout whose phase an edit lowered, or one
    turned back on at 0 % while paused), it goes to nobody."""
    nxt = draft.next
    found, audiences = nxt.percentage or 0.0, nxt.audiences or []
    below = draft.index > 0 and not_above(draft.spec.phases[draft.index - 1], found, audiences)
    if zero or not below:
        draft.at(0)
        serve_nobody(nxt)
    else:
        draft.at(draft.index - 1)
        serve_phase(nxt, draft.phase)
    forget_windows(draft)


def retry(draft: Draft) -> None:
    nxt = draft.next
    nxt.control = None
    nxt.rolled_back_from = None
    nxt.flag_disabled_at = None
    nxt.enabled = True
    nxt.metrics = None
    nxt.last_analysis_at = None
    uncaptured = [
        m.name for m in baseline_metrics(draft.spec) if m.name not in (nxt.baseline or {})
    ]
    never_started = nxt.phase_started_at is None  # aborted while Pending
    if never_started or (uncaptured and not exposes_anyone(nxt)):
        # Back to Pending, where the first phase waits until the rollout can be checked (I3b)
        # and a baseline can be captured: only where nobody is exposed. A baseline bound added
        # mid-rollout has nothing to be judged against until then.
        nxt.current_phase = nxt.current_phase_index = None
        nxt.phase_started_at = nxt.next_promotion_at = nxt.paused_at = None
        serve_nobody(nxt)
        draft.index = 0
        draft.transition(
            "Pending",
            "Retried",
            "retrying from the start: "
            + (
                f"capturing the baseline of {', '.join(uncaptured)} at 0 % before the first phase"
                if uncaptured
                else "the first phase starts once the rollout can be checked"
            ),
        )
        return
    draft.start_phase(draft.index)
    draft.transition(
        "Progressing",
        "Retried",
        f"retrying from {draft.phase.name} at {phase_exposure(draft.phase)}",
    )


def forget_windows(draft: Draft) -> None:
    """Breach windows and cohort comparisons start afresh with a new exposure (first phase,
    rollback, retry): a rollback to a previous phase steps down again only on new evidence."""
    nxt = draft.next
    nxt.metrics = [
        m.model_copy(
            update={
                "critical_since": None,
                "warning_since": None,
                "consecutive_errors": 0,
                "compare": None,
            }
        )
        for m in nxt.metrics or []
    ] or None
