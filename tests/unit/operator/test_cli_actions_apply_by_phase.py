"""`ramp promote|pause|resume|abort|retry`: idempotent status.control requests, refused where
they make no sense, never touching spec."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ramp.actions import ActionNotApplicable, plan_action

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def status(phase: str, index: int = 1, **control: object) -> dict[str, object]:
    return {"phase": phase, "currentPhaseIndex": index, "currentPhase": "beta", "control": control}


def test_promote_names_the_phase_it_promotes() -> None:
    plan = plan_action("promote", "r", status("AwaitingApproval"), NOW)
    assert plan.control_patch == {
        "promote": {
            "phaseIndex": 1,
            "phase": "beta",
            "full": False,
            "requestedAt": "2026-11-22T12:00:00Z",
        }
    }


def test_promote_twice_asks_nothing_new() -> None:
    first = plan_action("promote", "r", status("AwaitingApproval"), NOW)
    again = plan_action(
        "promote", "r", status("AwaitingApproval", promote=first.control_patch["promote"]), NOW
    )
    assert again.control_patch == {}
    assert "already requested" in again.message


def test_full_promotion_is_a_different_request() -> None:
    first = plan_action("promote", "r", status("Progressing"), NOW)
    full = plan_action(
        "promote",
        "r",
        status("Progressing", promote=first.control_patch["promote"]),
        NOW,
        full=True,
    )
    assert full.control_patch["promote"]["full"] is True


@pytest.mark.parametrize("phase", ["Completed", "RolledBack", "Pending", "Disabled", "Paused"])
def test_promote_refused_outside_progress(phase: str) -> None:
    with pytest.raises(ActionNotApplicable, match=f"cannot promote r: it is {phase}"):
        plan_action("promote", "r", status(phase), NOW)


def test_pause_then_resume_round_trip() -> None:
    pause = plan_action("pause", "r", status("Progressing"), NOW)
    assert pause.control_patch == {"pause": {"requestedAt": "2026-11-22T12:00:00Z"}}
    paused = status("Paused", pause=pause.control_patch["pause"])
    assert plan_action("pause", "r", paused, NOW).control_patch == {}
    assert plan_action("resume", "r", paused, NOW).control_patch == {
        "pause": None,
        "resume": {"requestedAt": "2026-11-22T12:00:00Z"},
    }
    assert plan_action("resume", "r", status("Progressing"), NOW).control_patch == {}


def test_resume_warns_when_git_still_pauses() -> None:
    plan = plan_action(
        "resume", "r", status("Paused", pause={"requestedAt": "x"}), NOW, spec_paused=True
    )
    assert "spec.paused is still true" in plan.message


def test_abort_once_and_only_while_in_flight() -> None:
    plan = plan_action("abort", "r", status("Progressing"), NOW)
    assert "abort" in plan.control_patch
    assert (
        plan_action(
            "abort", "r", status("Progressing", abort={"requestedAt": "x"}), NOW
        ).control_patch
        == {}
    )
    with pytest.raises(ActionNotApplicable):
        plan_action("abort", "r", status("Completed"), NOW)


def test_retry_clears_abort_and_applies_only_after_rollback() -> None:
    plan = plan_action("retry", "r", status("RolledBack", abort={"requestedAt": "x"}), NOW)
    assert plan.control_patch == {"abort": None, "retry": {"requestedAt": "2026-11-22T12:00:00Z"}}
    with pytest.raises(ActionNotApplicable, match="retry applies after a rollback"):
        plan_action("retry", "r", status("Progressing"), NOW)
