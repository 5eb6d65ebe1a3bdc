"""The rollout state machine: `decide(spec, status, now, observations)` -> next status + effects.

Pure: no I/O, no clock. Every rule of "Behaviour users rely on" (DESIGN.md) is here; the shell
only gathers observations and applies what comes back. docs/behaviour.md tells the same rules
in words, including what a spec edit in the middle of a rollout does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ramp.api.spec import Phase, RolloutSpec, Transition
from ramp.api.status import (
    Condition,
    Control,
    HistoryEntry,
    MetricValue,
    Request,
    RolloutPhase,
    RolloutStatus,
    Snapshot,
    WorkerScale,
)
from ramp.engine.effects import (
    Effect,
    Notify,
    PublishFlag,
    RecordEvent,
    RestartConsumers,
    RestoreWorkers,
    ScaleWorkers,
    WorkerTarget,
)
from ramp.engine.observations import Observations, WorkerObservation
from ramp.engine.thresholds import (
    Assessment,
    Breach,
    assess,
    baseline_metrics,
    effective_metrics,
    health_of,
)
from ramp.engine.workers import worker_key

HISTORY_LIMIT = 20
"""Transitions kept in status.history; older ones are dropped first."""

ACTIVE: tuple[RolloutPhase, ...] = ("Pending", "Progressing", "Paused", "AwaitingApproval")


@dataclass(frozen=True)
class Decision:
    status: RolloutStatus
    """The next status, complete."""

    effects: tuple[Effect, ...]
    """What the shell must make true, in order."""


def format_percentage(value: float) -> str:
    """25 -> "25", 12.5 -> "12.5", 33.33 -> "33.33" (what apps read in env)."""
    return f"{round(value, 2):g}"


def flag_revision(enabled: bool, percentage: float) -> str:
    """Digest of the published values: changes exactly when what env consumers read changes."""
    text = f"enabled={str(enabled).lower()};percentage={format_percentage(percentage)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _phase_index(spec: RolloutSpec, status: RolloutStatus) -> int:
    """The spec phase the status refers to. A spec edit keeps the rollout in the phase of the
    same name; when that name is gone, in the last phase whose percentage is not above the one
    published (never exposing more users than before the edit)."""
    names = [p.name for p in spec.phases]
    if status.current_phase in names:
        return names.index(status.current_phase)
    if status.current_phase is None:
        return 0
    published = status.percentage or 0.0
    index = 0
    for i, phase in enumerate(spec.phases):
        if phase.percentage <= published:
            index = i
    return index


class _Step:
    """The decision under construction: a working copy of the status and the effects."""

    def __init__(self, spec: RolloutSpec, status: RolloutStatus, now: datetime) -> None:
        self.spec = spec
        self.now = now
        self.before = status
        self.next = status.model_copy(deep=True)
        self.announcements: list[Effect] = []
        self.index = min(_phase_index(spec, status), len(spec.phases) - 1)

    @property
    def phase(self) -> Phase:
        return self.spec.phases[self.index]

    def at(self, index: int) -> None:
        self.index = index
        self.next.current_phase_index = index
        self.next.current_phase = self.spec.phases[index].name

    def transition(
        self,
        phase: RolloutPhase,
        reason: Transition | str,
        message: str,
        *,
        warning: bool = False,
        metric: str | None = None,
        notify: bool = True,
    ) -> None:
        self.next.phase = phase
        self.next.message = message
        percentage = self.next.percentage or 0.0
        self.announcements.append(
            RecordEvent("Warning" if warning else "Normal", str(reason), message)
        )
        if notify:
            self.announcements.append(
                Notify(str(reason), message, self.next.current_phase, percentage, metric)
            )
        history = list(self.next.history or [])
        history.append(
            HistoryEntry(
                time=self.now,
                phase=phase,
                step=self.next.current_phase,
                percentage=percentage,
                reason=str(reason),
                message=message,
            )
        )
        self.next.history = history[-HISTORY_LIMIT:]

    @property
    def control(self) -> Control:
        if self.next.control is None:
            self.next.control = Control()
        return self.next.control

    def tidy_control(self) -> None:
        control = self.next.control
        if control is not None and not control.model_dump(exclude_none=True):
            self.next.control = None

    def start_phase(self, index: int) -> None:
        self.at(index)
        self.next.percentage = self.phase.percentage
        self.next.phase_started_at = self.now
        self.next.paused_at = None


def decide(
    spec: RolloutSpec,
    status: RolloutStatus,
    now: datetime,
    seen: Observations,
    *,
    generation: int | None = None,
) -> Decision:
    """The whole rollout policy: pure, deterministic, no clock, no I/O."""
    step = _Step(spec, status, now)
    nxt = step.next
    if generation is not None:
        nxt.observed_generation = generation
    if nxt.phase is None:
        nxt.phase = "Pending"
        nxt.percentage = 0.0
    if nxt.phase in ("Progressing", "Paused", "AwaitingApproval", "Disabled"):
        step.at(step.index)
        if nxt.phase != "Disabled":
            nxt.percentage = step.phase.percentage
    elif nxt.phase in ("Completed", "RolledBack") and nxt.current_phase is not None:
        step.at(step.index)

    assessment = _analyse(step, seen)
    _steer(step, assessment, seen)
    for metric in assessment.new_warnings:
        message = f"{metric.name}: {metric.message}"
        step.announcements.append(RecordEvent("Warning", "Warning", message))
        step.announcements.append(
            Notify("Warning", message, nxt.current_phase, nxt.percentage or 0.0, metric.name)
        )
    step.tidy_control()

    targets, restore = _workers(step, seen.workers)
    missing = sorted(m for w in seen.workers.values() for m in w.missing)
    _announce_missing(step, missing)
    nxt.health = health_of(nxt.metrics) if spec.analysis else None
    nxt.conditions = _conditions(step, missing)
    if nxt.phase != "Progressing":
        nxt.next_promotion_at = None

    enabled = bool(nxt.enabled)
    percentage = nxt.percentage or 0.0
    effects: list[Effect] = [PublishFlag(enabled, percentage)]
    if targets:
        effects.append(ScaleWorkers(targets))
    if restore:
        effects.append(RestoreWorkers(restore))
    if spec.flag.restart_on_change:
        effects.append(RestartConsumers(flag_revision(enabled, percentage)))
    effects.extend(step.announcements)
    return Decision(nxt, tuple(effects))


def _analyse(step: _Step, seen: Observations) -> Assessment:
    spec, nxt = step.spec, step.next
    if spec.analysis is None:
        nxt.metrics = None
        return Assessment(())
    metrics = effective_metrics(spec, step.index)
    samples = seen.metrics if nxt.phase in ACTIVE else None
    baseline = dict(nxt.baseline or {})
    if samples is not None and nxt.phase == "Pending":
        for metric in baseline_metrics(spec):
            sample = samples.get(metric.name)
            if metric.name not in baseline and sample is not None and sample.value is not None:
                baseline[metric.name] = sample.value
        nxt.baseline = baseline or None
    assessment = assess(
        metrics, nxt.metrics or [], samples, step.now, baseline, spec.analysis.error_limit
    )
    if samples is not None:
        nxt.metrics = list(assessment.metrics)
        nxt.last_analysis_at = step.now
    return assessment


def _steer(step: _Step, assessment: Assessment, seen: Observations) -> None:
    spec, nxt, now = step.spec, step.next, step.now
    control = nxt.control or Control()
    phase = nxt.phase

    if not spec.enabled:
        if phase != "Disabled":
            nxt.paused_at = nxt.paused_at or now
            nxt.percentage = 0.0
            nxt.enabled = False
            nxt.next_promotion_at = None
            step.transition("Disabled", "Disabled", "spec.enabled is false: publishing 0 %")
        return
    if phase == "Disabled":
        _enable(step)
        phase = nxt.phase

    if control.abort is not None:
        step.control.abort = None
        step.control.promote = None
        if phase in ACTIVE:
            _roll_back(step, None, zero=True)
            return
    if control.retry is not None:
        step.control.retry = None
        if phase in ("RolledBack", "Failed"):
            _retry(step)
            phase = nxt.phase

    if phase == "Completed":
        last = len(spec.phases) - 1
        step.at(last)
        nxt.percentage = spec.phases[last].percentage
        nxt.enabled = True
        return
    if phase == "RolledBack":
        return
    if phase == "Failed":
        return

    nxt.enabled = True
    if phase == "Pending":
        waiting = [m.name for m in baseline_metrics(spec) if m.name not in (nxt.baseline or {})]
        if waiting:
            nxt.percentage = 0.0
            nxt.message = f"capturing the baseline of {', '.join(waiting)} before the first phase"
            return
        step.start_phase(0)
        nxt.next_promotion_at = now + step.phase.soak
        _forget_windows(step)
        step.transition(
            "Progressing",
            "Started",
            f"started: {step.phase.name} at {format_percentage(step.phase.percentage)} %",
        )
        phase = "Progressing"
    elif assessment.breach is not None:
        _fail(step, assessment)
        return

    pause_reason = _pause_reason(spec, control, assessment, nxt.snapshot)
    if pause_reason is not None:
        reason, message = pause_reason
        if phase != "Paused" or nxt.message != message:
            nxt.paused_at = nxt.paused_at or now
            nxt.next_promotion_at = None
            step.transition("Paused", "Paused", message, notify=reason != "NoData")
        return
    if phase == "Paused":
        _unpause(step)
        step.transition("Progressing", "Resumed", f"resumed {step.phase.name}")

    _progress(step, control, assessment, seen)


def _pause_reason(
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


def failure_pause_message(breach: str | None) -> str:
    """The one message of a rollout paused by `failurePolicy.action: Pause`, naming the breach."""
    what = breach or "a critical breach"
    return f"paused by failurePolicy: {what}; fix it, then `ramp resume`"


def _unpause(step: _Step) -> None:
    """Give back the paused time: the phase resumes with the soak it had left."""
    nxt = step.next
    if nxt.paused_at is not None and nxt.phase_started_at is not None:
        nxt.phase_started_at = nxt.phase_started_at + max(step.now - nxt.paused_at, timedelta(0))
    nxt.paused_at = None


def _enable(step: _Step) -> None:
    nxt = step.next
    resumed: RolloutPhase = "Progressing"
    for entry in reversed(nxt.history or []):
        if entry.phase != "Disabled":
            resumed = entry.phase
            break
    nxt.enabled = True
    if resumed in ("Completed", "RolledBack"):
        nxt.paused_at = None
        last = next(e for e in reversed(nxt.history or []) if e.phase == resumed)
        nxt.percentage = (
            step.spec.phases[-1].percentage if resumed == "Completed" else last.percentage
        )
        step.transition(resumed, "Enabled", "spec.enabled is true again")
        return
    if resumed == "Pending" or nxt.phase_started_at is None:
        nxt.phase = "Pending"
        nxt.paused_at = None
        nxt.percentage = 0.0
        step.transition("Pending", "Enabled", "spec.enabled is true again")
        return
    _unpause(step)
    nxt.percentage = step.phase.percentage
    step.transition(
        "Progressing", "Enabled", f"spec.enabled is true again: resuming {step.phase.name}"
    )


def _progress(step: _Step, control: Control, assessment: Assessment, seen: Observations) -> None:
    spec, nxt, now = step.spec, step.next, step.now
    current = step.phase
    started = nxt.phase_started_at or now
    soak_end = started + current.soak
    nxt.next_promotion_at = soak_end
    nxt.percentage = current.percentage

    request = control.promote
    if request is not None:
        step.control.promote = None
        if request.phase_index == step.index:
            target = len(spec.phases) - 1 if request.full else step.index
            _promote(step, target, by="`ramp promote`")
            return

    pct = format_percentage(current.percentage)
    if now < soak_end:
        message = f"{current.name} at {pct} % soaks until {stamp(soak_end)}"
        if nxt.phase != "Progressing" or nxt.message != message:
            nxt.phase = "Progressing"
            nxt.message = message
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
        nxt.phase = "Progressing"
        nxt.message = f"holding {current.name} at {pct} %: {'; '.join(holds)}"
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
    _promote(step, step.index, by="soak passed healthy")


def _promote(step: _Step, past: int, *, by: str) -> None:
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
    nxt.next_promotion_at = step.now + step.phase.soak
    step.transition(
        "Progressing",
        "Promoted",
        f"promoted to {step.phase.name} at {format_percentage(step.phase.percentage)} % ({by})",
    )


def _snapshot(step: _Step, breach: Breach) -> Snapshot:
    nxt = step.next
    return Snapshot(
        taken_at=step.now,
        reason=breach.message,
        step=nxt.current_phase,
        percentage=nxt.percentage or 0.0,
        metrics=[
            MetricValue(name=m.name, value=m.value, verdict=m.verdict) for m in nxt.metrics or []
        ],
    )


def _fail(step: _Step, assessment: Assessment) -> None:
    breach = assessment.breach
    assert breach is not None
    policy = step.spec.failure_policy
    step.next.snapshot = _snapshot(step, breach)
    if policy.action == "Pause":
        held = step.next.control.pause if step.next.control else None
        if step.next.phase == "Paused" and held is not None and held.by == "failurePolicy":
            return
        step.control.pause = Request(requested_at=step.now, by="failurePolicy")
        step.next.paused_at = step.next.paused_at or step.now
        step.next.next_promotion_at = None
        if policy.disable_flag:
            step.next.enabled = False
        step.transition(
            "Paused",
            "Paused",
            failure_pause_message(breach.message),
            warning=True,
            metric=breach.metric,
        )
        return
    _roll_back(step, breach, zero=policy.rollback_to == "Zero")


def _roll_back(step: _Step, breach: Breach | None, *, zero: bool) -> None:
    spec, nxt = step.spec, step.next
    failed = step.phase.name
    nxt.rolled_back_from = failed
    nxt.next_promotion_at = None
    nxt.paused_at = None
    if step.control.pause is not None:
        step.control.pause = None
    if breach is not None and spec.failure_policy.disable_flag:
        nxt.enabled = False
    if zero or step.index == 0:
        step.at(0)
        nxt.percentage = 0.0
    else:
        step.at(step.index - 1)
        nxt.percentage = step.phase.percentage
    pct = format_percentage(nxt.percentage)
    if breach is None:
        message = f"aborted in {failed}: rolled back to {pct} %; `ramp retry` starts again"
    else:
        message = f"rolled back from {failed} to {pct} %: {breach.message}"
    step.transition(
        "RolledBack",
        "RolledBack",
        message,
        warning=True,
        metric=breach.metric if breach else None,
    )


def _retry(step: _Step) -> None:
    nxt = step.next
    nxt.control = None
    nxt.rolled_back_from = None
    nxt.enabled = True
    nxt.metrics = None
    nxt.last_analysis_at = None
    step.start_phase(step.index)
    nxt.next_promotion_at = step.now + step.phase.soak
    step.transition(
        "Progressing",
        "Retried",
        f"retrying from {step.phase.name} at {format_percentage(step.phase.percentage)} %",
    )


def _forget_windows(step: _Step) -> None:
    """Breach windows start afresh with a new exposure (first phase, retry)."""
    nxt = step.next
    nxt.metrics = [
        m.model_copy(
            update={"critical_since": None, "warning_since": None, "consecutive_errors": 0}
        )
        for m in nxt.metrics or []
    ] or None


def _worker_plan(step: _Step) -> tuple[int | None, bool]:
    """Which phase's worker scale applies (None: none), and whether originals are restored."""
    nxt = step.next
    if nxt.phase in ("Progressing", "Paused", "AwaitingApproval", "Disabled"):
        return step.index, False
    if nxt.phase == "RolledBack" and (nxt.percentage or 0) > 0:
        return step.index, False
    if nxt.phase in ("Completed", "RolledBack"):
        return None, True
    return None, False


