"""The rollout state machine: `decide(spec, status, now, observations)` -> next status + effects.

Pure: no I/O, no clock. The rules live in modules named for them: `guards` (toggle, abort,
retry, terminal phases), `progress` (start, soak, pause, promote), `failure` (failurePolicy,
rollback, step-down), `thresholds` (verdicts), `bucketing` (the scheme kept while in flight),
`workers`, `conditions`, `outbox`. docs/behaviour.md tells the same rules in words, with the
safety invariants (I1..I11) they keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ramp.api.rollout_policy import PolicyStatus
from ramp.api.spec import RolloutSpec
from ramp.api.status import Announcement, RolloutStatus
from ramp.engine.bucketing import keep_scheme, publish_of, scheme_message
from ramp.engine.conditions import (
    AUDIENCES_NOT_IN_ENV,
    build_conditions,
    env_without_audiences,
    was_false,
)
from ramp.engine.draft import Draft, analysing
from ramp.engine.effects import (
    Effect,
    PublishFlag,
    RestartConsumers,
    RestoreWorkers,
    ScaleWorkers,
)
from ramp.engine.exposure import (
    describe_exposure,
    exposes_anyone,
    not_above,
    serve_at_most,
    serve_nobody,
    serve_phase,
    served_column,
)
from ramp.engine.failure import take_spec_change
from ramp.engine.guards import (
    disabled_from,
    hold_disabled,
    hold_terminal,
    take_requests,
    take_resume,
)
from ramp.engine.observations import Observations
from ramp.engine.outbox import settle
from ramp.engine.phases import ENDED, HELD, UNDER_WAY, UNSTARTED
from ramp.engine.progress import account_served, advance
from ramp.engine.published import flag_revision, serves
from ramp.engine.served import served_condition, track_served
from ramp.engine.thresholds import (
    Assessment,
    assess,
    baseline_metrics,
    effective_metrics,
    health_of,
)
from ramp.engine.workers import plan_workers


def take_policy(draft: Draft, seen: Observations) -> None:
    """status.policy: the RolloutPolicy the spec was merged with, as the shell resolved it."""
    policy = seen.policy
    if policy is None:
        draft.next.policy = None
        return
    draft.next.policy = PolicyStatus(
        name=policy.name, generation=policy.generation, contributed=list(policy.contributed)
    )
    if policy.problem is not None:
        draft.policy_problem = (policy.reason, policy.problem)


@dataclass(frozen=True)
class Decision:
    status: RolloutStatus
    """The next status, complete."""

    effects: tuple[Effect, ...]
    """What the shell must make true, in order."""

    announced: tuple[Announcement, ...] = ()
    """Announcements this decision made; they wait in status.outbox until delivered."""


def decide(
    spec: RolloutSpec,
    status: RolloutStatus,
    now: datetime,
    seen: Observations,
    *,
    generation: int | None = None,
) -> Decision:
    """The whole rollout policy: pure, deterministic, no clock, no I/O."""
    draft = Draft(spec, status, now)
    nxt = draft.next
    if generation is not None:
        if status.observed_generation not in (None, generation):
            take_spec_change(draft)
        nxt.observed_generation = generation
    nxt.outbox = settle(nxt.outbox, seen.delivered)
    take_policy(draft, seen)
    _align(draft)
    keep_scheme(draft, seen.published)
    track_served(draft, seen.served)
    account_served(draft, seen.published)

    if seen.config_map_owner is not None:
        return _refuse_config_map(draft, seen.config_map_owner, seen.config_map_clash)

    take_resume(draft)
    assessment = _analyse(draft, seen)
    if (
        not hold_disabled(draft)
        and not take_requests(draft)
        and not hold_terminal(draft, assessment)
    ):
        advance(draft, assessment, seen)
    for metric in assessment.new_warnings:
        draft.announce("Warning", "Warning", f"{metric.name}: {metric.message}", metric=metric.name)
    draft.tidy_control()
    keep_scheme(draft, seen.published)
    track_served(draft, None)
    account_served(draft, seen.published)

    plan = plan_workers(draft, seen.workers, seen.drains)
    missing = sorted(m for w in seen.workers.values() for m in w.missing)
    if missing and not was_false(draft, "WorkersReady", "WorkerNotFound"):
        draft.announce(
            "Warning",
            "WorkerNotFound",
            f"{', '.join(missing)} not found in the Rollout's namespace",
            notify=False,
        )
    if plan.contested and not was_false(draft, "WorkersReady", "WorkerContested"):
        draft.announce(
            "Warning",
            "WorkerContested",
            f"{', '.join(plan.contested)} kept being changed back from the scale Ramp set; "
            "Ramp stopped setting it",
            notify=False,
        )
    nxt.health = health_of(nxt.metrics) if spec.analysis else None
    nxt.served = served_column(nxt)
    enabled = bool(nxt.enabled)
    percentage = nxt.percentage or 0.0
    wanted = publish_of(spec, nxt)
    note = env_without_audiences(draft)
    if note is not None and not any(c.type == "EnvKeysComplete" for c in nxt.conditions or []):
        draft.announce("Warning", AUDIENCES_NOT_IN_ENV, note, notify=False)
    nxt.conditions = build_conditions(
        draft, missing=missing, contested=plan.contested, published=_published(draft, seen, wanted)
    ) + served_condition(draft)
    if nxt.phase != "Progressing":
        nxt.next_promotion_at = None

    effects: list[Effect] = [wanted]
    if plan.targets:
        effects.append(ScaleWorkers(plan.targets))
    if plan.restores:
        effects.append(RestoreWorkers(plan.restores))
    if spec.flag.restart_on_change:
        effects.append(RestartConsumers(flag_revision(enabled, percentage)))
    return _decision(draft, effects)


def _decision(draft: Draft, effects: list[Effect]) -> Decision:
    before = draft.before.sequence or 0
    announced = tuple(a for a in draft.next.outbox or [] if a.seq > before)
    return Decision(draft.next, tuple(effects), announced)


def _align(draft: Draft) -> None:
    """Bring the status in line with the spec in force (a spec edit may rename or re-weigh the
    current phase)."""
    nxt = draft.next
    if nxt.phase is None:
        nxt.phase = "Pending"
        serve_nobody(nxt)
    started = nxt.phase_started_at is not None
    moving = nxt.phase in UNDER_WAY or (nxt.phase == "Disabled" and disabled_from(nxt) not in ENDED)
    if started and moving and _orphaned(draft):
        _start_over(draft)
        return
    if nxt.phase in HELD and started:
        removed = nxt.current_phase
        moved = removed not in [p.name for p in draft.spec.phases]
        draft.at(draft.index)
        if moved:
            # Another phase took the place of one edited away: it soaks from now, on its own
            # terms (its gate, its duration), never on the time spent in the one removed.
            nxt.phase_started_at = draft.now
            nxt.paused_at = draft.now if nxt.paused_at is not None else None
            if nxt.phase == "AwaitingApproval":
                message = f"phase {removed} was edited away; {draft.phase.name} soaks from now"
                draft.transition("Progressing", "Held", message, notify=False)
        if nxt.phase != "Disabled":
            held = (
                draft.spec.paused
                or nxt.phase == "Paused"
                or (nxt.control is not None and nxt.control.pause is not None)
            )
            # While held, an edit may lower the phase's percentage (or take audiences away)
            # but not raise it (I4); the raise comes with the resume.
            if held:
                serve_at_most(nxt, draft.phase)
            else:
                serve_phase(nxt, draft.phase)
    elif nxt.phase in ENDED and nxt.current_phase is not None:
        draft.at(draft.index)


def _orphaned(draft: Draft) -> bool:
    """The current phase was edited away and every phase left is above what is published
    (nobody while disabled): no phase can take its place without exposing more users (I1)."""
    nxt, spec = draft.next, draft.spec
    published, audiences = nxt.percentage or 0.0, nxt.audiences or []
    gone = nxt.current_phase not in [p.name for p in spec.phases]
    return gone and not any(not_above(p, published, audiences) for p in spec.phases)


def _start_over(draft: Draft) -> None:
    """Which phase to continue in is a person's call: fewer users in the meantime."""
    nxt = draft.next
    removed = nxt.current_phase
    before = describe_exposure(nxt.percentage or 0.0, nxt.audiences or [])
    nxt.rolled_back_from = removed
    nxt.paused_at = nxt.next_promotion_at = None
    if nxt.control is not None:
        nxt.control.promote = nxt.control.pause = None
    draft.at(0)
    serve_nobody(nxt)
    draft.transition(
        "RolledBack",
        "RolledBack",
        f"a spec edit removed phase {removed} and left only phases above {before}: rolled "
        "back to 0 %; `ramp retry` starts from the first phase",
        warning=True,
    )


