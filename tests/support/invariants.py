"""Ramp's safety invariants (docs/behaviour.md, "Safety invariants"), one function each.

Each function reads a trace: the `Moment`s a test recorded, oldest first, one after every
change it saw (a spec edit, a CLI action, a status write, a publish of the ConfigMap), plus
what the trace cannot show and the test knows (the metric values the engine was given, the
times the operator finished a reconcile, when the metric was breaching, the CLI actions a
person took). The model-based test of the engine and the chaos run on the real testbed record
the same trace and call the same functions, so a rule is written once.

A violation raises AssertionError naming the invariant (I1..I15), the moment and what was
expected. Each function raises from its own line, so hypothesis reports distinct invariants as
distinct failures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from ramp.api import RolloutSpec, RolloutStatus
from ramp.api.spec import Compare, Phase
from ramp.api.status import PromoteRequest
from ramp.engine import PublishFlag, WorkerObservation, sequential, worker_key
from ramp.engine.bucketing import publish_of
from ramp.engine.exposure import audiences_of
from ramp.engine.observations import MetricSample
from ramp.engine.published import serves
from ramp.engine.thresholds import crossed

ACTIVE = ("Progressing", "Paused", "AwaitingApproval")
"""Phases in which a started rollout is still moving (Pending has started nothing)."""

CHANGED_BY_A_PERSON = ("resume", "retry", "abort", "pause", "promote")
"""CLI actions (`ramp ...`); a spec edit is the other way a person acts."""


@dataclass(frozen=True)
class Moment:
    """What was true at one instant: the spec, the status as stored by the API server, and what
    the ConfigMap served (None: no ConfigMap yet)."""

    at: datetime
    spec: RolloutSpec
    status: RolloutStatus
    published: PublishFlag | None
    workers: Mapping[str, WorkerObservation] = field(default_factory=dict)
    """The scale of each worker, by worker key, where the test knows it."""
    instances: tuple[float, ...] | None = None
    """What each app instance served (ramp_flag_served_percentage), when the test knows."""


@dataclass(frozen=True)
class DrainReading:
    """A worker's drain query as the engine was given it."""

    at: datetime
    worker: str
    sample: MetricSample


@dataclass(frozen=True)
class Analysed:
    """Metric samples the engine was given in a reconcile whose status was then stored."""

    at: datetime
    samples: Mapping[str, MetricSample]


@dataclass(frozen=True)
class PersonAction:
    """A CLI action (`ramp promote|pause|resume|abort|retry`) that changed status.control."""

    at: datetime
    action: str
    moment: int | None = None
    """Index of the Moment that shows its effect, when known (several moments can share a
    time); without it, the action counts between the moments around ``at``."""


@dataclass(frozen=True)
class Breaching:
    """An interval during which every critical metric crossed its critical threshold."""

    since: datetime
    until: datetime | None = None
    """None: still breaching at the end of the trace."""


def exposure(published: PublishFlag | None) -> float:
    """The share of users that get the feature: 0 without a ConfigMap or with enabled=false."""
    if published is None or not published.enabled:
        return 0.0
    return published.percentage


def audiences_served(published: PublishFlag | None) -> frozenset[str]:
    """The audiences whose members get the feature: none without a ConfigMap or when off."""
    if published is None or not published.enabled:
        return frozenset()
    return frozenset(published.audiences)


def exposes(published: PublishFlag | None) -> bool:
    """Whether anybody gets the feature: a percentage above 0 or an audience."""
    return exposure(published) > 0 or bool(audiences_served(published))


def describe(trace: Sequence[Moment], i: int) -> str:
    m = trace[i]
    s = m.status
    served = (
        "no ConfigMap"
        if m.published is None
        else (
            f"enabled={str(m.published.enabled).lower()} {m.published.percentage:g} % "
            f"+{sorted(m.published.audiences)}"
        )
    )
    phases = [(p.name, p.percentage, p.audiences, p.duration, p.approval) for p in m.spec.phases]
    return (
        f"moment {i} (t0+{(m.at - trace[0].at).total_seconds():g}s): status {s.phase} "
        f"{s.current_phase} {s.percentage} % +{s.audiences or []} enabled={s.enabled}, "
        f"ConfigMap {served}, spec paused={m.spec.paused} enabled={m.spec.enabled} "
        f"phases={phases}"
    )


def check_trace(
    trace: Sequence[Moment],
    *,
    analysed: Sequence[Analysed] = (),
    actions: Sequence[PersonAction] = (),
    breaching: Sequence[Breaching] = (),
    reconciles: Sequence[datetime] = (),
    drain_readings: Sequence[DrainReading] = (),
) -> None:
    """I1..I7 (with I3b), I9's drains, I10 (with I10b), I11 and I13..I15 over the whole trace
    (I8 and the rest of I9 need their own records, I12 the shell's timing; see below)."""
    check_exposure_earned(trace)
    check_disabled_flag_stays_off(trace, actions)
    check_created_paused_publishes_nothing(trace)
    check_first_exposure_after_a_clean_analysis(trace, analysed)
    check_no_increase_while_held(trace)
    check_promotion_on_fresh_healthy_values(trace, analysed)
    check_breach_keeps_stepping_down(trace, actions, breaching, reconciles)
    check_history_records_each_transition_once(trace)
    check_soak_counts_only_while_served(trace)
    check_soak_counts_only_while_every_instance_serves(trace)
    check_bucketing_kept_while_exposed(trace)
    check_phase_left_through_gate_and_soak(trace)
    check_one_incident_per_breach(trace)
    check_workers_kept_while_draining(trace, drain_readings)
    check_promotion_only_in_a_window_and_out_of_a_freeze(trace)


# --- helpers shared by the invariants ------------------------------------------------------


def _index(spec: RolloutSpec, name: str | None) -> int | None:
    return next((i for i, p in enumerate(spec.phases) if p.name == name), None)