def _workers(
    step: _Step, seen: Mapping[str, WorkerObservation]
) -> tuple[dict[str, WorkerTarget], dict[str, WorkerTarget]]:
    """Worker targets for now, recording originals before the first change; restoration at the
    end, dropping an original once the worker has it back."""
    spec, nxt = step.spec, step.next
    if not spec.workers:
        return {}, {}
    index, restore = _worker_plan(step)
    originals = dict(nxt.worker_originals or {})
    targets: dict[str, WorkerTarget] = {}
    restores: dict[str, WorkerTarget] = {}
    wanted = None
    if index is not None:
        for phase in spec.phases[: index + 1]:
            if phase.workers is not None:
                wanted = phase.workers
    for worker in spec.workers:
        key = worker_key(worker)
        observed = seen.get(key)
        if wanted is not None:
            if key not in originals and observed is not None and not observed.missing:
                originals[key] = WorkerScale(
                    replicas=observed.replicas if worker.deployment and not worker.hpa else None,
                    min_replicas=observed.min_replicas if worker.hpa else None,
                    max_replicas=observed.max_replicas if worker.hpa else None,
                )
            if key in originals:
                targets[key] = WorkerTarget(
                    replicas=wanted.replicas if not worker.hpa else None,
                    min_replicas=wanted.min_replicas if worker.hpa else None,
                    max_replicas=wanted.max_replicas if worker.hpa else None,
                )
        elif restore and key in originals:
            original = originals[key].to_target()
            if observed is None or observed.missing or _matches(observed, original):
                del originals[key]  # given back, or gone: nothing is left to restore
            else:
                restores[key] = original
    nxt.worker_originals = originals or None
    return targets, restores


