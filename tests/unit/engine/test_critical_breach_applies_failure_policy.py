"""A sustained critical breach applies failurePolicy at once, with a snapshot and an Event."""

from __future__ import annotations

from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds


def in_second_phase(**policy: object) -> Run:
    spec = make_spec(
        analysis=analysis(
            errors_metric(), {"name": "latency", "query": "l", "warning": {"above": 9}}
        ),
        failurePolicy=policy,
    )
    run = Run(spec)
    run.run_for(minutes(10), seconds(30), {"errors": 0.0, "latency": 1})
    run.step(seconds(30), {"errors": 0.0, "latency": 1})
    assert run.status.current_phase == "half"
    return run


def test_error_spike_in_second_phase_rolls_back_to_zero() -> None:
    run = in_second_phase()
    run.step(seconds(30), {"errors": 0.5, "latency": 1})
    assert (run.phase, run.status.percentage) == ("RolledBack", 0)
    assert run.published.percentage == 0 and run.published.enabled
    assert run.status.rolled_back_from == "half"
    snapshot = run.status.snapshot
    assert snapshot is not None and snapshot.step == "half" and snapshot.percentage == 50
    assert {m.name: m.value for m in snapshot.metrics} == {"errors": 0.5, "latency": 1}
    told = [a for d in run.decisions[-2:] for a in d.announced]
    assert [(a.reason, a.metric, a.percentage) for a in told] == [("RolledBack", "errors", 0)]


def test_rollback_to_previous_phase_publishes_its_percentage() -> None:
    run = in_second_phase(rollbackTo="PreviousPhase")
    run.step(seconds(30), {"errors": 0.5, "latency": 1})
    assert (run.phase, run.status.current_phase, run.status.percentage) == (
        "RolledBack",
        "canary",
        5,
    )


def test_rolled_back_rollout_stays_rolled_back_when_metrics_recover() -> None:
    run = in_second_phase()
    run.step(seconds(30), {"errors": 0.5, "latency": 1})
    run.run_for(minutes(30), seconds(30), {"errors": 0.0, "latency": 1})
    assert (run.phase, run.status.percentage) == ("RolledBack", 0)
    assert run.reasons().count("RolledBack") == 1


def test_disable_flag_turns_the_master_toggle_off() -> None:
    run = in_second_phase(disableFlag=True)
    run.step(seconds(30), {"errors": 0.5, "latency": 1})
    assert run.published.enabled is False


def test_pause_policy_holds_instead_of_rolling_back() -> None:
    run = in_second_phase(action="Pause")
    run.step(seconds(30), {"errors": 0.5, "latency": 1})
    assert (run.phase, run.status.percentage) == ("Paused", 50)
    first = run.status.message
    assert first is not None and "errors" in first and "ramp resume" in first
    run.run_for(minutes(5), seconds(30), {"errors": 0.5, "latency": 1})
    assert run.reasons().count("Paused") == 1
    assert run.status.message == first, "the pause message names the breach and stays put"
    assert run.status.control is not None and run.status.control.pause is not None


def test_for_window_is_exact() -> None:
    spec = make_spec(
        analysis=analysis(errors_metric(critical={"above": 0.05, "for": "2m"}), interval="1s")
    )
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    run.step(seconds(30), {"errors": 0.9})  # breach starts
    run.step(minutes(1) + seconds(59), {"errors": 0.9})
    assert run.phase == "Progressing"
    run.step(seconds(1), {"errors": 0.9})
    assert run.phase == "RolledBack"


def test_a_passing_sample_resets_the_for_window() -> None:
    spec = make_spec(analysis=analysis(errors_metric(critical={"above": 0.05, "for": "2m"})))
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    run.step(seconds(30), {"errors": 0.9})
    run.step(minutes(1), {"errors": 0.0})
    run.step(minutes(1), {"errors": 0.9})
    run.step(minutes(1), {"errors": 0.9})
    assert run.phase == "Progressing"
    run.step(minutes(1), {"errors": 0.9})
    assert run.phase == "RolledBack"


def test_ratio_threshold_compares_with_the_baseline_captured_at_start() -> None:
    spec = make_spec(
        analysis=analysis(
            {
                "name": "p99",
                "query": "q",
                "baseline": {"capture": "AtStart"},
                "critical": {"aboveBaselineRatio": 2.0},
            }
        )
    )
    run = Run(spec)
    run.step(metrics={"p99": 0.4})
    assert run.status.baseline == {"p99": 0.4}
    run.step(seconds(30), {"p99": 0.79})
    assert run.phase == "Progressing"
    run.step(seconds(30), {"p99": 0.81})
    assert run.phase == "RolledBack"


