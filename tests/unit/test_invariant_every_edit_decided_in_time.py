"""I12's check over a recorded trace: an edit counts as decided once a stored status has observed
its generation and the ConfigMap serves what that status says; the lag runs from the edit, or
from the end of an outage in which nothing could be decided."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine import PublishFlag
from ramp.engine.bucketing import publish_of
from tests.support.engine import T0, make_spec
from tests.support.invariants import (
    DecisionLag,
    Moment,
    check_every_edit_decided_in_time,
    decision_lags,
)

BOUND = timedelta(seconds=5)
SPEC = make_spec()
DISABLED = make_spec(enabled=False)


def at(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def check(
    trace: list[Moment],
    generations: list[int],
    until: float = 60,
    down_windows: Sequence[tuple[datetime, datetime]] = (),
) -> list[DecisionLag]:
    """I12 over ``trace`` recorded up to T0 + ``until`` seconds with BOUND: every lag."""
    lags = decision_lags(
        trace, generations, until=T0 + at(until), bound=BOUND, down_windows=down_windows
    )
    check_every_edit_decided_in_time(lags, bound=BOUND, t0=trace[0].at)
    return lags


def stored(generation: int, phase: str, percentage: float) -> RolloutStatus:
    return RolloutStatus.model_validate(
        {
            "phase": phase,
            "currentPhase": "canary",
            "percentage": percentage,
            "enabled": phase != "Disabled",
            "observedGeneration": generation,
        }
    )


def progressing(generation: int) -> RolloutStatus:
    return stored(generation, "Progressing", 5)


def disabled(generation: int) -> RolloutStatus:
    return stored(generation, "Disabled", 0)


FIVE = publish_of(SPEC, progressing(1))
OFF = PublishFlag(False, 0, FIVE.bucketing)


def moment(seconds: float, spec: RolloutSpec, status: RolloutStatus, served: PublishFlag) -> Moment:
    return Moment(T0 + at(seconds), spec, status, served)


def kill_switch(decided_after: float, published_after: float) -> list[Moment]:
    """Generation 1 served at 5 %, then spec.enabled false (generation 2) at t=10; the status
    records it ``decided_after`` seconds later, the ConfigMap serves 0 % ``published_after``."""
    status_at, served_at = 10 + decided_after, 10 + published_after
    trace = [moment(0, SPEC, progressing(1), FIVE), moment(10, DISABLED, progressing(1), FIVE)]
    if served_at <= status_at:  # a decrease is published first
        trace.append(moment(served_at, DISABLED, progressing(1), OFF))
        trace.append(moment(status_at, DISABLED, disabled(2), OFF))
    else:
        trace.append(moment(status_at, DISABLED, disabled(2), FIVE))
        trace.append(moment(served_at, DISABLED, disabled(2), OFF))
    return trace


GENERATIONS = [1, 2, 2, 2]


def test_kill_switch_decided_within_the_bound_passes_and_gives_its_lag() -> None:
    trace = kill_switch(decided_after=1.5, published_after=1.0)

    lags = check(trace, GENERATIONS)

    assert [(lag.generation, lag.lag) for lag in lags] == [(1, at(0)), (2, at(1.5))]


def test_status_observed_but_configmap_still_serving_the_old_percentage_is_late() -> None:
    trace = kill_switch(decided_after=1.0, published_after=8.0)

    with pytest.raises(AssertionError, match=r"I12 violated: 1 edit.*generation 2.* 8.00s"):
        check(trace, GENERATIONS)


def test_an_edit_filed_as_decided_but_never_decided_is_late() -> None:
    """Hole 1 as the trace shows it: the old percentage is served, observedGeneration stays."""
    trace = [moment(0, SPEC, progressing(1), FIVE), moment(10, DISABLED, progressing(1), FIVE)]

    with pytest.raises(AssertionError, match=r"generation 2 .*never decided"):
        check(trace, [1, 2])
    # The recording ending within the bound leaves it unjudged.
    check(trace, [1, 2], until=14)


def test_lag_counts_from_when_an_operator_leads_again() -> None:
    trace = kill_switch(decided_after=9.0, published_after=8.5)
    killed = (T0 + at(12), T0 + at(17))  # killed 2 s after the edit, the next one leads at 17

    lags = check(trace, GENERATIONS, down_windows=[killed])

    assert lags[-1].since == T0 + at(17) and lags[-1].lag == at(2)
    # An outage that begins once the time is up excuses nothing.
    late = (T0 + at(16), T0 + at(17))
    with pytest.raises(AssertionError, match="I12 violated"):
        check(trace, GENERATIONS, down_windows=[late])


def test_a_later_generation_decided_decides_the_ones_before() -> None:
    trace = [
        moment(0, SPEC, progressing(1), FIVE),
        moment(10, DISABLED, progressing(1), FIVE),
        moment(11, SPEC, progressing(1), FIVE),
        moment(12, SPEC, progressing(3), FIVE),
    ]

    lags = check(trace, [1, 2, 3, 3])

    assert [(lag.generation, lag.lag) for lag in lags] == [(1, at(0)), (2, at(2)), (3, at(1))]
