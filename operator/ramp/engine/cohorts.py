"""The verdict of a `compare` metric: flag-on vs flag-off, one analysis window at a time.

Each window's counts (from the shell) are folded into `status.metrics[].compare`: the cohorts'
totals since the comparison began and the sequential test's log-likelihoods (see `sequential`).
The comparison begins at the first evaluation of a phase that serves the feature and carries its
evidence across promotions; a rollback, a retry or a new `maxRatio` starts it afresh, like the
`for` windows of threshold metrics.

- Regressed: the test concluded that the treatment fails more often than maxRatio x control; a
  sustained critical breach, the failure policy applies at once.
- Inconclusive: fewer than minEvents treatment units so far; holds promotion.
- Passing: enough units, no regression concluded.
- No treatment unit at all in the windows counted while the feature is served: NoData (onNoData).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ramp.api.spec import Compare, NoDataPolicy
from ramp.api.status import Cohort, CompareStatus, Comparison, Verdict
from ramp.engine import sequential
from ramp.engine.observations import MetricSample


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    message: str
    compare: CompareStatus
    breach: tuple[str, str] | None = None
    """(reason, message) when the failure policy applies."""

    hold: str | None = None
    """Why promotion waits."""


def carried(before: CompareStatus | None, spec: Compare) -> CompareStatus | None:
    """The comparison to go on with; None when it starts afresh (none yet, or a new maxRatio
    whose grid the kept evidence does not fit)."""
    if before is None or before.max_ratio != spec.max_ratio or not before.log_likelihood:
        return None
    if len(before.log_likelihood) != len(sequential.GRID):
        return None
    return before


def _cohort(before: Cohort, units: float, failures: float) -> Cohort:
    units, failures = before.units + units, before.failures + failures
    return Cohort(
        units=units, failures=failures, failure_rate=failures / units if units > 0 else None
    )


def fold(state: CompareStatus | None, spec: Compare, sample: MetricSample) -> CompareStatus:
    """The comparison after one more window (or begun at ``sample.until``)."""
    until = sample.until
    assert until is not None, "a compare sample says when its window ends"
    if state is None:
        return CompareStatus(
            started_at=until,
            observed_until=until,
            max_ratio=spec.max_ratio,
            log_likelihood=sequential.fresh(),
        )
    counts = sample.counts
    if counts is None or until <= state.observed_until:
        return state
    seconds = (until - state.observed_until).total_seconds()
    treatment = _cohort(state.treatment, counts.treatment_units, counts.treatment_failures)
    control = _cohort(state.control, counts.control_units, counts.control_failures)
    ll = sequential.update(state.log_likelihood, counts, spec.max_ratio)
    ratio = None
    if treatment.failure_rate is not None and control.failure_rate:
        ratio = treatment.failure_rate / control.failure_rate
    interval = sequential.ratio_interval(ll, spec.max_ratio, spec.confidence)
    return state.model_copy(
        update={
            "observed_until": until,
            "treatment": treatment,
            "control": control,
            "log_likelihood": [round(v, 6) for v in ll],
            "ratio": ratio,
            "ratio_low": interval[0] if interval else None,
            "ratio_high": interval[1] if interval else None,
            "evidence": sequential.regression_evidence(ll),
            "units_per_second": (counts.treatment_units + counts.control_units) / seconds,
        }
    )


def _rates(state: CompareStatus) -> str:
    def pct(cohort: Cohort) -> str:
        rate = cohort.failure_rate
        return "no units" if rate is None else f"{rate:.3%} of {cohort.units:.0f}"

    return f"treatment {pct(state.treatment)}, control {pct(state.control)}"


def _interval(state: CompareStatus, spec: Compare) -> str:
    if state.ratio_low is None or state.ratio_high is None:
        return ""
    return f", {spec.confidence:.0%} interval {state.ratio_low:.3g}-{state.ratio_high:.3g}x"


def judge(
    name: str,
    spec: Compare,
    on_no_data: NoDataPolicy,
    sample: MetricSample,
    before: CompareStatus | None,
    exposed: bool,
    now: datetime,
) -> Judgement:
    """A compare metric's verdict after a fresh evaluation. ``exposed``: the flag serves the
    feature to some users now. A sample without ``until`` means the counters returned no series
    at all: the window stays open (nothing is lost) and it is no data."""
    state = carried(before, spec)
    silent = sample.until is None
    if silent:
        state = state or fold(None, spec, MetricSample(until=now))
    else:
        state = fold(state, spec, sample)
    verdict = "Regressed" if sequential.regressed(state.log_likelihood, spec.confidence) else None
    counted = state.observed_until > state.started_at
    if verdict == "Regressed":
        state = state.model_copy(update={"verdict": "Regressed"})
        ratio = f"{state.ratio:.3g}x" if state.ratio is not None else "more often than"
        message = (
            f"regressed: the treatment fails {ratio} the control's rate ({_rates(state)}"
            f"{_interval(state, spec)}): above maxRatio {spec.max_ratio:g} at "
            f"{spec.confidence:.0%} confidence"
        )
        return Judgement("Critical", message, state, breach=("CriticalBreach", f"{name} {message}"))
    if exposed and (silent or (counted and state.treatment.units <= 0)):
        state = state.model_copy(update={"verdict": "Inconclusive"})
        what = "the counters returned no series" if silent else "no treatment units yet"
        if on_no_data == "Ignore":
            return Judgement("Pass", f"{what} (ignored: onNoData is Ignore)", state)
        breach = None
        if on_no_data == "Fail":
            breach = ("NoData", f"{name}: {what} while the flag serves the feature")
        return Judgement("NoData", what, state, breach=breach)
    if state.treatment.units < spec.min_events:
        state = state.model_copy(update={"verdict": "Inconclusive"})
        message = (
            f"inconclusive: {state.treatment.units:g}/{spec.min_events} treatment units "
            f"({_rates(state)})"
        )
        hold = f"{name} is inconclusive ({state.treatment.units:g}/{spec.min_events} units)"
        return Judgement("Pass", message, state, hold=hold if exposed else None)
    state = state.model_copy(update={"verdict": "Passing"})
    ratio = f"{state.ratio:.3g}x" if state.ratio is not None else "no failures yet"
    message = f"passing: ratio {ratio} ({_rates(state)}{_interval(state, spec)})"
    return Judgement("Pass", message, state)


def waiting(name: str, before: CompareStatus | None, spec: Compare, exposed: bool) -> str | None:
    """Between evaluations: why promotion still waits on this comparison, if it does."""
    if not exposed:
        return None
    state = carried(before, spec)
    if state is None:
        return f"{name} has not compared the cohorts yet"
    if state.verdict == "Inconclusive":
        return f"{name} is inconclusive ({state.treatment.units:g}/{spec.min_events} units)"
    return None


def summary(state: CompareStatus | None) -> Comparison | None:
    """What a snapshot keeps of a comparison: the cohorts and the test, not its state."""
    if state is None:
        return None
    return Comparison.model_validate(state.model_dump(include=set(Comparison.model_fields)))


def window_start(before: CompareStatus | None, spec: Compare) -> datetime | None:
    """Where the shell's next window begins; None: the comparison (re)starts at the query."""
    state = carried(before, spec)
    return state.observed_until if state is not None else None
