"""A `compare` metric through the engine: a regression of the flag-on cohort applies the failure
policy, too few treatment units hold promotion, evidence survives promotions, and a rollback
or a new maxRatio starts the comparison afresh."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from ramp.api import RolloutSpec
from ramp.engine.observations import MetricSample
from ramp.engine.sequential import WindowCounts
from tests.support.engine import Run, analysis, make_spec, seconds
from tests.support.invariants import Analysed, Moment, check_trace

TEN_SECONDS = timedelta(seconds=10)

COMPARE = {
    "name": "failures-vs-control",
    "compare": {"failures": 'jobs_failed_total{queue="reports"}', "total": "jobs_total"},
}


def compare_spec(failure_policy: dict[str, Any] | None = None, **compare: Any) -> RolloutSpec:
    metric = {**COMPARE, "compare": {**COMPARE["compare"], **compare}}
    return make_spec(
        [
            {"name": "canary", "percentage": 5, "duration": "2m"},
            {"name": "quarter", "percentage": 25, "duration": "30m"},
            {"name": "all", "percentage": 100},
        ],
        analysis=analysis(metric, interval="10s"),
        failurePolicy=failure_policy or {"action": "Rollback", "rollbackTo": "PreviousPhase"},
    )


class Traffic:
    """Expected counts of 200 units/s split by what the run publishes."""

    def __init__(self, run: Run, treatment_rate: float, control_rate: float = 0.01) -> None:
        self.run = run
        self.treatment_rate = treatment_rate
        self.control_rate = control_rate

    def sample(self) -> MetricSample:
        before = next(
            (m.compare for m in self.run.status.metrics or [] if m.compare is not None), None
        )
        now = self.run.now
        if before is None:
            return MetricSample(until=now)
        fraction = (self.run.status.percentage or 0) / 100
        units = 200 * (now - before.observed_until).total_seconds()
        return MetricSample(
            counts=WindowCounts(
                units * fraction,
                units * fraction * self.treatment_rate,
                units * (1 - fraction),
                units * (1 - fraction) * self.control_rate,
            ),
            until=now,
        )

    def step(self, after: timedelta = TEN_SECONDS) -> None:
        self.run.now += after
        self.run.step(metrics={"failures-vs-control": self.sample()})


def comparison(run: Run) -> Any:
    metric = next(m for m in run.status.metrics or [] if m.name == "failures-vs-control")
    return metric.compare


def test_a_2x_regression_at_5_percent_rolls_back_and_the_snapshot_keeps_both_cohorts() -> None:
    run = Run(compare_spec({"action": "Rollback", "rollbackTo": "Zero"}))
    traffic = Traffic(run, treatment_rate=0.02)
    for _ in range(60):
        traffic.step()
        if run.phase == "RolledBack":
            break
    assert run.phase == "RolledBack"
    assert run.status.percentage == 0
    snapshot = run.status.snapshot
    assert snapshot is not None and "regressed" in snapshot.reason
    kept = snapshot.metrics[0].compare
    assert kept is not None and kept.verdict == "Regressed"
    assert kept.treatment.failure_rate == pytest.approx(0.02)
    assert kept.control.failure_rate == pytest.approx(0.01)
    assert kept.ratio == pytest.approx(2.0)
    assert kept.ratio_low is not None and kept.ratio_low >= 1.0


def test_an_equal_treatment_completes_and_the_evidence_spans_every_phase() -> None:
    run = Run(compare_spec())
    traffic = Traffic(run, treatment_rate=0.01)
    units_at_quarter = None
    for _ in range(400):
        traffic.step()
        if run.status.current_phase == "quarter" and units_at_quarter is None:
            units_at_quarter = comparison(run).treatment.units
        if run.phase == "Completed":
            break
    assert run.phase == "Completed", run.status.message
    assert units_at_quarter is not None and units_at_quarter > 0
    # what 5 % gathered was kept: the comparison began in canary and went on
    assert comparison(run).treatment.units > units_at_quarter


def test_fewer_treatment_units_than_min_events_hold_promotion() -> None:
    run = Run(compare_spec(minEvents=5000))
    traffic = Traffic(run, treatment_rate=0.01)
    for _ in range(13):  # 2m10s: past the canary's soak, 10 treatment units/s so far
        traffic.step()
    assert run.status.current_phase == "canary"
    assert "inconclusive" in (run.status.message or "")
    assert comparison(run).verdict == "Inconclusive"
    # between evaluations the hold stays
    run.step(seconds(1))
    assert run.status.current_phase == "canary"
    for _ in range(40):  # 5000 units reached near 8m20s
        traffic.step(seconds(10))
    assert run.status.current_phase == "quarter"


def test_no_treatment_units_while_the_flag_serves_pauses_as_no_data() -> None:
    run = Run(compare_spec())
    traffic = Traffic(run, treatment_rate=0.01)
    traffic.step()  # starts the canary
    traffic.step()  # the comparison begins
    no_treatment = MetricSample(counts=WindowCounts(0, 0, 2000, 20), until=run.now + seconds(10))
    run.now += seconds(10)
    run.step(metrics={"failures-vs-control": no_treatment})
    assert run.phase == "Paused"
    assert "no data for failures-vs-control" in (run.status.message or "")
    traffic.step()
    assert run.phase == "Progressing"


def test_counters_without_series_keep_the_window_open_and_count_as_no_data() -> None:
    run = Run(compare_spec())
    traffic = Traffic(run, treatment_rate=0.01)
    traffic.step()
    traffic.step()
    opened = comparison(run).observed_until
    run.now += seconds(10)
    run.step(metrics={"failures-vs-control": MetricSample()})
    assert run.phase == "Paused"
    assert comparison(run).observed_until == opened  # the next window covers the gap
    traffic.step()
    assert comparison(run).treatment.units == pytest.approx(200 * 20 * 0.05)


def test_a_rollback_to_the_previous_phase_starts_the_comparison_afresh() -> None:
    run = Run(compare_spec())
    traffic = Traffic(run, treatment_rate=0.01)
    while run.status.current_phase != "quarter":
        traffic.step()
    traffic.treatment_rate = 0.03
    while run.phase != "RolledBack":
        traffic.step()
    assert run.status.current_phase == "canary" and run.status.percentage == 5
    assert comparison(run) is None  # a new exposure: new evidence is needed to step down again
    traffic.step()
    started = comparison(run)
    assert started is not None and started.treatment.units == 0
    while run.phase == "RolledBack" and run.status.percentage:
        traffic.step()
    assert run.status.percentage == 0
    assert [h.percentage for h in run.status.history or [] if h.phase == "RolledBack"] == [5, 0]


def test_editing_max_ratio_restarts_the_evidence_on_the_new_grid() -> None:
    run = Run(compare_spec())
    traffic = Traffic(run, treatment_rate=0.01)
    for _ in range(5):
        traffic.step()
    assert comparison(run).treatment.units > 0
    run.spec = compare_spec(maxRatio=1.5)
    traffic.step()
    restarted = comparison(run)
    assert restarted.max_ratio == 1.5 and restarted.treatment.units == 0


def test_query_errors_keep_the_evidence_and_count_against_the_error_limit() -> None:
    run = Run(compare_spec())
    traffic = Traffic(run, treatment_rate=0.01)
    for _ in range(3):
        traffic.step()
    kept = comparison(run)
    run.now += seconds(10)
    run.step(metrics={"failures-vs-control": MetricSample(error="cannot reach Prometheus")})
    metric = run.status.metrics[0]  # type: ignore[index]
    assert metric.verdict == "Error" and metric.consecutive_errors == 1
    assert comparison(run) == kept


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ({**COMPARE, "query": "sum(x)"}, "either query"),
        ({**COMPARE, "critical": {"above": 1}}, "has no warning, critical or baseline"),
        ({"name": "x", "compare": {**COMPARE["compare"], "control": "on"}}, "different variants"),
        (
            {"name": "x", "compare": {"failures": "a{b=c}", "total": "t"}},
            "compare.failures",
        ),
        (
            {
                "name": "x",
                "compare": {"failures": 'f{feature_flag_result_variant="on"}', "total": "t"},
            },
            "Ramp adds the treatment and control matchers",
        ),
    ],
)
def test_invalid_compare_metrics_are_refused_naming_the_field(
    metric: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_spec(analysis=analysis(metric))


def test_a_phase_cannot_override_thresholds_of_a_compare_metric() -> None:
    with pytest.raises(ValidationError, match="is a compare metric"):
        make_spec(
            [
                {
                    "name": "canary",
                    "percentage": 5,
                    "metrics": [{"name": "failures-vs-control", "critical": {"above": 1}}],
                }
            ],
            analysis=analysis(COMPARE),
        )


def recorded(run: Run, traffic: Traffic, steps: int) -> tuple[list[Moment], list[Analysed]]:
    """The run as the invariant checker reads it: every stored status and every evaluation."""
    trace = [Moment(run.now, run.spec, run.status, run.config_map)]
    analysed: list[Analysed] = []
    for _ in range(steps):
        run.now += TEN_SECONDS
        sample = traffic.sample()
        evaluated = run.status.last_analysis_at
        run.step(metrics={"failures-vs-control": sample})
        if run.status.last_analysis_at != evaluated:
            analysed.append(Analysed(run.now, {"failures-vs-control": sample}))
        trace.append(Moment(run.now, run.spec, run.status, run.config_map))
        if run.phase == "Completed":
            break
    return trace, analysed


def test_promotions_keep_i5_with_a_compare_metric_and_the_checker_catches_an_early_one() -> None:
    run = Run(compare_spec(minEvents=2000))
    trace, analysed = recorded(run, Traffic(run, treatment_rate=0.01), 400)
    assert run.phase == "Completed"
    check_trace(trace, analysed=analysed)
    # The same promotion on a comparison that had not reached minEvents is a violation.
    promoted = next(i for i, m in enumerate(trace) if m.status.current_phase == "quarter")
    early = trace[promoted].status.model_copy(deep=True)
    assert early.metrics is not None and early.metrics[0].compare is not None
    early.metrics[0].compare.treatment.units = 10
    trace[promoted] = Moment(trace[promoted].at, run.spec, early, trace[promoted].published)
    with pytest.raises(AssertionError, match="I5 violated"):
        check_trace(trace, analysed=analysed)


def test_a_crash_before_the_status_write_neither_loses_nor_double_counts_a_window() -> None:
    run = Run(compare_spec())
    traffic = Traffic(run, treatment_rate=0.01)
    for _ in range(3):
        traffic.step()
    stored = run.status
    counted = comparison(run).treatment.units
    traffic.step()  # decided, but the operator dies before the status write lands
    run.status = stored
    traffic.step()  # the restarted operator asks again from the stored window's end
    # 20 s at 5 % of 200 units/s since the stored window, counted exactly once
    assert comparison(run).treatment.units == pytest.approx(counted + 200)