def _phase(spec: RolloutSpec, name: str | None) -> Phase | None:
    i = _index(spec, name)
    return None if i is None else spec.phases[i]


def _started(status: RolloutStatus) -> bool:
    return status.current_phase is not None and status.phase not in (None, "Pending")


def _edited(trace: Sequence[Moment], i: int) -> bool:
    """Whether moment i is a spec edit (the spec differs from the moment before)."""
    return i > 0 and trace[i].spec != trace[i - 1].spec


def _held(m: Moment) -> bool:
    """Held by a person or a policy: spec.paused, spec.enabled false, a pause in status.control."""
    control = m.status.control
    return (
        m.spec.paused or not m.spec.enabled or (control is not None and control.pause is not None)
    )


def _acted(
    trace: Sequence[Moment], i: int, actions: Sequence[PersonAction], kinds: Iterable[str]
) -> bool:
    """Whether a person acted between moment i-1 and moment i (a spec edit or a CLI action)."""
    wanted = set(kinds)
    return _edited(trace, i) or any(
        a.action in wanted
        and (a.moment == i if a.moment is not None else trace[i - 1].at < a.at <= trace[i].at)
        for a in actions
    )


@dataclass(frozen=True)
class Promotion:
    """The stored status left phase ``out_of`` for a later one (or completed) at moment ``at``."""

    at: int
    out_of: str
    started: int
    """The moment at which ``out_of`` became the current phase."""

    request: PromoteRequest | None
    """The `ramp promote` for that phase that was waiting in status.control, if any."""

    @property
    def skipped(self) -> bool:
        """Promoted by a `ramp promote --skip-soak` (I13 checks it names who asked)."""
        return self.request is not None and self.request.skip_soak


def phase_starts(trace: Sequence[Moment]) -> list[int]:
    """For each moment, the moment at which its current phase began (its own index if none)."""
    starts: list[int] = []
    for i, m in enumerate(trace):
        if i == 0 or not _started(m.status):
            starts.append(i)
            continue
        prev = trace[i - 1].status
        fresh = (
            not _started(prev)
            or prev.current_phase != m.status.current_phase
            or (prev.phase in ("RolledBack", "Completed") and m.status.phase in ACTIVE)
            or _recorded(trace[i - 1], m, ("Started", "Retried"))
        )
        starts.append(i if fresh else starts[-1])
    return starts


def promotions(trace: Sequence[Moment]) -> list[Promotion]:
    """Every promotion the stored status shows, with whether a person asked for it."""
    starts = phase_starts(trace)
    found = []
    for i in range(1, len(trace)):
        prev, cur = trace[i - 1], trace[i]
        if _edited(trace, i) or not _started(prev.status) or prev.status.phase not in ACTIVE:
            continue
        out_of = prev.status.current_phase
        at = _index(cur.spec, out_of)
        if at is None:
            continue
        now_at = _index(cur.spec, cur.status.current_phase)
        completed = cur.status.phase == "Completed"
        if not completed and not (
            now_at is not None and now_at > at and cur.status.phase in ACTIVE
        ):
            continue
        request = prev.status.control.promote if prev.status.control else None
        asked = request if request is not None and request.phase_index == at else None
        assert out_of is not None
        found.append(Promotion(i, out_of, starts[i - 1], asked))
    return found


# --- the invariants ------------------------------------------------------------------------


def check_exposure_earned(trace: Sequence[Moment]) -> None:
    """I1: the exposure served is 0 or the percentage of a phase whose promotion was earned,
    and never above what a stored status recorded (checked whenever the ConfigMap changes).

    A phase is earned by starting the rollout while nothing holds it (the first phase), by a
    `ramp promote` (or `--full`) for the phase before it, by `ramp retry` (the phase retried),
    or automatically when the phase before it is `Automatic` and was current for its whole
    duration (I5 and I10 check the values and the served time of that soak). Earned phases are
    followed by name across spec edits (an edit that raises an earned phase's percentage is a
    person's choice); an earned phase removed by an edit leaves its old percentage as the
    ceiling; a rollback forgets every phase above the percentage it fell back to; a Completed
    rollout publishes the (new) last phase's percentage (docs/behaviour.md).

    Audiences likewise: every audience served is one of an earned phase (or of an earned phase
    removed since, or kept through a rollback), and one a stored status recorded.
    """
    earned: set[str] = set()
    carried = 0.0
    carried_audiences: frozenset[str] = frozenset()
    completed = False
    starts = phase_starts(trace)
    for i, m in enumerate(trace):
        prev = trace[i - 1] if i else None
        if prev is not None and _edited(trace, i):
            for phase in prev.spec.phases:
                if phase.name in earned and _index(m.spec, phase.name) is None:
                    carried = max(carried, _removed_ceiling(prev, phase))
                    carried_audiences |= _removed_audiences(prev, phase)
                    earned.discard(phase.name)
        if prev is not None and not _edited(trace, i):
            s, before = m.status, prev.status
            fewer = set(s.audiences or []) < set(before.audiences or [])
            if s.phase == "RolledBack" and (
                before.phase != "RolledBack"
                or (s.percentage or 0) < (before.percentage or 0)
                or fewer
            ):
                floor = s.percentage or 0.0
                floor_audiences = frozenset(s.audiences or [])
                # A rollback lowers the exposure to a phase's percentage (a decrease is always
                # allowed, the phase need not have been earned: one added below by an edit);
                # the ceiling is then that floor, never more than before it.
                before_it = max([carried, *_levels(m.spec, earned)])
                before_audiences = carried_audiences.union(
                    *(audiences_of(p) for p in m.spec.phases if p.name in earned)
                )
                earned = {
                    n
                    for n in earned
                    if (p := _phase(m.spec, n))
                    and p.percentage <= floor
                    and set(audiences_of(p)) <= floor_audiences
                }
                carried = min(before_it, floor)
                carried_audiences = before_audiences & floor_audiences
                completed = False
            if s.phase == "Completed" and before.phase in ACTIVE:
                request = before.control.promote if before.control else None
                last = _index(m.spec, before.current_phase) == len(m.spec.phases) - 1
                completed = last or (request is not None and request.full)
            entered = _started(s) and s.current_phase not in earned and starts[i] == i
            ceiling_then = max([carried, *_levels(m.spec, earned)])
            if entered and (_earned_entry(trace, i, starts) or _mapped_in(trace, i, ceiling_then)):
                earned.add(s.current_phase or "")
            if s.phase == "Completed" and completed:
                earned.update(p.name for p in m.spec.phases)
        finished = completed and m.status.phase == "Completed"
        ceiling = max(
            [carried]
            + [p.percentage for p in m.spec.phases if p.name in earned]
            + ([m.spec.phases[-1].percentage] if finished else [])
        )
        if prev is not None and m.published == prev.published:
            continue  # the ConfigMap did not change: nobody was newly exposed
        allowed = carried_audiences.union(
            *(audiences_of(p) for p in m.spec.phases if p.name in earned)
        )
        unearned = audiences_served(m.published) - allowed
        if unearned:
            raise AssertionError(
                f"I1 violated at {describe(trace, i)}: audiences {sorted(unearned)} are served "
                f"but no earned phase names them (earned: {sorted(earned) or 'none'})"
            )
        told = set(m.status.audiences or []).union(
            *(h.audiences or [] for h in m.status.history or [])
        )
        untold = audiences_served(m.published) - told
        if untold:
            raise AssertionError(
                f"I1 violated at {describe(trace, i)}: audiences {sorted(untold)} are served "
                "but no stored status recorded them"
            )
        served = exposure(m.published)
        if served > ceiling:
            raise AssertionError(
                f"I1 violated at {describe(trace, i)}: {served:g} % is served but the highest "
                f"earned phase allows {ceiling:g} % (earned: {sorted(earned) or 'none'})"
            )
        recorded = max(
            [m.status.percentage or 0.0] + [h.percentage for h in m.status.history or []]
        )
        if served > recorded:
            raise AssertionError(
                f"I1 violated at {describe(trace, i)}: {served:g} % is served but no stored "
                f"status recorded more than {recorded:g} %"
            )


