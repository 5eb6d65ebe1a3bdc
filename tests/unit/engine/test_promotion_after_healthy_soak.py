"""A phase is promoted only when its duration has passed healthy, on fresh metric values."""

from __future__ import annotations

from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds


def test_phases_walk_to_completed_after_each_soak() -> None:
    run = Run(make_spec())
    run.step()
    assert (run.phase, run.status.percentage) == ("Progressing", 5)
    assert run.published.percentage == 5
    run.step(minutes(9))
    assert run.status.current_phase == "canary"
    run.step(minutes(1))
    assert (run.status.current_phase, run.status.percentage) == ("half", 50)
    run.step(minutes(10))
    run.step()
    assert (run.phase, run.status.percentage) == ("Completed", 100)
    assert run.reasons() == ["Started", "Promoted", "Promoted", "Completed"]


def test_next_promotion_is_the_end_of_the_soak() -> None:
    run = Run(make_spec())
    run.step()
    assert run.status.next_promotion_at == run.now + minutes(10)
    assert run.status.message is not None and "soaks until" in run.status.message


def test_no_promotion_while_a_critical_value_is_inside_its_for_window() -> None:
    spec = make_spec(analysis=analysis(errors_metric(critical={"above": 0.05, "for": "5m"})))
    run = Run(spec)
    run.step(metrics={"errors": 0.01})
    run.run_for(minutes(9) + seconds(30), seconds(30), {"errors": 0.01})
    run.step(seconds(30), {"errors": 0.2})  # the soak ends on a value over the threshold
    assert run.status.current_phase == "canary"
    assert run.phase == "Progressing"
    assert run.status.message is not None and "holding canary" in run.status.message
    run.step(seconds(30), {"errors": 0.01})
    assert run.status.current_phase == "half"


def test_promotion_waits_for_an_analysis_after_the_soak() -> None:
    spec = make_spec(analysis=analysis(errors_metric(), interval="5m"))
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    run.step(minutes(10))  # soak over, no fresh values handed in
    assert run.status.current_phase == "canary"
    run.step(metrics={"errors": 0.0})
    assert run.status.current_phase == "half"


def test_nothing_changes_when_nothing_is_due() -> None:
    spec = make_spec(analysis=analysis(errors_metric()))
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    before = run.status
    run.step(seconds(5), metrics={"errors": 0.0})
    assert run.status == before
    assert run.reasons() == ["Started"]
