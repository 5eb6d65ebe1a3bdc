"""The active part of a rollout: start, soak, hold, pause, resume, promote.

A phase is left only through its gate and soak, or by a soak skip that names who asked (I13):
`ramp promote` approves the phase it was asked at once that phase awaits approval, and is
dropped otherwise; `ramp promote --skip-soak` promotes at once.

A phase's soak counts only while its values are published (I10): a promotion starts the new
phase's clock, and the clock is set forward by every stretch during which the ConfigMap did not
serve what the status says it serves (not yet written, deleted, edited by hand, crash between
the status write and the publish).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ramp.api.durations import format_duration
from ramp.api.spec import RolloutSpec
from ramp.api.status import Control, PromoteRequest, Snapshot
from ramp.engine.bucketing import publish_of
from ramp.engine.conditions import WAITING_TO_START
from ramp.engine.draft import Draft
from ramp.engine.effects import PublishFlag
from ramp.engine.exposure import phase_exposure, serve_nobody, serve_phase
from ramp.engine.failure import fail, failure_pause_message, forget_windows
from ramp.engine.observations import Observations
from ramp.engine.phases import SOAKING
from ramp.engine.published import serves, stamp
from ramp.engine.served import instances_message, instances_serve
from ramp.engine.thresholds import Assessment, baseline_metrics


def never_started(draft: Draft) -> bool:
    return draft.next.phase_started_at is None


def advance(draft: Draft, assessment: Assessment, seen: Observations) -> None:
    """Steer a rollout that is Pending, Progressing, Paused or AwaitingApproval."""
    spec, nxt = draft.spec, draft.next
    control = nxt.control or Control()
    nxt.enabled = nxt.flag_disabled_at is None
    pause = pause_reason(spec, control, assessment, nxt.snapshot, seen)

    if nxt.phase == "Pending" or never_started(draft):
        if pause is not None and pause[0] != "NoData":
            # I3: created (or paused while) Pending: nobody is exposed and nothing starts.
            serve_nobody(nxt)
            message = f"{pause[1]}; nothing starts until then"
            if nxt.phase != "Paused" or nxt.message != message:
                draft.transition("Paused", "Paused", message)
            return
        paused = nxt.phase == "Paused"
        nxt.phase = "Pending"
        waiting = [m.name for m in baseline_metrics(spec) if m.name not in (nxt.baseline or {})]
        # I3b: nobody is exposed before the analysis has been answered and every worker
        # exists; a rollout that cannot be checked waits at 0 %, not in its first phase.
        waits = start_waits(draft, seen)
        if waiting or waits:
            serve_nobody(nxt)
            message = (
                f"capturing the baseline of {', '.join(waiting)} before the first phase"
                if waiting
                else f"{WAITING_TO_START}: {'; '.join(waits)}; the first phase starts by "
                "itself once this holds"
            )
            if paused:  # the pause ended, and the rollout is waiting again: I7
                draft.transition("Pending", "Resumed", message, notify=False)
            else:
                nxt.message = message
            return
        if draft.block is not None:
            # The start exposes users: it is a promotion, and waits for a window (I15).
            nxt.percentage = 0.0
            draft.waiting_for_window = True
            message = f"{WAITING_TO_START}: {draft.block.message}; it starts by itself then"
            if paused:
                draft.transition("Pending", "Resumed", message, notify=False)
            else:
                nxt.message = message
            return
        draft.start_phase(0)
        forget_windows(draft)
        draft.transition(
            "Progressing",
            "Started",
            f"started: {draft.phase.name} at {phase_exposure(draft.phase)}",
        )
    elif assessment.breach is not None:
        if resumed(draft):
            # I7: what the resume did (resumed, or held by something else) is recorded before
            # the breach that goes on applies the failure policy again; else a pause the resume
            # ended would be recorded twice in a row.
            hold_or_resume(draft, pause)
        fail(draft, assessment.breach)
        return

    if not hold_or_resume(draft, pause):
        progress(draft, control, assessment, seen)


def start_waits(draft: Draft, seen: Observations) -> list[str]:
    """What the first phase waits for: every named worker to exist, and every metric to have
    been answered without an error (no data is an answer; its policy applies once started)."""
    waits = []
    missing = sorted(m for w in seen.workers.values() for m in w.missing)
    if missing:
        waits.append(f"{', '.join(missing)} not found in the Rollout's namespace")
    if draft.spec.analysis is not None:
        readings = {m.name: m for m in draft.next.metrics or []}
        for metric in draft.spec.analysis.metrics:
            reading = readings.get(metric.name)
            if reading is None:
                waits.append(f"{metric.name} has not been analysed yet")
            elif reading.verdict == "Error":
                waits.append(f"{metric.name} {reading.message}")
    return waits


def resumed(draft: Draft) -> bool:
    """Whether this decision takes a `ramp resume` (guards.take_resume consumed it)."""
    control = draft.before.control
    return control is not None and control.resume is not None


def hold_or_resume(draft: Draft, pause: tuple[str, str] | None) -> bool:
    """Paused while something holds the rollout, resumed once nothing does; True while held."""
    nxt = draft.next
    if pause is not None:
        reason, message = pause
        if nxt.phase != "Paused" or nxt.message != message:
            nxt.paused_at = nxt.paused_at or draft.now
            nxt.next_promotion_at = None
            draft.transition("Paused", "Paused", message, notify=reason != "NoData")
        return True
    if nxt.phase == "Paused":
        unpause(draft)
        nxt.flag_disabled_at = None  # only `ramp resume` ends a failure-policy pause: I2
        nxt.enabled = True
        draft.transition("Progressing", "Resumed", f"resumed {draft.phase.name}")
    return False


def pause_reason(
    spec: RolloutSpec,
    control: Control,
    assessment: Assessment,
    snapshot: Snapshot | None,
    seen: Observations | None = None,
) -> tuple[str, str] | None:
    if control.pause is not None:
        if control.pause.by == "failurePolicy":
            return "CriticalBreach", failure_pause_message(snapshot.reason if snapshot else None)
        return "UserPaused", "paused by `ramp pause`; `ramp resume` continues"
    if spec.paused:
        return "SpecPaused", "paused: spec.paused is true"
    policy = seen.policy if seen is not None else None
    if policy is not None and policy.problem is not None:
        # Never promote without the health checks the policy adds: hold until it resolves.
        return policy.reason, f"holding: {policy.problem}"
    if assessment.no_data:
        return "NoData", f"holding: no data for {', '.join(assessment.no_data)} (onNoData: Pause)"
    return None


def unpause(draft: Draft) -> None:
    """Give back the paused time: the phase resumes with the soak it had left."""
    nxt = draft.next
    if nxt.paused_at is not None and nxt.phase_started_at is not None:
        nxt.phase_started_at = nxt.phase_started_at + max(draft.now - nxt.paused_at, timedelta(0))
    nxt.paused_at = None


def account_served(draft: Draft, published: PublishFlag | None) -> None:
    """I10: stop the soak clock while the ConfigMap does not serve the status's values, and
    give the unserved time back once it does."""
    nxt, now = draft.next, draft.now
    wanted = publish_of(draft.spec, nxt)
    counting = nxt.phase in SOAKING and nxt.phase_started_at is not None
    served = serves(published, wanted) and instances_serve(draft)
    since = nxt.awaiting_publish_since
    if since is not None and (served or not counting):
        gap = max(now - since, timedelta(0))
        if nxt.phase_started_at is not None:
            nxt.phase_started_at += gap
        if nxt.next_promotion_at is not None:
            nxt.next_promotion_at += gap
        nxt.awaiting_publish_since = None
    if counting and not served and nxt.awaiting_publish_since is None:
        nxt.awaiting_publish_since = now


def progress(draft: Draft, control: Control, assessment: Assessment, seen: Observations) -> None:
    spec, nxt, now = draft.spec, draft.next, draft.now
    current = draft.phase
    started = nxt.phase_started_at or now
    soak_end = started + current.soak
    nxt.next_promotion_at = soak_end
    serve_phase(nxt, current)

    request = take_promote(draft, control.promote)
    if request is not None and draft.block is not None and not request.override_freeze:
        draft.announce(
            "Normal",
            "PromoteDropped",
            f"`ramp promote` of {draft.phase.name} dropped: {draft.block.message}; "
            "`ramp promote --override-freeze` promotes anyway",
            notify=False,
        )
        request = None
    if request is not None and request.skip_soak:
        # I13: the one way out of a phase before its soak ends, recorded with who asked.
        promote(draft, promote_target(draft, request), by=skipped_by(draft, request, soak_end))
        return

    pct = phase_exposure(current)
    if nxt.awaiting_publish_since is not None:
        # I10b: published, but not yet served by every instance.
        instances = (
            instances_message(draft) if serves(seen.published, publish_of(spec, nxt)) else None
        )
        drop_approval(
            draft, request, instances or f"ConfigMap {spec.flag.config_map} does not serve it yet"
        )
        if nxt.phase == "Progressing":
            nxt.message = (
                f"{current.name} at {pct}: {instances}; the soak counts from when every "
                "instance serves it"
                if instances
                else f"{current.name} at {pct}: waiting for ConfigMap {spec.flag.config_map} "
                "to serve it; the soak counts from then"
            )
        return
    if now < soak_end:
        drop_approval(draft, request, f"it soaks until {stamp(soak_end)}")
        hold(draft, f"{current.name} at {pct} soaks until {stamp(soak_end)}")
        return
    holds = list(assessment.holds)
    if assessment.breach is not None:
        holds.append(assessment.breach.message)
    missing = sorted(m for w in seen.workers.values() for m in w.missing)
    if missing:
        holds.append(f"{', '.join(missing)} not found")
    analysed = nxt.last_analysis_at
    if spec.analysis is not None and (
        analysed is None or analysed < soak_end or analysed <= started
    ):
        holds.append("waiting for an analysis after the soak")
    if holds:
        drop_approval(draft, request, f"it is held: {'; '.join(holds)}")
        hold(draft, f"holding {current.name} at {pct}: {'; '.join(holds)}")
        return
    if request is not None and (
        current.approval == "Manual" or request.full or request.override_freeze
    ):
        # I13: the gate opens for the approval of this phase, once its soak passed healthy.
        promote(draft, promote_target(draft, request), by=approved_by(draft, request))
        return
    if current.approval == "Manual":
        nxt.next_promotion_at = None
        if nxt.phase != "AwaitingApproval":
            draft.transition(
                "AwaitingApproval",
                "AwaitingApproval",
                f"{current.name} at {pct} is healthy and waits for `ramp promote`",
            )
        return
    if draft.block is not None:
        # I15: soaked and healthy, and held for a window or a freeze; analysis goes on.
        draft.waiting_for_window = True
        nxt.next_promotion_at = draft.block.until
        hold(draft, f"holding {current.name} at {pct}: {draft.block.message}")
        return
    promote(draft, draft.index, by="soak passed healthy")


def take_promote(draft: Draft, request: PromoteRequest | None) -> PromoteRequest | None:
    """Consume the `ramp promote` in status.control: the request for the current phase, or None.

    A request names the phase it was asked at, so a repeated or late one (asked before the
    rollout left that phase, or for a phase a spec edit renamed) is dropped, never taken as the
    approval of the next phase. A soak skip that does not say who asked is dropped too (I13)."""
    if request is None:
        return None
    draft.control.promote = None
    if request.phase_index != draft.index or request.phase not in (None, draft.phase.name):
        asked = request.phase or f"phase {request.phase_index}"
        draft.announce(
            "Normal",
            "PromoteDropped",
            f"`ramp promote` asked at {asked} dropped: the rollout is in {draft.phase.name} now",
            notify=False,
        )
        return None
    if request.skip_soak and not request.by:
        draft.announce(
            "Warning",
            "PromoteDropped",
            f"`ramp promote --skip-soak` of {draft.phase.name} dropped: status.control.promote.by "
            "does not say who asked",
            notify=False,
        )
        return None
    return request


def drop_approval(draft: Draft, request: PromoteRequest | None, why: str) -> None:
    """A `ramp promote` approves a phase that awaits approval; one that reaches the operator
    while the phase soaks or is held is dropped, and the Event says why."""
    if request is None:
        return
    draft.announce(
        "Normal",
        "PromoteDropped",
        f"`ramp promote` of {draft.phase.name} dropped: {why}; it approves a phase that awaits "
        "approval, and `ramp promote --skip-soak` promotes now",
        notify=False,
    )


def promote_target(draft: Draft, request: PromoteRequest) -> int:
    return len(draft.spec.phases) - 1 if request.full else draft.index


def approved_by(draft: Draft, request: PromoteRequest) -> str:
    who = f" by {request.by}" if request.by else ""
    command = f"ramp promote{' --full' if request.full else ''}{_overriding(draft, request)[0]}"
    return f"`{command}`{who}{_jumped(draft, request)}{_overriding(draft, request)[1]}"


def _overriding(draft: Draft, request: PromoteRequest) -> tuple[str, str]:
    """The option and the note recording a promotion that overrode a freeze or a window."""
    if not request.override_freeze:
        return "", ""
    held = f"; overriding: {draft.block.message}" if draft.block is not None else ""
    return " --override-freeze", held


def skipped_by(draft: Draft, request: PromoteRequest, soak_end: datetime) -> str:
    left = soak_end - draft.now
    ended = (
        f"{format_duration(left)} of {draft.phase.name}'s {draft.phase.duration} soak skipped"
        if left > timedelta(0)
        else f"{draft.phase.name}'s soak had ended"
    )
    full = " --full" if request.full else ""
    option, held = _overriding(draft, request)
    return (
        f"`ramp promote --skip-soak{full}{option}` by {request.by}: {ended}"
        f"{_jumped(draft, request)}{held}"
    )


def _jumped(draft: Draft, request: PromoteRequest) -> str:
    """The phases a `--full` promotion skips, soak and gate."""
    skipped = [p.name for p in draft.spec.phases[draft.index + 1 :]] if request.full else []
    return f"; skipped {', '.join(skipped)}" if skipped else ""


def hold(draft: Draft, message: str) -> None:
    """Progressing, not yet promotable. A rollout that was awaiting approval goes back to
    Progressing only through a recorded transition (I7): a spec edit lengthened the soak, or a
    metric started to cross its critical threshold."""
    nxt = draft.next
    if nxt.phase == "AwaitingApproval":
        draft.transition("Progressing", "Held", message, notify=False)
    elif nxt.phase != "Progressing" or nxt.message != message:
        nxt.phase = "Progressing"
        nxt.message = message


def promote(draft: Draft, past: int, *, by: str) -> None:
    """Leave phase ``past`` for the next one, or complete after the last."""
    spec, nxt = draft.spec, draft.next
    last = len(spec.phases) - 1
    if past >= last:
        draft.at(last)
        serve_phase(nxt, spec.phases[last])
        nxt.next_promotion_at = None
        nxt.paused_at = None
        draft.transition(
            "Completed",
            "Completed",
            f"completed at {phase_exposure(spec.phases[last])} ({by})",
        )
        return
    draft.start_phase(past + 1)
    draft.transition(
        "Progressing",
        "Promoted",
        f"promoted to {draft.phase.name} at {phase_exposure(draft.phase)} ({by})",
    )