def _levels(spec: RolloutSpec, earned: set[str]) -> list[float]:
    return [p.percentage for p in spec.phases if p.name in earned]


def _mapped_in(trace: Sequence[Moment], i: int, ceiling: float) -> bool:
    """Whether the phase current at moment i took the place of one edited away, at no more
    than the ceiling then (docs/behaviour.md, "Editing the spec mid-rollout"). It is then the
    phase the rollout stands in, followed by name like an earned one: a later edit of its
    percentage is an edit of the current phase, a person's choice (I4 checks it waits while
    held); mapping it in exposed nobody new."""
    prev, cur = trace[i - 1].status, trace[i]
    gone = prev.current_phase is not None and _index(cur.spec, prev.current_phase) is None
    phase = _phase(cur.spec, cur.status.current_phase)
    return gone and phase is not None and phase.percentage <= ceiling


def _removed_ceiling(prev: Moment, phase: Phase) -> float:
    """What an earned phase removed by an edit leaves as the ceiling: its percentage in the
    spec before the edit, or, when it is the current phase, what the stored status recorded
    for it if that is higher. The engine only sees the spec of each reconcile (as the operator
    only sees the latest generation): an edit it never reconciled, say one lowering the phase
    just before another removed it, cannot bind it; once it reconciles an edit, the status
    already follows the lowered percentage, so this changes nothing then."""
    status = prev.status
    if status.current_phase == phase.name and _started(status) and status.enabled is not False:
        return max(phase.percentage, status.percentage or 0.0)
    return phase.percentage


def _removed_audiences(prev: Moment, phase: Phase) -> frozenset[str]:
    """What an earned phase removed by an edit leaves as served audiences (as
    `_removed_ceiling`): its own, and those the stored status recorded when it is current."""
    status = prev.status
    own = frozenset(audiences_of(phase))
    if status.current_phase == phase.name and _started(status) and status.enabled is not False:
        return own | frozenset(status.audiences or [])
    return own


def _earned_entry(trace: Sequence[Moment], i: int, starts: Sequence[int]) -> bool:
    """Whether the phase current at moment i (which it just entered) was entered by right."""
    prev, cur = trace[i - 1], trace[i]
    control = prev.status.control
    at = _index(cur.spec, cur.status.current_phase)
    if at is None:
        return False
    if control is not None and control.retry is not None:
        return True
    if not _started(prev.status) or prev.status.phase == "RolledBack":
        return at == 0 and not _held(prev)
    before = _index(cur.spec, prev.status.current_phase)
    if before is None or at <= before:
        return False
    request = control.promote if control is not None else None
    if request is not None and (request.full or request.phase_index == before):
        return True
    if at != before + 1:
        return False
    left = cur.spec.phases[before]
    soaked = cur.at - trace[starts[i - 1]].at
    return left.approval == "Automatic" and soaked >= left.soak