def _matches(observed: WorkerObservation, target: WorkerTarget) -> bool:
    return all(
        want is None or want == have
        for want, have in (
            (target.replicas, observed.replicas),
            (target.min_replicas, observed.min_replicas),
            (target.max_replicas, observed.max_replicas),
        )
    )


def _announce_missing(step: _Step, missing: list[str]) -> None:
    before = next((c for c in step.before.conditions or [] if c.type == "WorkersReady"), None)
    if missing and (before is None or before.status != "False"):
        message = f"{', '.join(missing)} not found in the Rollout's namespace"
        step.announcements.append(RecordEvent("Warning", "WorkerNotFound", message))


def _condition(step: _Step, type_: str, status: bool, reason: str, message: str) -> Condition:
    before = next((c for c in step.before.conditions or [] if c.type == type_), None)
    value = "True" if status else "False"
    changed = before is None or before.status != value
    return Condition(
        type=type_,
        status=value,
        reason=reason,
        message=message,
        last_transition_time=step.now if changed or before is None else before.last_transition_time,
        observed_generation=step.next.observed_generation,
    )


def _conditions(step: _Step, missing: list[str]) -> list[Condition]:
    nxt = step.next
    phase = nxt.phase or "Pending"
    message = nxt.message or ""
    health = nxt.health
    conditions = [
        _condition(step, "Progressing", phase in ACTIVE, phase, message),
        _condition(
            step,
            "Healthy",
            health in (None, "Healthy", "Unknown"),
            health or "NoAnalysis",
            "; ".join(f"{m.name}: {m.message}" for m in nxt.metrics or [] if m.verdict != "Pass")
            or ("all metrics within thresholds" if health else "no analysis configured"),
        ),
        _condition(step, "Paused", phase in ("Paused", "Disabled"), phase, message),
        _condition(step, "Completed", phase == "Completed", phase, message),
    ]
    if step.spec.workers:
        conditions.append(
            _condition(
                step,
                "WorkersReady",
                not missing,
                "WorkerNotFound" if missing else "Found",
                f"{', '.join(missing)} not found" if missing else "all workers found",
            )
        )
    return conditions