def test_baseline_waits_for_data_before_the_first_phase() -> None:
    spec = make_spec(
        analysis=analysis(
            {"name": "p99", "query": "q", "baseline": {}, "critical": {"aboveBaselineRatio": 2}}
        )
    )
    run = Run(spec)
    run.step(metrics={"p99": None})
    assert (run.phase, run.published.percentage) == ("Pending", 0)
    run.step(seconds(30), {"p99": 0.3})
    assert (run.phase, run.status.percentage, run.status.baseline) == (
        "Progressing",
        5,
        {"p99": 0.3},
    )


def test_phase_override_applies_only_in_its_phase() -> None:
    spec = make_spec(
        phases=[
            {
                "name": "canary",
                "percentage": 5,
                "duration": "1m",
                "metrics": [{"name": "errors", "critical": {"above": 0.001}}],
            },
            {"name": "all", "percentage": 100, "duration": "1h"},
        ],
        analysis=analysis(errors_metric()),
    )
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    run.run_for(minutes(1), seconds(30), {"errors": 0.0})
    assert run.status.current_phase == "all"
    run.step(seconds(30), {"errors": 0.01})  # fine under the default 0.05
    assert run.phase == "Progressing"

    early = Run(spec)
    early.step(metrics={"errors": 0.0})
    early.step(seconds(30), {"errors": 0.01})  # above the canary's 0.001
    assert early.phase == "RolledBack"


def test_resume_judges_on_evidence_gathered_after_it() -> None:
    """A value read before the fix reached Prometheus (a scrape behind the resume) must not
    pause again at once: the breach windows start afresh with the resume, and a breach that
    goes on pauses again once it has lasted its `for`."""
    spec = make_spec(
        analysis=analysis(errors_metric(critical={"above": 0.05, "for": "1m"}), interval="10s"),
        failurePolicy={"action": "Pause"},
    )
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    run.run_for(minutes(2), seconds(10), {"errors": 0.9})
    assert run.phase == "Paused" and run.reasons().count("Paused") == 1

    run.act("resume")
    run.step(seconds(10), {"errors": 0.9})  # the stale sample
    assert run.phase == "Progressing", "one stale value re-paused a resumed rollout"
    assert run.status.percentage == 5
    run.run_for(seconds(50), seconds(10), {"errors": 0.9})
    assert run.phase == "Progressing"
    run.step(seconds(10), {"errors": 0.9})
    assert run.phase == "Paused" and run.reasons().count("Paused") == 2


def test_resume_holds_promotion_until_a_fresh_healthy_evaluation() -> None:
    spec = make_spec(
        [
            {"name": "canary", "percentage": 5, "duration": "1m"},
            {"name": "all", "percentage": 100},
        ],
        analysis=analysis(errors_metric(), interval="1m"),
        failurePolicy={"action": "Pause"},
    )
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    run.step(minutes(1), {"errors": 0.9})
    assert run.phase == "Paused"
    run.act("resume")
    run.step(seconds(1))  # no evaluation due: the last verdict was Critical (I5)
    assert (run.phase, run.status.percentage) == ("Progressing", 5)
    run.step(minutes(1), {"errors": 0.0})
    assert run.status.current_phase == "all"


def test_a_rollback_names_every_metric_that_failed() -> None:
    spec = make_spec(
        analysis=analysis(
            errors_metric(),
            {"name": "latency", "query": "l", "critical": {"above": 9}},
        )
    )
    run = Run(spec)
    run.step(metrics={"errors": 0.0, "latency": 1})
    run.step(seconds(30), {"errors": 0.5, "latency": 12})
    assert run.phase == "RolledBack"
    message = run.status.message or ""
    assert "errors" in message and "latency" in message, message
    snapshot = run.status.snapshot
    assert snapshot is not None and "latency" in snapshot.reason


def test_a_lasting_error_pauses_once_and_counts_errors_that_read_right() -> None:
    spec = make_spec(
        analysis=analysis(errors_metric(), interval="4s", errorLimit=4),
        failurePolicy={"action": "Pause"},
    )
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    for _ in range(12):  # Prometheus unreachable; reconciles between analyses too
        run.step(seconds(4), {"errors": "error"})
        run.step(seconds(1))
    assert run.phase == "Paused"
    assert run.reasons().count("Paused") == 1, run.reasons()
    snapshot = run.status.snapshot
    assert snapshot is not None and "(4/4)" in snapshot.reason, "kept as the policy applied"
    metric = (run.status.metrics or [])[0]
    assert metric.message is not None and "/4)" not in metric.message, metric.message
    assert "12 times in a row (errorLimit 4)" in metric.message