def check_disabled_flag_stays_off(
    trace: Sequence[Moment], actions: Sequence[PersonAction] = ()
) -> None:
    """I2: once a failure policy with `disableFlag` turned the flag off (spec.enabled still
    true, the stored status or the ConfigMap went to enabled=false), the stored status keeps
    enabled=false and the ConfigMap, once it served enabled=false, keeps serving it until a
    person acts (`ramp resume`, `retry`, `abort`, or a spec edit)."""
    applied = False
    served_off = False
    for i in range(1, len(trace)):
        prev, cur = trace[i - 1], trace[i]
        if _acted(trace, i, actions, ("resume", "retry", "abort")):
            applied = served_off = False
            continue
        if applied:
            if cur.status.enabled is True:
                raise AssertionError(
                    f"I2 violated at {describe(trace, i)}: the failure policy disabled the "
                    "flag and the stored status turned it back on with nobody acting"
                )
            if served_off and cur.published is not None and cur.published.enabled:
                raise AssertionError(
                    f"I2 violated at {describe(trace, i)}: the failure policy disabled the "
                    "flag and the ConfigMap serves enabled=true again with nobody acting"
                )
        elif cur.spec.failure_policy.disable_flag and cur.spec.enabled and prev.spec.enabled:
            # Without disableFlag no failure policy turns the flag off: a flag turned off under
            # an enabled spec is then a decision on an earlier generation (spec.enabled false,
            # undone since), which the next decision undoes.
            stored_off = prev.status.enabled is not False and cur.status.enabled is False
            published_off = (
                prev.published is not None
                and prev.published.enabled
                and cur.published is not None
                and not cur.published.enabled
            )
            applied = stored_off or published_off
        if applied and cur.published is not None and not cur.published.enabled:
            served_off = True


def check_created_paused_publishes_nothing(trace: Sequence[Moment]) -> None:
    """I3: a Rollout created with spec.paused (trace[0] is the Rollout as created) serves
    nobody (0 %, no audience) and starts no phase (status.phaseStartedAt unset) until
    spec.paused becomes false."""
    if not trace or not trace[0].spec.paused:
        return
    for i, m in enumerate(trace):
        if not m.spec.paused:
            return
        if exposes(m.published) or m.status.phase_started_at is not None:
            raise AssertionError(
                f"I3 violated at {describe(trace, i)}: created paused, it must serve nobody "
                "(0 %, no audience) and start nothing until spec.paused is false"
            )


def check_first_exposure_after_a_clean_analysis(
    trace: Sequence[Moment], analysed: Sequence[Analysed]
) -> None:
    """I3b: a Rollout with metrics exposes nobody before one analysis of all of them was answered
    without an error (no data is an answer)."""
    first = next((i for i, m in enumerate(trace) if exposes(m.published)), None)
    if first is None or trace[first].spec.analysis is None:
        return
    at = trace[first].at
    if not any(
        a.at <= at and all(sample.error is None for sample in a.samples.values()) for a in analysed
    ):
        raise AssertionError(
            f"I3b violated at {describe(trace, first)}: users exposed before any analysis was "
            "answered without an error"
        )


def check_no_increase_while_held(trace: Sequence[Moment]) -> None:
    """I4: while a rollout stays held (spec.paused, spec.enabled false, a `ramp pause` or
    failure-policy pause in status.control, or a stored phase Paused/Disabled such as the
    no-data pause), the exposure served never rises above what was served, or recorded in the
    stored status, when the hold began."""

    released: RolloutStatus | None = None

    def held(m: Moment) -> bool:
        # A stored Paused/Disabled phase holds, except the one a person just released: it
        # stays stored until the next reconcile.
        stale = released is not None and m.status == released
        return _held(m) or (m.status.phase in ("Paused", "Disabled") and not stale)

    cap: float | None = None
    cap_audiences: frozenset[str] = frozenset()
    for i, m in enumerate(trace):
        if i > 0 and _held(trace[i - 1]) and not _held(m):
            released, cap = m.status, None
        if not held(m):
            cap = None
            continue
        if cap is None:
            # What was served or already decided (stored) when the hold began: a publish
            # still owed for a transition made before the hold is not an increase.
            on = m.status.enabled is not False
            decided = (m.status.percentage or 0.0) if on else 0.0
            cap = max(exposure(m.published), decided)
            cap_audiences = audiences_served(m.published) | frozenset(
                (m.status.audiences or []) if on else []
            )
            continue
        if exposure(m.published) > cap:
            raise AssertionError(
                f"I4 violated at {describe(trace, i)}: held, yet the exposure rose to "
                f"{exposure(m.published):g} % above the {cap:g} % it had when the hold began"
            )
        added = audiences_served(m.published) - cap_audiences
        if added:
            raise AssertionError(
                f"I4 violated at {describe(trace, i)}: held, yet audiences {sorted(added)} "
                "are served that were not when the hold began"
            )


PROMOTING = ("Promoted", "Completed")


def check_promotion_on_fresh_healthy_values(
    trace: Sequence[Moment], analysed: Sequence[Analysed]
) -> None:
    """I5: every promotion but a soak skip (automatic, or through a Manual gate) was decided on
    an evaluation taken after the phase's soak ended (phase start + duration), at most one
    analysis interval before the promotion, in which no metric had a query error, no data
    (unless onNoData: Ignore), or a value crossing its critical threshold (phase overrides
    applied)."""
    for promotion in promotions(trace):
        if promotion.skipped:
            continue
        m = trace[promotion.at]
        analysis = m.spec.analysis
        phase = _phase(m.spec, promotion.out_of)
        if analysis is None or phase is None:
            continue
        start = trace[promotion.started].at
        deciding = next((a for a in reversed(analysed) if a.at <= m.at), None)
        where = f"I5 violated at {describe(trace, promotion.at)}: promoted out of {phase.name}"
        if deciding is None or deciding.at < start + phase.soak:
            raise AssertionError(f"{where} without an evaluation after its soak ended")
        # Judged at the decision (its history entry), not at when the write was seen: a slow
        # write (an apiserver restarting) does not make the values stale.
        decided = next(
            (h.time for h in reversed(m.status.history or []) if h.reason in PROMOTING),
            m.at,
        )
        if decided - deciding.at > analysis.every:
            raise AssertionError(
                f"{where} on values from {deciding.at} (stale: older than the interval)"
            )
        overrides = {o.name: o for o in phase.metrics or []}
        for metric in analysis.metrics:
            if metric.compare is not None:
                _check_comparison_passed(m, metric.name, metric.compare, deciding, where)
                continue
            o = overrides.get(metric.name)
            critical = o.critical if o and o.critical else metric.critical
            on_no_data = (o.on_no_data if o and o.on_no_data else metric.on_no_data) or "Pause"
            sample = deciding.samples.get(metric.name)
            if sample is None or sample.error is not None:
                raise AssertionError(f"{where} while {metric.name} had no value (query error)")
            if sample.value is None:
                if on_no_data != "Ignore":
                    raise AssertionError(f"{where} while {metric.name} had no data")
                continue
            baseline = (m.status.baseline or {}).get(metric.name)
            if crossed(critical, sample.value, baseline):
                raise AssertionError(
                    f"{where} while {metric.name}={sample.value:g} crossed its critical threshold"
                )


