"""I6: after `rollbackTo: PreviousPhase`, analysis goes on at the previous percentage, and a
breach that goes on steps down again, phase by phase, to 0 %; each step is recorded.

Hole found by review: the rollout sat in RolledBack at a non-zero percentage with no analysis."""

from __future__ import annotations

from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds

PHASES = [
    {"name": "p10", "percentage": 10, "duration": "10m"},
    {"name": "p25", "percentage": 25, "duration": "10m"},
    {"name": "p50", "percentage": 50, "duration": "10m"},
    {"name": "all", "percentage": 100},
]


def at_fifty(**metric: object) -> Run:
    spec = make_spec(
        PHASES,
        analysis=analysis(errors_metric(**metric)),
        failurePolicy={"rollbackTo": "PreviousPhase"},
    )
    run = Run(spec)
    run.run_for(minutes(21), seconds(30), {"errors": 0.0})
    run.step(seconds(30), {"errors": 0.0})
    assert run.status.current_phase == "p50"
    return run


def test_a_breach_that_goes_on_steps_down_to_zero() -> None:
    run = at_fifty()
    run.step(seconds(30), {"errors": 0.5})
    assert (run.phase, run.published.percentage) == ("RolledBack", 25)
    seen = [run.published.percentage]
    for _ in range(6):
        run.step(seconds(30), {"errors": 0.5})
        seen.append(run.published.percentage)
    assert seen[:4] == [25, 10, 0, 0]
    steps = [(h.percentage, h.reason) for h in run.status.history or [] if h.phase == "RolledBack"]
    assert steps == [(25, "RolledBack"), (10, "RolledBack"), (0, "RolledBack")]


def test_each_step_waits_for_a_new_for_window() -> None:
    run = at_fifty(critical={"above": 0.05, "for": "2m"})
    run.run_for(minutes(2.5), seconds(30), {"errors": 0.5})
    assert run.published.percentage == 25
    run.run_for(minutes(1), seconds(30), {"errors": 0.5})
    assert run.published.percentage == 25, "a new exposure needs its own sustained breach"
    run.run_for(minutes(1.5), seconds(30), {"errors": 0.5})
    assert run.published.percentage == 10


def test_a_recovered_metric_holds_the_previous_phase_and_keeps_analysing() -> None:
    run = at_fifty()
    run.step(seconds(30), {"errors": 0.5})
    before = run.status.last_analysis_at
    run.run_for(minutes(30), seconds(30), {"errors": 0.0})
    assert (run.phase, run.published.percentage) == ("RolledBack", 25)
    assert run.status.last_analysis_at is not None and before is not None
    assert run.status.last_analysis_at > before
