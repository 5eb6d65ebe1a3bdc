"""I2: once `failurePolicy.disableFlag` publishes enabled=false, it stays false until a person
acts (`ramp resume`, `ramp retry`, a spec change), whatever the metric does meanwhile.

Hole found by review: under `action: Pause` the next reconcile published enabled=true again
while the metric still breached."""

from __future__ import annotations

from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds

BREACH = {"errors": 0.5}
HEALTHY = {"errors": 0.0}


def breached(generation: int = 1, **policy: object) -> Run:
    run = Run(make_spec(analysis=analysis(errors_metric()), failurePolicy=policy))
    run.generation = generation
    run.run_for(minutes(11), seconds(30), HEALTHY)
    assert run.status.current_phase == "half"
    run.step(seconds(30), BREACH)
    assert run.published.enabled is False
    return run


def test_pause_with_disable_flag_keeps_the_flag_off_while_the_breach_goes_on() -> None:
    run = breached(action="Pause", disableFlag=True)
    for _ in range(10):
        run.step(seconds(30), BREACH)
        assert run.published.enabled is False, run.status.message
    assert run.phase == "Paused"


def test_pause_with_disable_flag_keeps_the_flag_off_after_the_metric_recovers() -> None:
    run = breached(action="Pause", disableFlag=True)
    run.run_for(minutes(10), seconds(30), HEALTHY)
    assert (run.phase, run.published.enabled) == ("Paused", False)


def test_resume_turns_the_flag_back_on() -> None:
    run = breached(action="Pause", disableFlag=True)
    run.run_for(minutes(2), seconds(30), HEALTHY)
    run.act("resume")
    run.step(seconds(30), HEALTHY)
    assert (run.phase, run.published.enabled, run.published.percentage) == ("Progressing", True, 50)


def test_a_spec_change_turns_the_flag_back_on() -> None:
    run = breached(action="Rollback", rollbackTo="PreviousPhase", disableFlag=True)
    run.run_for(minutes(2), seconds(30), HEALTHY)
    assert (run.phase, run.published.enabled) == ("RolledBack", False)
    run.generation = 2
    run.step(seconds(30), HEALTHY)
    assert (run.published.enabled, run.published.percentage) == (True, 5)


def test_retry_turns_the_flag_back_on() -> None:
    run = breached(action="Rollback", disableFlag=True)
    run.with_control(retry={"requestedAt": "2026-03-01T12:00:00Z"})
    run.step(seconds(30), HEALTHY)
    assert (run.phase, run.published.enabled, run.published.percentage) == ("Progressing", True, 5)