def _check_comparison_passed(
    m: Moment, name: str, spec: Compare, deciding: Analysed, where: str
) -> None:
    """I5 for a compare metric: the deciding evaluation answered, and the comparison it left
    had minEvents treatment units and a log-likelihood short of a regression."""
    sample = deciding.samples.get(name)
    if sample is None or sample.error is not None:
        raise AssertionError(f"{where} while {name} had no answer (query error)")
    state = next((s.compare for s in m.status.metrics or [] if s.name == name), None)
    if state is None or state.treatment.units < spec.min_events:
        units = 0 if state is None else state.treatment.units
        raise AssertionError(f"{where} on {units:g} of {spec.min_events} treatment units")
    if sequential.regressed(state.log_likelihood, spec.confidence):
        raise AssertionError(f"{where} while {name}'s evidence concluded a regression")


def check_breach_keeps_stepping_down(
    trace: Sequence[Moment],
    actions: Sequence[PersonAction],
    breaching: Sequence[Breaching],
    reconciles: Sequence[datetime],
) -> None:
    """I6: under `failurePolicy.action: Rollback`, a critical breach that goes on lowers the
    exposure again and again until 0 % (after a rollback to the previous phase too).

    From the moment the exposure took its current value L > 0 (or the breach began, or a person
    last acted, whichever is latest), take the operator's completed reconciles c1 >= anchor +
    interval, c2 >= c1 + max(for, interval), c3 >= c2 + interval: a correct engine analyses at
    c1 and again by c3, and the breach has then lasted its `for`, so by c3 the exposure must be
    below L. Completed rollouts no longer analyse and are not checked.
    """
    if not reconciles:
        return
    anchor_at: int | None = None
    for i, m in enumerate(trace):
        level = exposure(m.published)
        audiences = audiences_served(m.published)
        if (
            i == 0
            or _acted(trace, i, actions, CHANGED_BY_A_PERSON)
            or (level != exposure(trace[i - 1].published))
            or audiences != audiences_served(trace[i - 1].published)
            or _rolled_back(trace[i - 1], m)
        ):
            anchor_at = i
        analysis = m.spec.analysis
        policy = m.spec.failure_policy
        if (
            not exposes(m.published)
            or analysis is None
            or policy.action != "Rollback"
            or m.status.phase == "Completed"
            or anchor_at is None
        ):
            continue
        breach = next(
            (b for b in breaching if b.since <= m.at and (b.until is None or m.at <= b.until)),
            None,
        )
        if breach is None:
            continue
        anchor = max(trace[anchor_at].at, breach.since)
        phase = _phase(m.spec, m.status.current_phase)
        overrides = {o.name: o for o in (phase.metrics if phase else None) or []}
        sustain = max(
            (
                (o.critical if (o := overrides.get(x.name)) and o.critical else x.critical).sustain
                for x in analysis.metrics
                if x.critical is not None
            ),
            default=timedelta(0),
        )
        deadline = _third_reconcile(reconciles, anchor, sustain, analysis.every)
        if deadline is not None and deadline <= m.at:
            raise AssertionError(
                f"I6 violated at {describe(trace, i)}: the metric has breached since "
                f"{breach.since} and the operator reconciled past {deadline}, yet it still "
                f"serves {level:g} % +{sorted(audiences)} (a breach that goes on must keep "
                "stepping down to nobody)"
            )


def _recorded(prev: Moment, cur: Moment, reasons: tuple[str, ...]) -> bool:
    """Whether a transition with one of these reasons was recorded between the two moments
    (the entries carry the announcement number; older engines' have none)."""
    seen = prev.status.sequence or 0
    return any(h.reason in reasons and (h.seq or 0) > seen for h in cur.status.history or [])


def _rolled_back(prev: Moment, cur: Moment) -> bool:
    """A rollback or step-down was recorded (possibly to a phase of the same percentage): the
    exposure there starts a breach window of its own."""
    return _recorded(prev, cur, ("RolledBack",))


def _third_reconcile(
    reconciles: Sequence[datetime], anchor: datetime, sustain: timedelta, every: timedelta
) -> datetime | None:
    """c3 of I6: by then a correct engine analysed twice with the breach lasting its `for`."""
    c1 = next((t for t in reconciles if t >= anchor + every), None)
    if c1 is None:
        return None
    c2 = next((t for t in reconciles if t >= c1 + max(sustain, every)), None)
    if c2 is None:
        return None
    return next((t for t in reconciles if t >= c2 + every), None)


