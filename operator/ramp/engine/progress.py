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
from ramp.engine.effects import PublishFlag
from ramp.engine.failure import fail, failure_pause_message, forget_windows
from ramp.engine.observations import Observations
from ramp.engine.published import format_percentage, serves, stamp
from ramp.engine.step import SOAKING, Step
from ramp.engine.thresholds import Assessment, baseline_metrics


def never_started(step: Step) -> bool:
    return step.next.phase_started_at is None


def advance(step: Step, assessment: Assessment, seen: Observations) -> None:
    """Steer a rollout that is Pending, Progressing, Paused or AwaitingApproval."""
    spec, nxt = step.spec, step.next
    control = nxt.control or Control()
    nxt.enabled = nxt.flag_disabled_at is None
    pause = pause_reason(spec, control, assessment, nxt.snapshot)

    if nxt.phase == "Pending" or never_started(step):
        if pause is not None and pause[0] != "NoData":
            # I3: created (or paused while) Pending: nobody is exposed and nothing starts.
            nxt.percentage = 0.0
            message = f"{pause[1]}; nothing starts until then"
            if nxt.phase != "Paused" or nxt.message != message:
                step.transition("Paused", "Paused", message)
            return
        paused = nxt.phase == "Paused"
        nxt.phase = "Pending"
        waiting = [m.name for m in baseline_metrics(spec) if m.name not in (nxt.baseline or {})]
        # I3b: nobody is exposed before the analysis has been answered and every worker
        # exists; a rollout that cannot be checked waits at 0 %, not in its first phase.
        waits = start_waits(step, seen)
        if waiting or waits:
            nxt.percentage = 0.0
            message = (
                f"capturing the baseline of {', '.join(waiting)} before the first phase"
                if waiting
                else f"{WAITING_TO_START}: {'; '.join(waits)}; the first phase starts by "
                "itself once this holds"
            )
            if paused:  # the pause ended, and the rollout is waiting again: I7
                step.transition("Pending", "Resumed", message, notify=False)
            else:
                nxt.message = message
            return
        step.start_phase(0)
        forget_windows(step)
        step.transition(
            "Progressing",
            "Started",
            f"started: {step.phase.name} at {format_percentage(step.phase.percentage)} %",
        )
    elif assessment.breach is not None:
        if resumed(step):
            # I7: what the resume did (resumed, or held by something else) is recorded before
            # the breach that goes on applies the failure policy again; else a pause the resume
            # ended would be recorded twice in a row.
            hold_or_resume(step, pause)
        fail(step, assessment.breach)
        return

    if not hold_or_resume(step, pause):
        progress(step, control, assessment, seen)


def start_waits(step: Step, seen: Observations) -> list[str]:
    """What the first phase waits for: every named worker to exist, and every metric to have
    been answered without an error (no data is an answer; its policy applies once started)."""
    waits = []
    missing = sorted(m for w in seen.workers.values() for m in w.missing)
    if missing:
        waits.append(f"{', '.join(missing)} not found in the Rollout's namespace")
    if step.spec.analysis is not None:
        readings = {m.name: m for m in step.next.metrics or []}
        for metric in step.spec.analysis.metrics:
            reading = readings.get(metric.name)
            if reading is None:
                waits.append(f"{metric.name} has not been analysed yet")
            elif reading.verdict == "Error":
                waits.append(f"{metric.name} {reading.message}")
    return waits


def resumed(step: Step) -> bool:
    """Whether this decision takes a `ramp resume` (guards.take_resume consumed it)."""
    control = step.before.control
    return control is not None and control.resume is not None


def hold_or_resume(step: Step, pause: tuple[str, str] | None) -> bool:
    """Paused while something holds the rollout, resumed once nothing does; True while held."""
    nxt = step.next
    if pause is not None:
        reason, message = pause
        if nxt.phase != "Paused" or nxt.message != message:
            nxt.paused_at = nxt.paused_at or step.now
            nxt.next_promotion_at = None
            step.transition("Paused", "Paused", message, notify=reason != "NoData")
        return True
    if nxt.phase == "Paused":
        unpause(step)
        nxt.flag_disabled_at = None  # only `ramp resume` ends a failure-policy pause: I2
        nxt.enabled = True
        step.transition("Progressing", "Resumed", f"resumed {step.phase.name}")
    return False


def pause_reason(
    spec: RolloutSpec, control: Control, assessment: Assessment, snapshot: Snapshot | None
) -> tuple[str, str] | None:
    if control.pause is not None:
        if control.pause.by == "failurePolicy":
            return "CriticalBreach", failure_pause_message(snapshot.reason if snapshot else None)
        return "UserPaused", "paused by `ramp pause`; `ramp resume` continues"
    if spec.paused:
        return "SpecPaused", "paused: spec.paused is true"
    if assessment.no_data:
        return "NoData", f"holding: no data for {', '.join(assessment.no_data)} (onNoData: Pause)"
    return None


def unpause(step: Step) -> None:
    """Give back the paused time: the phase resumes with the soak it had left."""
    nxt = step.next
    if nxt.paused_at is not None and nxt.phase_started_at is not None:
        nxt.phase_started_at = nxt.phase_started_at + max(step.now - nxt.paused_at, timedelta(0))
    nxt.paused_at = None


def account_served(step: Step, published: PublishFlag | None) -> None:
    """I10: stop the soak clock while the ConfigMap does not serve the status's values, and
    give the unserved time back once it does."""
    nxt, now = step.next, step.now
    wanted = publish_of(step.spec, nxt)
    counting = nxt.phase in SOAKING and nxt.phase_started_at is not None
    served = serves(published, wanted)
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


