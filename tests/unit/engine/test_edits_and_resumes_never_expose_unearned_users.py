"""Holes the model-based test (test_rollout_model.py) found in the engine, each pinned here by
the smallest case: spec edits and resumes never expose users a rule did not earn."""

from __future__ import annotations

from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds

HEALTHY = {"errors": 0.0}
BREACH = {"errors": 0.9}
PHASES = [
    {"name": "p0", "percentage": 5, "duration": "10m"},
    {"name": "p1", "percentage": 10, "duration": "10m"},
    {"name": "p2", "percentage": 50},
]


def test_resume_after_a_failure_pause_does_not_promote_on_the_critical_verdict() -> None:
    """I5: `ramp resume` with no fresh evaluation used to promote past a Critical metric."""
    spec = make_spec(
        [{"name": "p0", "percentage": 5, "duration": "0s"}, {"name": "p1", "percentage": 50}],
        analysis=analysis(errors_metric()),
        failurePolicy={"action": "Pause"},
    )
    run = Run(spec)
    run.step(metrics=BREACH)
    run.step(seconds(30), BREACH)
    assert run.phase == "Paused"
    run.act("resume")
    run.step(seconds(1))  # analysis not due: the last verdict is Critical
    assert (run.status.current_phase, run.published.percentage) == ("p0", 5)
    assert "critical at its last evaluation" in (run.status.message or "")


def test_an_edit_raising_the_current_phase_waits_while_paused() -> None:
    """I4: an edit raising the current phase's percentage was published while paused."""
    run = Run(make_spec(PHASES))
    run.step()
    run.spec = make_spec([{**PHASES[0], "percentage": 8}, *PHASES[1:]], paused=True)
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("Paused", 5)
    run.spec = make_spec([{**PHASES[0], "percentage": 8}, *PHASES[1:]])
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("Progressing", 8)


def test_an_edit_leaving_only_higher_phases_rolls_back_to_zero() -> None:
    """I1: removing the current phase and every lower one jumped to the first phase left."""
    run = Run(make_spec(PHASES))
    run.step()
    run.spec = make_spec(PHASES[1:])
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("RolledBack", 0)
    assert "ramp retry" in (run.status.message or "")


def test_a_phase_that_takes_the_place_of_a_removed_one_soaks_from_then() -> None:
    """I1/I10: the phase mapped in by an edit was promoted on the removed phase's soak."""
    run = Run(make_spec(PHASES))
    run.step()
    run.step(minutes(9))
    renamed = [{**PHASES[0], "name": "canary"}, *PHASES[1:]]
    run.spec = make_spec(renamed)
    run.step(minutes(1))
    assert run.status.current_phase == "canary"
    assert run.status.next_promotion_at == run.now + minutes(10)


def test_a_promote_for_a_phase_edited_away_is_dropped() -> None:
    run = Run(make_spec(PHASES))
    run.step()
    run.with_control(promote={"phaseIndex": 0, "phase": "p0"})
    run.spec = make_spec([{**PHASES[0], "name": "canary"}, *PHASES[1:]])
    run.step(seconds(1))
    assert (run.status.current_phase, run.published.percentage) == ("canary", 5)
    assert run.status.control is None


def test_an_edit_while_held_by_the_failure_policy_keeps_the_flag_off() -> None:
    """I2/I4: an edit (here: spec.paused) turned a disabled flag back on while still held."""
    spec = make_spec(
        PHASES,
        analysis=analysis(errors_metric()),
        failurePolicy={"action": "Pause", "disableFlag": True},
    )
    run = Run(spec)
    run.generation = 1
    run.step(metrics=HEALTHY)
    run.step(seconds(30), BREACH)
    assert (run.phase, run.published.enabled) == ("Paused", False)
    run.spec = spec.model_copy(update={"paused": True})
    run.generation = 2
    run.step(seconds(30), HEALTHY)
    assert run.published.enabled is False


def test_a_completed_rollout_follows_a_raised_last_phase_only_when_not_paused() -> None:
    """I4: an edit raising the last phase of a Completed rollout was published while paused."""
    last = [{"name": "all", "percentage": 5}]
    run = Run(make_spec(last))
    run.step()
    assert run.phase == "Completed"
    run.spec = make_spec([{"name": "all", "percentage": 10}], paused=True)
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("Completed", 5)
    run.spec = make_spec([{"name": "all", "percentage": 10}])
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("Completed", 10)


def test_turning_the_flag_back_on_while_paused_exposes_nobody_until_the_resume() -> None:
    """I4: spec.enabled true again while spec.paused published the phase's percentage, raised
    by an edit made while disabled."""
    run = Run(make_spec(PHASES))
    run.step()
    raised = [{**PHASES[0], "percentage": 8}, *PHASES[1:]]
    run.spec = make_spec(raised, paused=True, enabled=False)
    run.step(minutes(1))
    assert (run.phase, run.published.enabled) == ("Disabled", False)
    run.spec = make_spec(raised, paused=True)
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("Paused", 0)
    run.spec = make_spec(raised)
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("Progressing", 8)


def test_an_edit_while_disabled_leaving_only_phases_above_zero_rolls_back() -> None:
    """I1: a disabled rollout whose phase was edited away came back on in the first phase
    left, above anything earned."""
    run = Run(make_spec(PHASES))
    run.step()
    run.spec = make_spec(PHASES, enabled=False)
    run.step(minutes(1))
    run.spec = make_spec([{"name": "n2", "percentage": 10}], enabled=False)
    run.step(minutes(1))
    run.spec = make_spec([{"name": "n2", "percentage": 10}])
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("RolledBack", 0)
    assert "RolledBack" in run.reasons()


def test_a_pause_given_while_disabled_holds_a_completed_rollout_until_resumed() -> None:
    """I4: `ramp pause` given while disabled, then spec.enabled true: the Completed rollout
    published its last phase while the pause still held."""
    last = [{"name": "all", "percentage": 5}]
    run = Run(make_spec(last))
    run.step()
    assert run.phase == "Completed"
    run.spec = make_spec(last, enabled=False)
    run.step(minutes(1))
    run.with_control(pause={"requestedAt": "2026-03-01T12:01:00Z"})
    run.spec = make_spec(last)
    run.step(minutes(1))
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("Completed", 0)
    run.act("resume")
    run.step(minutes(1))
    assert (run.phase, run.published.percentage) == ("Completed", 5)


def test_a_rollback_to_the_previous_phase_never_raises_the_exposure() -> None:
    """I4: turned back on at 0 % while paused, a breach rolled back to the phase before the
    current one: up from 0 % to 5 % while paused."""
    spec = make_spec(
        PHASES,
        analysis=analysis(errors_metric()),
        failurePolicy={"action": "Rollback", "rollbackTo": "PreviousPhase"},
    )
    run = Run(spec)
    run.step(metrics=HEALTHY)
    run.run_for(minutes(11), seconds(30), HEALTHY)
    assert (run.status.current_phase, run.published.percentage) == ("p1", 10)
    run.spec = spec.model_copy(update={"paused": True, "enabled": False})
    run.step(seconds(30), HEALTHY)
    run.spec = spec.model_copy(update={"paused": True})
    run.step(seconds(30), HEALTHY)
    assert (run.phase, run.published.percentage) == ("Paused", 0)
    run.step(seconds(30), BREACH)
    assert (run.phase, run.published.percentage) == ("RolledBack", 0)