def check_history_records_each_transition_once(trace: Sequence[Moment]) -> None:
    """I7: status.history only grows at its end (the oldest entries may drop off the front),
    never repeats the entry before it (a replayed transition), keeps `seq` increasing where
    present, and every change of status.phase or promotion to a later phase adds an entry
    naming the new phase."""
    for i in range(1, len(trace)):
        before = list(trace[i - 1].status.history or [])
        after = list(trace[i].status.history or [])
        kept = next(
            (d for d in range(len(before) + 1) if before[d:] == after[: len(before) - d]),
            None,
        )
        where = f"I7 violated at {describe(trace, i)}"
        if kept is None or (before and kept == len(before)):
            raise AssertionError(f"{where}: status.history was rewritten, not appended to")
        added = after[len(before) - kept :]
        chain = [*before[-1:], *added]
        for previous, entry in pairwise(chain):
            same = ("phase", "step", "percentage", "reason", "message")
            if all(getattr(previous, f) == getattr(entry, f) for f in same):
                raise AssertionError(
                    f"{where}: transition {entry.reason} ({entry.phase} {entry.step} "
                    f"{entry.percentage:g} %) recorded twice in a row"
                )
            seqs = (getattr(previous, "seq", None), getattr(entry, "seq", None))
            if None not in seqs and seqs[1] <= seqs[0]:  # type: ignore[operator]
                raise AssertionError(f"{where}: history seq goes from {seqs[0]} to {seqs[1]}")
        prev, cur = trace[i - 1].status, trace[i].status
        if _edited(trace, i):
            continue
        moved = prev.phase != cur.phase and prev.phase is not None
        old, new = (
            _index(trace[i].spec, prev.current_phase),
            _index(trace[i].spec, cur.current_phase),
        )
        promoted = prev.phase in ACTIVE and old is not None and new is not None and new > old
        if (moved or promoted) and (not added or added[-1].phase != cur.phase):
            raise AssertionError(
                f"{where}: the status went from {prev.phase} {prev.current_phase} to "
                f"{cur.phase} {cur.current_phase} without a history entry recording it"
            )


def check_soak_counts_only_while_served(trace: Sequence[Moment]) -> None:
    """I10: for every promotion out of phase X but a soak skip (automatic, or through a
    Manual gate), the ConfigMap served X (enabled, at a percentage X had since it started) for
    at least X's duration between X's start and the promotion, not counting time in which the
    stored status was Paused."""
    for promotion in promotions(trace):
        if promotion.skipped:
            continue
        m = trace[promotion.at]
        phase = _phase(m.spec, promotion.out_of)
        if phase is None:
            continue
        span = range(promotion.started, promotion.at)
        percentages = {p.percentage for j in span if (p := _phase(trace[j].spec, promotion.out_of))}
        served = timedelta(0)
        for j in span:
            flag = trace[j].published
            if (
                flag is not None
                and flag.enabled
                and flag.percentage in percentages
                and trace[j].status.phase != "Paused"
            ):
                served += trace[j + 1].at - trace[j].at
        if served < phase.soak:
            raise AssertionError(
                f"I10 violated at {describe(trace, promotion.at)}: promoted out of "
                f"{phase.name} after serving it for {served} of its {phase.duration}"
            )


def check_soak_counts_only_while_every_instance_serves(trace: Sequence[Moment]) -> None:
    """I10b: with spec.analysis.served, for every promotion out of phase X but a soak skip,
    every app instance served X's percentage (and the ConfigMap published it) for at least X's
    duration between X's start and the promotion, not counting time the status was Paused."""
    for promotion in promotions(trace):
        m = trace[promotion.at]
        phase = _phase(m.spec, promotion.out_of)
        if promotion.skipped or phase is None or m.spec.analysis is None:
            continue
        if m.spec.analysis.served is None:
            continue
        span = range(promotion.started, promotion.at)
        percentages = {p.percentage for j in span if (p := _phase(trace[j].spec, promotion.out_of))}
        served = timedelta(0)
        for j in span:
            flag, instances = trace[j].published, trace[j].instances
            if (
                flag is not None
                and flag.enabled
                and flag.percentage in percentages
                and instances
                and all(share == flag.percentage for share in instances)
                and trace[j].status.phase != "Paused"
            ):
                served += trace[j + 1].at - trace[j].at
        if served < phase.soak:
            raise AssertionError(
                f"I10b violated at {describe(trace, promotion.at)}: promoted out of "
                f"{phase.name} after every instance served it for {served} of its "
                f"{phase.duration}"
            )


def check_phase_left_through_gate_and_soak(trace: Sequence[Moment]) -> None:
    """I13: a phase is left only through its gate and soak, or by a soak skip that names who
    asked. Every promotion out of phase X goes to the next phase (or completes after the last),
    and out of a Manual X only with a `ramp promote` for X waiting in status.control (I10
    checks the soak was served); or it is a `ramp promote --skip-soak` for X, or a `--full` one
    jumping over the later phases, whose request says who asked and whose history entry names
    them. A promote asked at an earlier phase (a repeated or late one) approves nothing."""
    for promotion in promotions(trace):
        m = trace[promotion.at]
        out_of = _index(m.spec, promotion.out_of)
        into = _index(m.spec, m.status.current_phase)
        assert out_of is not None
        phase = m.spec.phases[out_of]
        completed = m.status.phase == "Completed"
        jumped = (not completed and into is not None and into > out_of + 1) or (
            completed and out_of < len(m.spec.phases) - 1
        )
        request = promotion.request
        where = f"I13 violated at {describe(trace, promotion.at)}: promoted out of {phase.name}"
        if jumped and (request is None or not request.full):
            raise AssertionError(f"{where} past the next phase without `ramp promote --full`")
        if promotion.skipped or jumped:
            assert request is not None
            entry = next(
                (h for h in reversed(m.status.history or []) if h.reason in PROMOTING), None
            )
            if not request.by or entry is None or request.by not in entry.message:
                raise AssertionError(
                    f"{where} skipping a soak, and the history does not name who asked "
                    f"(by={request.by!r}, entry={entry.message if entry else None!r})"
                )
            continue
        if phase.approval == "Manual" and request is None:
            raise AssertionError(
                f"{where}, a Manual phase, without a `ramp promote` asked at {phase.name}"
            )


OPENING = ("RolledBack", "Paused")
RESOLVING = ("Completed", "Retried", "Resumed")