def progress(step: Step, control: Control, assessment: Assessment, seen: Observations) -> None:
    spec, nxt, now = step.spec, step.next, step.now
    current = step.phase
    started = nxt.phase_started_at or now
    soak_end = started + current.soak
    nxt.next_promotion_at = soak_end
    nxt.percentage = current.percentage

    request = take_promote(step, control.promote)
    if request is not None and request.skip_soak:
        # I13: the one way out of a phase before its soak ends, recorded with who asked.
        promote(step, promote_target(step, request), by=skipped_by(step, request, soak_end))
        return

    pct = format_percentage(current.percentage)
    if nxt.awaiting_publish_since is not None:
        drop_approval(step, request, f"ConfigMap {spec.flag.config_map} does not serve it yet")
        if nxt.phase == "Progressing":
            nxt.message = (
                f"{current.name} at {pct} %: waiting for ConfigMap {spec.flag.config_map} to "
                "serve it; the soak counts from then"
            )
        return
    if now < soak_end:
        drop_approval(step, request, f"it soaks until {stamp(soak_end)}")
        hold(step, f"{current.name} at {pct} % soaks until {stamp(soak_end)}")
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
        drop_approval(step, request, f"it is held: {'; '.join(holds)}")
        hold(step, f"holding {current.name} at {pct} %: {'; '.join(holds)}")
        return
    if request is not None and (current.approval == "Manual" or request.full):
        # I13: the gate opens for the approval of this phase, once its soak passed healthy.
        promote(step, promote_target(step, request), by=approved_by(step, request))
        return
    if current.approval == "Manual":
        nxt.next_promotion_at = None
        if nxt.phase != "AwaitingApproval":
            step.transition(
                "AwaitingApproval",
                "AwaitingApproval",
                f"{current.name} at {pct} % is healthy and waits for `ramp promote`",
            )
        return
    promote(step, step.index, by="soak passed healthy")


def take_promote(step: Step, request: PromoteRequest | None) -> PromoteRequest | None:
    """Consume the `ramp promote` in status.control: the request for the current phase, or None.

    A request names the phase it was asked at, so a repeated or late one (asked before the
    rollout left that phase, or for a phase a spec edit renamed) is dropped, never taken as the
    approval of the next phase. A soak skip that does not say who asked is dropped too (I13)."""
    if request is None:
        return None
    step.control.promote = None
    if request.phase_index != step.index or request.phase not in (None, step.phase.name):
        asked = request.phase or f"phase {request.phase_index}"
        step.announce(
            "Normal",
            "PromoteDropped",
            f"`ramp promote` asked at {asked} dropped: the rollout is in {step.phase.name} now",
            notify=False,
        )
        return None
    if request.skip_soak and not request.by:
        step.announce(
            "Warning",
            "PromoteDropped",
            f"`ramp promote --skip-soak` of {step.phase.name} dropped: status.control.promote.by "
            "does not say who asked",
            notify=False,
        )
        return None
    return request


def drop_approval(step: Step, request: PromoteRequest | None, why: str) -> None:
    """A `ramp promote` approves a phase that awaits approval; one that reaches the operator
    while the phase soaks or is held is dropped, and the Event says why."""
    if request is None:
        return
    step.announce(
        "Normal",
        "PromoteDropped",
        f"`ramp promote` of {step.phase.name} dropped: {why}; it approves a phase that awaits "
        "approval, and `ramp promote --skip-soak` promotes now",
        notify=False,
    )


def promote_target(step: Step, request: PromoteRequest) -> int:
    return len(step.spec.phases) - 1 if request.full else step.index


def approved_by(step: Step, request: PromoteRequest) -> str:
    who = f" by {request.by}" if request.by else ""
    return f"`ramp promote{' --full' if request.full else ''}`{who}{_jumped(step, request)}"


def skipped_by(step: Step, request: PromoteRequest, soak_end: datetime) -> str:
    left = soak_end - step.now
    ended = (
        f"{format_duration(left)} of {step.phase.name}'s {step.phase.duration} soak skipped"
        if left > timedelta(0)
        else f"{step.phase.name}'s soak had ended"
    )
    full = " --full" if request.full else ""
    return f"`ramp promote --skip-soak{full}` by {request.by}: {ended}{_jumped(step, request)}"


def _jumped(step: Step, request: PromoteRequest) -> str:
    """The phases a `--full` promotion skips, soak and gate."""
    skipped = [p.name for p in step.spec.phases[step.index + 1 :]] if request.full else []
    return f"; skipped {', '.join(skipped)}" if skipped else ""


def hold(step: Step, message: str) -> None:
    """Progressing, not yet promotable. A rollout that was awaiting approval goes back to
    Progressing only through a recorded transition (I7): a spec edit lengthened the soak, or a
    metric started to cross its critical threshold."""
    nxt = step.next
    if nxt.phase == "AwaitingApproval":
        step.transition("Progressing", "Held", message, notify=False)
    elif nxt.phase != "Progressing" or nxt.message != message:
        nxt.phase = "Progressing"
        nxt.message = message


def promote(step: Step, past: int, *, by: str) -> None:
    """Leave phase ``past`` for the next one, or complete after the last."""
    spec, nxt = step.spec, step.next
    last = len(spec.phases) - 1
    if past >= last:
        step.at(last)
        nxt.percentage = spec.phases[last].percentage
        nxt.next_promotion_at = None
        nxt.paused_at = None
        step.transition(
            "Completed",
            "Completed",
            f"completed at {format_percentage(nxt.percentage)} % ({by})",
        )
        return
    step.start_phase(past + 1)
    step.transition(
        "Progressing",
        "Promoted",
        f"promoted to {step.phase.name} at {format_percentage(step.phase.percentage)} % ({by})",
    )
