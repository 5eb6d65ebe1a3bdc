"""I13: a phase is left only through its gate and soak, or by a soak skip that names who asked.

A `ramp promote` names the phase it was asked at and approves that phase once it awaits
approval; one that reaches the operator while the phase soaks or is held is dropped (with an
Event), never taken as leave to skip the soak. `--skip-soak` promotes at once, and the history
says whose decision it was and how much soak was skipped."""

from __future__ import annotations

from typing import Any

from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds

GATED = [
    {"name": "canary", "percentage": 5, "duration": "1h", "approval": "Manual"},
    {"name": "quarter", "percentage": 25, "duration": "4h", "approval": "Manual"},
    {"name": "half", "percentage": 50, "duration": "8h"},
    {"name": "all", "percentage": 100},
]


def asked(run: Run, **request: Any) -> None:
    """What `ramp promote` writes for the phase the rollout is in now."""
    index = run.status.current_phase_index or 0
    run.with_control(promote={"phaseIndex": index, "phase": run.status.current_phase, **request})


def at_gate() -> Run:
    run = Run(make_spec(GATED))
    run.step()
    run.step(minutes(60))
    assert (run.phase, run.status.current_phase) == ("AwaitingApproval", "canary")
    return run


def last_entry(run: Run) -> str:
    assert run.status.history
    return run.status.history[-1].message


def test_a_promote_asked_while_the_phase_soaks_is_dropped_not_a_skip() -> None:
    """Failed before the fix: the promote skipped the rest of quarter's 4 h soak."""
    run = at_gate()
    asked(run, by="alice")
    run.step()
    assert (run.phase, run.status.current_phase) == ("Progressing", "quarter")
    asked(run, by="bob")  # the second `ramp promote`, two seconds later
    run.step(seconds(2))
    assert (run.phase, run.status.current_phase, run.published.percentage) == (
        "Progressing",
        "quarter",
        25,
    )
    assert run.status.control is None
    dropped = [a for a in run.decisions[-1].announced if a.reason == "PromoteDropped"]
    assert dropped and "soaks until" in dropped[0].message, run.decisions[-1].announced
    run.step(minutes(4 * 60))
    assert (run.phase, run.status.current_phase) == ("AwaitingApproval", "quarter")


def test_a_promote_asked_at_the_gate_already_passed_approves_nothing_and_says_so() -> None:
    """Failed before the fix: the repeated request vanished without an Event."""
    run = at_gate()
    asked(run, by="alice")
    stale = run.status.control
    assert stale is not None and stale.promote is not None
    run.step()
    assert run.status.current_phase == "quarter"
    run.with_control(promote=stale.promote.model_dump(by_alias=True, mode="json"))
    run.step(seconds(2))
    assert (run.status.current_phase, run.status.control) == ("quarter", None)
    dropped = [a.message for a in run.decisions[-1].announced if a.reason == "PromoteDropped"]
    assert dropped == ["`ramp promote` asked at canary dropped: the rollout is in quarter now"], (
        dropped
    )
    run.step(minutes(4 * 60))
    assert (run.phase, run.status.current_phase) == ("AwaitingApproval", "quarter")


def test_an_approval_that_finds_the_phase_held_again_is_dropped() -> None:
    """Failed before the fix: asked at the gate, it promoted past a metric crossing its
    critical threshold (inside its `for` window) that had held the phase meanwhile."""
    metric = errors_metric(critical={"above": 0.05, "for": "5m"})
    run = Run(make_spec(GATED, analysis=analysis(metric)))
    run.step(metrics={"errors": 0.0})
    run.run_for(minutes(60), seconds(30), {"errors": 0.0})
    assert run.phase == "AwaitingApproval"
    run.step(seconds(30), {"errors": 0.2})
    assert (run.phase, run.status.current_phase) == ("Progressing", "canary")
    asked(run, by="alice")
    run.step(seconds(30), {"errors": 0.2})
    assert (run.status.current_phase, run.published.percentage) == ("canary", 5)
    assert run.status.control is None
    run.run_for(minutes(2), seconds(30), {"errors": 0.0})
    assert (run.phase, run.status.current_phase) == ("AwaitingApproval", "canary")


def test_skip_soak_promotes_now_and_the_history_names_who_skipped() -> None:
    """Failed before the fix: the history said `ramp promote`, not who skipped what."""
    run = at_gate()
    asked(run, by="alice")
    run.step()
    run.step(minutes(18))
    asked(run, skipSoak=True, by="bob")
    run.step()
    assert (run.phase, run.status.current_phase, run.published.percentage) == (
        "Progressing",
        "half",
        50,
    )
    message = last_entry(run)
    assert "--skip-soak` by bob" in message, message
    assert "3h42m of quarter's 4h soak skipped" in message, message


def test_a_soak_skip_that_names_nobody_is_dropped() -> None:
    run = at_gate()
    asked(run)
    run.step()
    asked(run, skipSoak=True)
    run.step(seconds(1))
    assert run.status.current_phase == "quarter"
    assert "PromoteDropped" in run.reasons()


def test_full_promotion_at_the_gate_names_who_skipped_the_later_phases() -> None:
    run = at_gate()
    asked(run, full=True, by="alice")
    run.step()
    assert (run.phase, run.published.percentage) == ("Completed", 100)
    message = last_entry(run)
    assert "`ramp promote --full` by alice; skipped quarter, half, all" in message, message


def test_an_approval_at_the_gate_is_recorded_with_who_gave_it() -> None:
    run = at_gate()
    asked(run, by="alice")
    run.step()
    assert last_entry(run) == "promoted to quarter at 25 % (`ramp promote` by alice)"