def check_one_incident_per_breach(trace: Sequence[Moment]) -> None:
    """I14: on-call pages name one incident per breach. A rollback or pause a breach caused
    (its announcement names the metric) opens an incident numbered by its announcement, or
    joins the one still open; completion, `ramp retry` and `ramp resume` resolve the one open
    under its number; no other announcement names one; status.incident says which is open; and
    a number once resolved is never named again, so no delivery, however late or repeated,
    can open a second incident for one breach. Checked over each stored status whose new
    announcements were all seen (a recorder that missed some starts over from that status)."""
    resolved: set[int] = set()
    for i, (before, m) in enumerate(pairwise(trace), start=1):
        new = sorted(
            (a for a in m.status.outbox or [] if a.seq > (before.status.sequence or 0)),
            key=lambda a: a.seq,
        )
        seen_all = [a.seq for a in new] == list(
            range((before.status.sequence or 0) + 1, (m.status.sequence or 0) + 1)
        )
        open_ = before.status.incident
        where = f"I14 violated at {describe(trace, i)}"
        for a in new:
            if a.incident is not None and a.incident in resolved:
                raise AssertionError(
                    f"{where}: announcement {a.seq} ({a.reason}) names incident {a.incident}, "
                    "resolved before: a page would open a second incident"
                )
            if not seen_all:
                continue
            if a.reason in OPENING and a.metric is not None:
                expected: int | None = a.seq if open_ is None else open_
            elif a.reason in RESOLVING:
                expected = open_
            else:
                expected = None
            if a.incident != expected:
                raise AssertionError(
                    f"{where}: announcement {a.seq} ({a.reason}, metric {a.metric}) names "
                    f"incident {a.incident}, expected {expected} (open: {open_})"
                )
            if a.reason in RESOLVING and a.incident is not None:
                resolved.add(a.incident)
                open_ = None
            elif a.incident is not None:
                open_ = a.incident
        if seen_all and m.status.incident != open_:
            raise AssertionError(
                f"{where}: status.incident is {m.status.incident}, its announcements leave "
                f"{open_} open"
            )


def _may_promote(spec: RolloutSpec, at: datetime) -> bool:
    """Whether ``at`` is outside any freeze and inside a promotion window (if any), read from
    the wall clock of each window's zone; written apart from engine/windows.py on purpose."""
    if spec.freeze is not None and (spec.freeze.until is None or at < spec.freeze.until):
        return False
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    for w in spec.promotion_windows or []:
        local = at.astimezone(ZoneInfo(w.time_zone))
        clock = f"{local:%H:%M}"
        today, yesterday = days[local.weekday()], days[local.weekday() - 1]
        listed = w.days or days
        if w.start < w.end:
            if today in listed and w.start <= clock < w.end:
                return True
        elif (today in listed and clock >= w.start) or (yesterday in listed and clock < w.end):
            return True
    return not spec.promotion_windows


def check_promotion_only_in_a_window_and_out_of_a_freeze(trace: Sequence[Moment]) -> None:
    """I15: a start and every promotion to a next phase happen inside a promotion window of
    the spec in force and outside its freeze, unless the `ramp promote` that caused it said
    `--override-freeze` (completing after the last phase exposes nobody more, and is free).
    Rollbacks are never held: I6 checks them whatever the windows and freezes say."""
    for i in range(1, len(trace)):
        prev, cur = trace[i - 1], trace[i]
        if _edited(trace, i) or not _recorded(prev, cur, ("Started",)):
            continue
        if not _may_promote(cur.spec, cur.at):
            raise AssertionError(
                f"I15 violated at {describe(trace, i)}: started outside its promotion windows "
                "or in a freeze"
            )
    for promotion in promotions(trace):
        m = trace[promotion.at]
        last = _index(m.spec, promotion.out_of) == len(m.spec.phases) - 1
        if (m.status.phase == "Completed" and last) or _may_promote(m.spec, m.at):
            continue
        request = promotion.request
        if request is None or not request.override_freeze:
            raise AssertionError(
                f"I15 violated at {describe(trace, promotion.at)}: promoted out of "
                f"{promotion.out_of} outside its promotion windows or in a freeze, without "
                "`ramp promote --override-freeze`"
            )


def check_bucketing_kept_while_exposed(trace: Sequence[Moment]) -> None:
    """I11: while the ConfigMap serves the feature to some users but not all, it serves it
    bucketed by one scheme, so raising the percentage only adds users and lowering it only
    removes some: the scheme may change only where nobody (0 %, disabled) or everybody (100 %)
    is served. A moment without a ConfigMap changes nothing: apps keep what they read."""
    scheme: str | None = None
    since = 0
    for i, m in enumerate(trace):
        if m.published is None:
            continue
        share = exposure(m.published)
        if share <= 0 or share >= 100:
            scheme = None
            continue
        if scheme is not None and m.published.bucketing != scheme:
            raise AssertionError(
                f"I11 violated at {describe(trace, i)}: flags.json bucketed by "
                f"{m.published.bucketing}, while {scheme} chose the users exposed since moment "
                f"{since}: other users get the feature at the same percentage"
            )
        if scheme is None:
            scheme, since = m.published.bucketing, i


# --- I8 and I9: records the chaos run keeps -------------------------------------------------


def check_notifications_delivered(expected: Iterable[str], delivered: Iterable[str]) -> None:
    """I8: every transition's notification (by its delivery id, header `X-Ramp-Delivery`) was
    received at least once."""
    lost = sorted(set(expected) - set(delivered))
    if lost:
        raise AssertionError(f"I8 violated: notifications never delivered: {lost}")