def _published(draft: Draft, seen: Observations, wanted: PublishFlag) -> tuple[bool, str, str]:
    config_map = draft.spec.flag.config_map
    if serves(seen.published, wanted):
        scheme = scheme_message(draft.spec, draft.next)
        return True, "Served", f"ConfigMap {config_map} serves what status says ({scheme})"
    if seen.publish_error is not None:
        return False, "PublishFailed", seen.publish_error
    return False, "Publishing", f"ConfigMap {config_map} does not serve it yet"


def _refuse_config_map(draft: Draft, owner: str, clash: str | None) -> Decision:
    """Hole found by review: two Rollouts naming one ConfigMap overwrote each other. Rollouts
    share a ConfigMap with distinct flag and env keys; one whose key another holds is refused
    and writes nothing, until it names other keys or the owner is gone."""
    nxt = draft.next
    config_map = draft.spec.flag.config_map
    if clash is None:
        message = (
            f"spec.flag.configMap: ConfigMap {config_map} belongs to Rollout {owner}; this "
            "Rollout writes nothing to it. Name another ConfigMap, or delete that Rollout"
        )
    else:
        message = (
            f"{clash} in ConfigMap {config_map} (spec.flag.configMap) belongs to Rollout "
            f"{owner}; this Rollout writes nothing to it. Name another key or ConfigMap, or "
            "delete that Rollout"
        )
    if nxt.message != message:
        nxt.message = message
        draft.announce("Warning", "ConfigMapConflict", message, notify=False)
    conditions = build_conditions(
        draft, missing=[], contested=(), published=(False, "ConfigMapConflict", message)
    )
    nxt.conditions = conditions
    return _decision(draft, [])


def _analyse(draft: Draft, seen: Observations) -> Assessment:
    spec, nxt = draft.spec, draft.next
    if spec.analysis is None:
        nxt.metrics = None
        return Assessment(())
    metrics = effective_metrics(spec, draft.index)
    samples = seen.metrics if analysing(nxt) else None
    baseline = dict(nxt.baseline or {})
    if samples is not None and nxt.phase_started_at is None and nxt.phase in UNSTARTED:
        for metric in baseline_metrics(spec):
            sample = samples.get(metric.name)
            if metric.name not in baseline and sample is not None and sample.value is not None:
                baseline[metric.name] = sample.value
        nxt.baseline = baseline or None
    exposed = bool(nxt.enabled is not False and exposes_anyone(nxt))
    assessment = assess(
        metrics, nxt.metrics or [], samples, draft.now, baseline, spec.analysis.error_limit, exposed
    )
    if samples is not None:
        nxt.metrics = list(assessment.metrics)
        nxt.last_analysis_at = draft.now
    return assessment
