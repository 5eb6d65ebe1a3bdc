"""What comes before the active rules: the master toggle, `ramp abort` and `ramp retry`, and the
phases the rollout only leaves when told (Completed, RolledBack, Failed)."""

from __future__ import annotations

from ramp.api.status import Control, RolloutPhase, RolloutStatus
from ramp.engine.draft import Draft
from ramp.engine.exposure import (
    exposes_anyone,
    serve_at_most,
    serve_nobody,
    serve_phase,
    serve_recorded,
)
from ramp.engine.failure import forget_windows, retry, roll_back, step_down
from ramp.engine.phases import ACTIVE, ENDED, RETRYABLE, UNSTARTED
from ramp.engine.progress import unpause
from ramp.engine.thresholds import Assessment


def hold_disabled(draft: Draft) -> bool:
    """spec.enabled false publishes 0 % and keeps progress; True when that is all there is to do."""
    nxt, now = draft.next, draft.now
    if not draft.spec.enabled:
        if nxt.phase != "Disabled":
            nxt.paused_at = nxt.paused_at or now
            serve_nobody(nxt)
            nxt.enabled = False
            nxt.next_promotion_at = None
            draft.transition("Disabled", "Disabled", "spec.enabled is false: publishing 0 %")
        return True
    if nxt.phase == "Disabled":
        enable(draft)
    return False


def disabled_from(status: RolloutStatus) -> RolloutPhase:
    """The phase a Disabled rollout was in before spec.enabled went false."""
    for entry in reversed(status.history or []):
        if entry.phase != "Disabled":
            return entry.phase
    return "Progressing"


def enable(draft: Draft) -> None:
    """spec.enabled is true again: back where the rollout was before it was disabled."""
    nxt = draft.next
    resumed = disabled_from(nxt)
    nxt.enabled = nxt.flag_disabled_at is None
    # While still held (spec.paused, a pause in status.control) the flag comes back on at 0 %:
    # edits made while disabled may have raised the phase, and a raise waits for the resume
    # (I4). Fewer users in the meantime is always allowed.
    control = nxt.control
    held = draft.spec.paused or (control is not None and control.pause is not None)
    if resumed in ENDED:
        nxt.paused_at = None
        last = next(e for e in reversed(nxt.history or []) if e.phase == resumed)
        # A rollback's exposure is its recorded one (edits do not raise it).
        if resumed == "Completed" and not held:
            serve_phase(nxt, draft.spec.phases[-1])
        elif resumed == "Completed":
            serve_nobody(nxt)
        else:
            serve_recorded(nxt, last.percentage, last.audiences or [])
        draft.transition(resumed, "Enabled", "spec.enabled is true again")
        return
    if resumed in UNSTARTED and nxt.phase_started_at is None:
        resumed = "Pending"
    if resumed == "Pending" or nxt.phase_started_at is None:
        nxt.phase = "Pending"
        nxt.paused_at = None
        serve_nobody(nxt)
        draft.transition("Pending", "Enabled", "spec.enabled is true again")
        return
    unpause(draft)
    if held:
        serve_nobody(nxt)
    else:
        serve_phase(nxt, draft.phase)
    draft.transition(
        "Progressing", "Enabled", f"spec.enabled is true again: resuming {draft.phase.name}"
    )


def take_resume(draft: Draft) -> None:
    """`ramp resume`: the breach windows and cohort comparisons start afresh, before this
    decision's evaluation is folded in. A value read before the fix (a scrape behind the
    resume) starts a new window instead of ending an old one; the `Critical` verdict still
    holds promotion until a fresh evaluation (I5), and a breach that goes on pauses again
    once it has lasted its `for`."""
    control = draft.next.control
    if control is None or control.resume is None:
        return
    draft.control.resume = None
    forget_windows(draft)


def take_requests(draft: Draft) -> bool:
    """`ramp abort` and `ramp retry`; True when the decision is made."""
    nxt = draft.next
    control = nxt.control or Control()
    if control.abort is not None:
        draft.control.abort = None
        draft.control.promote = None
        if nxt.phase in ACTIVE:
            roll_back(draft, None, zero=True)
            return True
    if control.retry is not None:
        if nxt.phase in RETRYABLE and draft.spec.paused:
            # A retry exposes users again: it waits for spec.paused to be lifted (I4).
            nxt.message = "`ramp retry` requested; it starts once spec.paused is false"
            return False
        draft.control.retry = None
        if nxt.phase in RETRYABLE:
            retry(draft)
    return False


def hold_terminal(draft: Draft, assessment: Assessment) -> bool:
    """Completed, RolledBack and Failed stay so until a request or spec change; a rollback to a
    previous phase keeps stepping down while its breach lasts (I6). True when handled."""
    spec, nxt = draft.spec, draft.next
    if nxt.phase == "Completed":
        last = len(spec.phases) - 1
        draft.at(last)
        # An edit raising the last phase waits while spec.paused is true, and so does a
        # `ramp pause` given while disabled, until `ramp resume` (I4).
        paused = nxt.control is not None and nxt.control.pause is not None
        held = spec.paused or paused
        if held:
            serve_at_most(nxt, draft.phase)
        else:
            serve_phase(nxt, draft.phase)
        nxt.enabled = nxt.flag_disabled_at is None
        return True
    if nxt.phase == "RolledBack":
        nxt.enabled = nxt.flag_disabled_at is None
        if exposes_anyone(nxt) and assessment.breach is not None:
            step_down(draft, assessment.breach)
        return True
    return nxt.phase == "Failed"