def check_workers_restored(
    originals: Mapping[str, Mapping[str, int | None]],
    observed: Mapping[str, Mapping[str, int | None]],
) -> None:
    """I9: every worker Ramp changed has its recorded original scale back (after completion,
    rollback to zero, or deletion): for each worker, each recorded field equals what the
    cluster shows (e.g. {"replicas": 2} or {"minReplicas": 1, "maxReplicas": 3})."""
    for worker, fields in originals.items():
        seen = observed.get(worker, {})
        wrong = {f: (want, seen.get(f)) for f, want in fields.items() if seen.get(f) != want}
        if wrong:
            raise AssertionError(
                f"I9 violated: {worker} was not given back its original scale "
                f"(field: (original, now)): {wrong}"
            )


def check_workers_kept_while_draining(
    trace: Sequence[Moment], readings: Sequence[DrainReading]
) -> None:
    """I9, drains: when the exposure goes down, a worker with a drain keeps at least the scale
    it had until its drain query read 0 (a reading given to the engine since) or its timeout
    passed, unless the exposure rises again meanwhile (a retry, spec.enabled) or its drain is
    edited away."""
    for i, (prev, cur) in enumerate(pairwise(trace), start=1):
        if exposure(cur.published) >= exposure(prev.published):
            continue
        for worker in cur.spec.workers or []:
            key = worker_key(worker)
            held = prev.workers.get(key)
            if worker.drain is None or held is None or held.missing:
                continue
            end = cur.at + worker.drain.limit
            drained = [
                r.at
                for r in readings
                if r.worker == key
                and r.at >= cur.at
                and r.sample.value is not None
                and r.sample.value <= 0
            ]
            if drained:
                end = min(end, drained[0])
            for j in range(i, len(trace)):
                m = trace[j]
                still = any(w.drain and worker_key(w) == key for w in m.spec.workers or [])
                if m.at >= end or exposure(m.published) > exposure(cur.published) or not still:
                    break
                now = m.workers.get(key)
                if now is None or now.missing:
                    continue
                lower = {
                    name: (before, after)
                    for name, before, after in (
                        ("replicas", held.replicas, now.replicas),
                        ("minReplicas", held.min_replicas, now.min_replicas),
                        ("maxReplicas", held.max_replicas, now.max_replicas),
                    )
                    if before is not None and after is not None and after < before
                }
                if lower:
                    raise AssertionError(
                        f"I9 violated at {describe(trace, j)}: {key} was scaled down "
                        f"(field: (when the exposure went down at moment {i}, now)): {lower} "
                        f"before its drain read 0 or its timeout ({worker.drain.timeout}) passed"
                    )


# --- I12: every edit decided in time --------------------------------------------------------


@dataclass(frozen=True)
class DecisionLag:
    """How long one generation of the spec waited for its decision."""

    generation: int
    seen: datetime
    """When the trace first shows it (the edit, or the creation for generation 1)."""

    since: datetime
    """When it could first be decided: ``seen``, or the end of an outage (no operator leading,
    the apiserver down) that began before it was decided and before its time was up."""

    decided: datetime | None
    """The first moment whose status has observed it and whose ConfigMap serves what that
    status says; None: never, up to the end of the recording."""

    lag: timedelta
    """From ``since`` to ``decided`` (to the end of the recording when never decided)."""


def decision_lags(
    trace: Sequence[Moment],
    generations: Sequence[int],
    *,
    until: datetime,
    bound: timedelta,
    down_windows: Sequence[tuple[datetime, datetime]] = (),
) -> list[DecisionLag]:
    """The lag of every generation the trace shows (``generations[i]`` is the Rollout's
    `metadata.generation` at moment i; the recording ran until ``until``).

    A generation is decided at the first moment (from the one that shows it) whose stored
    status has `observedGeneration` at least that generation and whose ConfigMap serves what
    that status says (`publish_of`; no ConfigMap serves a disabled flag). A later generation
    decided first decides it too. Nothing can be decided while no operator leads or the
    apiserver is down: an outage that began before the generation was decided and before
    ``bound`` had passed moves its start to the outage's end."""
    lags: list[DecisionLag] = []
    newest = 0
    for i, generation in enumerate(generations):
        if generation <= newest:
            continue
        newest = generation
        seen = trace[i].at
        decided = next(
            (
                m.at
                for m in trace[i:]
                if (m.status.observed_generation or 0) >= generation and _serves_its_status(m)
            ),
            None,
        )
        since = seen
        for down, up in sorted(down_windows):
            if down < min(decided or until, since + bound) and up > since:
                since = up
        lag = max((decided or until) - since, timedelta(0))
        lags.append(DecisionLag(generation, seen, since, decided, lag))
    return lags


def _serves_its_status(m: Moment) -> bool:
    wanted = publish_of(m.spec, m.status)
    if m.published is None:
        return not wanted.enabled  # apps without the ConfigMap get nothing: a disabled flag
    return serves(m.published, wanted)


def check_every_edit_decided_in_time(
    lags: Sequence[DecisionLag], *, bound: timedelta, t0: datetime
) -> None:
    """I12: every new generation of a Rollout is decided (`status.observedGeneration` reaches
    it and the ConfigMap serves what that status says) within ``bound`` (one analysis interval
    plus the query timeout plus 2 s) of when it could be decided, whatever else is in flight:
    ``lags`` come from `decision_lags` (which says what outages do not count), the message
    counts from ``t0`` (the recording's start)."""
    late = [lag for lag in lags if lag.lag > bound]
    if late:
        said = "; ".join(
            f"generation {lag.generation} (seen t0+{(lag.seen - t0).total_seconds():g}s, "
            f"decidable from t0+{(lag.since - t0).total_seconds():g}s) "
            + (
                f"decided after {lag.lag.total_seconds():.2f}s"
                if lag.decided is not None
                else f"never decided ({lag.lag.total_seconds():.2f}s until the recording ended)"
            )
            for lag in late
        )
        raise AssertionError(
            f"I12 violated: {len(late)} edit(s) not decided within "
            f"{bound.total_seconds():g}s: {said}"
        )
