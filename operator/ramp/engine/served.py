"""Served, not just published (spec.analysis.served): what the apps' instances serve.

I10b: a phase's soak counts only while every reporting instance serves the published
percentage. Until then the rollout holds and says how many instances serve what; past
`within` it keeps holding, records a Warning and says what to do. After a decrease, instances
that still serve more than the rules allow are reported as loudly as a breach, without holding
anything back. The time from publishing to served everywhere goes to status.history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from ramp.api.durations import format_duration
from ramp.api.served import ServedStatus
from ramp.api.status import Condition, HistoryEntry, RolloutStatus
from ramp.engine.bucketing import publish_of
from ramp.engine.conditions import condition
from ramp.engine.draft import HISTORY_LIMIT, Draft, analysing
from ramp.engine.published import format_percentage

TOLERANCE = 0.005
"""Percentages have two decimals: closer than this is the same percentage."""

RESTART_HINT = (
    "instances that never reload flags.json (env readers, a cached file): add their workload "
    "to spec.flag.restartOnChange"
)


@dataclass(frozen=True)
class ServedReading:
    """One read of `ramp_flag_served_percentage` for this flag: what each reporting instance
    serves now, by instance; ``error`` when the query failed."""

    series: str
    """The series queried, named in messages."""

    percentages: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None


def target_of(draft: Draft) -> float:
    """What every instance should serve: the published percentage, 0 while disabled."""
    wanted = publish_of(draft.spec, draft.next)
    return wanted.percentage if wanted.enabled else 0.0


def track_served(draft: Draft, reading: ServedReading | None) -> None:
    """Bring status.instances to the percentage published now, and take a new reading."""
    nxt = draft.next
    served = draft.spec.analysis.served if draft.spec.analysis else None
    if served is None:
        nxt.instances = None
        return
    target = target_of(draft)
    state = nxt.instances
    if state is None or abs(state.percentage - target) > TOLERANCE:
        state = ServedStatus(
            percentage=target,
            since=draft.now,
            lowered=state is not None and target < state.percentage,
            message=f"waiting for the instances to report serving {format_percentage(target)} %",
        )
        nxt.instances = state
    if reading is not None:
        _read(draft, state, reading)
    if (
        checking(nxt)
        and (state.percentage > 0 or state.lowered)  # 0 % before the first phase: nothing yet
        and not state.overdue
        and draft.now - state.since >= served.grace
    ):
        state.overdue = True
        draft.announce("Warning", "Warning", _overdue_message(draft, state, served.within))


def _read(draft: Draft, state: ServedStatus, reading: ServedReading) -> None:
    target = format_percentage(state.percentage)
    if reading.error is not None:
        state.instances = state.behind = None
        state.message = f"reading {reading.series} failed: {reading.error}"
        return
    values = list(reading.percentages.values())
    if state.lowered:
        off = [v for v in values if v > state.percentage + TOLERANCE]
    else:
        off = [v for v in values if abs(v - state.percentage) > TOLERANCE]
    state.instances, state.behind = len(values), len(off)
    if not values:
        state.message = (
            f"no instance reports {reading.series}; check spec.analysis.served.matchers and "
            "that the apps export it (docs/flags.md)"
        )
    elif off:
        shares = " or ".join(
            f"{format_percentage(v)} %" for v in sorted({round(v, 2) for v in off})
        )
        state.message = f"{len(off)} of {len(values)} instances still serve {shares}"
        if state.lowered:
            state.message += f", more than the {target} % now published"
    else:
        state.message = f"all {len(values)} instances serve {target} %"
        if state.served_at is None:
            state.served_at = draft.now
            _record_propagation(draft, state)


def _record_propagation(draft: Draft, state: ServedStatus) -> None:
    if state.percentage <= 0 and not state.lowered:
        return  # nothing was published yet: 0 % before the first phase
    nxt = draft.next
    took = max(draft.now - state.since, timedelta(0))
    message = (
        f"{format_percentage(state.percentage)} % served by all {state.instances} instances "
        f"{format_duration(took)} after it was published"
    )
    seq = draft.announce("Normal", "Served", message, notify=False)
    history = list(nxt.history or [])
    history.append(
        HistoryEntry(
            time=draft.now,
            phase=nxt.phase or "Pending",
            step=nxt.current_phase,
            percentage=state.percentage,
            reason="Served",
            message=message,
            seq=seq,
            propagation_seconds=took.total_seconds(),
        )
    )
    nxt.history = history[-HISTORY_LIMIT:]


def _overdue_message(draft: Draft, state: ServedStatus, within: str) -> str:
    target = format_percentage(state.percentage)
    if state.lowered:
        return (
            f"{state.message} {within} after the decrease to {target} %: they give the feature "
            f"to users the rules no longer allow; {RESTART_HINT}, or restart them"
        )
    return (
        f"not served within {within}: {state.message}; {draft.phase.name} holds at {target} % "
        f"and its soak has not started (never promoted on users who did not get the "
        f"feature); {RESTART_HINT}"
    )


def everywhere(state: ServedStatus | None) -> bool:
    """Whether every reporting instance serves the percentage at the last read (and one does)."""
    return state is not None and bool(state.instances) and state.behind == 0


def instances_serve(draft: Draft) -> bool:
    """I10b: whether the soak may count as far as the instances go (always, unchecked)."""
    nxt = draft.next
    if draft.spec.analysis is None or draft.spec.analysis.served is None:
        return True
    state = nxt.instances
    return (
        state is not None
        and abs(state.percentage - target_of(draft)) <= TOLERANCE
        and everywhere(state)
    )


def instances_message(draft: Draft) -> str | None:
    """What the instances serve, in words, when served is checked."""
    state = draft.next.instances
    return state.message if state is not None else None


def checking(status: RolloutStatus) -> bool:
    """Whether the instances are still to be read for the percentage published now: while
    the rollout moves, and after a decrease (a rollback, a disable, an abort) until they serve
    it, when metrics may no longer be analysed."""
    state = status.instances
    return state is not None and not everywhere(state) and (state.lowered or analysing(status))


def served_condition(draft: Draft) -> list[Condition]:
    """The Served condition, when spec.analysis.served is set."""
    state = draft.next.instances
    if state is None:
        return []
    if everywhere(state):
        value = (True, "AllInstancesServe", state.message)
    elif state.lowered and state.overdue and state.behind:
        value = (False, "ServedAboveRules", state.message)
    elif state.overdue:
        value = (False, "NotServedInTime", state.message)
    elif state.instances == 0:
        value = (False, "NoInstances", state.message)
    else:
        value = (False, "Propagating", state.message)
    return [condition(draft, "Served", *value)]
