"""`ramp promote|pause|resume|abort|retry`: idempotent status.control requests, refused where
they make no sense, never touching spec."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ramp.engine.actions import ActionNotApplicable, plan_action

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def status(phase: str, index: int = 1, **control: object) -> dict[str, object]:
    return {"phase": phase, "currentPhaseIndex": index, "currentPhase": "beta", "control": control}


def test_promote_names_the_phase_it_promotes() -> None:
    plan = plan_action("promote", "r", status("AwaitingApproval"), NOW, by="alice")
    assert plan.control_patch == {
        "promote": {
            "phaseIndex": 1,
            "phase": "beta",
            "full": False,
            "skipSoak": False,
            "by": "alice",
            "requestedAt": "2026-11-22T12:00:00Z",
        }
    }
    assert plan.message == "promotion of r past beta requested"


def test_promote_twice_asks_nothing_new() -> None:
    first = plan_action("promote", "r", status("AwaitingApproval"), NOW, by="alice")
    again = plan_action(
        "promote",
        "r",
        status("AwaitingApproval", promote=first.control_patch["promote"]),
        NOW,
        by="bob",
    )
    assert again.control_patch == {}
    assert "already requested" in again.message


def test_full_promotion_is_a_different_request() -> None:
    first = plan_action("promote", "r", status("AwaitingApproval"), NOW)
    full = plan_action(
        "promote",
        "r",
        status("AwaitingApproval", promote=first.control_patch["promote"]),
        NOW,
        full=True,
    )
    assert full.control_patch["promote"]["full"] is True


def soaking(**extra: object) -> dict[str, object]:
    return {
        **status("Progressing", index=1),
        "nextPromotionAt": "2026-11-22T15:58:00Z",
        "message": "beta at 25 % soaks until 2026-11-22T15:58:00Z",
        **extra,
    }


def test_promote_while_the_phase_soaks_is_refused_with_the_time_left() -> None:
    """Failed before the fix: it asked for a promotion that skipped the soak."""
    with pytest.raises(ActionNotApplicable) as refused:
        plan_action("promote", "r", soaking(), NOW, by="alice")
    assert str(refused.value) == (
        "cannot promote r: beta is still soaking (3h58m left); "
        "`ramp promote r --skip-soak` promotes now and records that you skipped it"
    )


def test_a_second_promote_after_the_first_moved_the_rollout_says_so() -> None:
    """Failed before the fix: the second `ramp promote` asked to skip beta's soak."""
    entered = {"time": "2026-11-22T11:59:58Z", "reason": "Promoted", "step": "beta"}
    with pytest.raises(ActionNotApplicable, match="it was promoted to beta 2s ago"):
        plan_action("promote", "r", soaking(history=[entered]), NOW)


def test_promote_while_held_after_the_soak_says_what_holds_it() -> None:
    held = {
        **status("Progressing"),
        "nextPromotionAt": "2026-11-22T11:00:00Z",
        "message": "holding beta at 25 %: errors=0.2 is above 0.05",
    }
    with pytest.raises(ActionNotApplicable, match=r"not awaiting approval \(holding beta"):
        plan_action("promote", "r", held, NOW)


@pytest.mark.parametrize("full", [False, True])
def test_skip_soak_is_a_request_that_names_who_skips(full: bool) -> None:
    """Failed before the fix: there was no --skip-soak and no name in the request."""
    plan = plan_action("promote", "r", soaking(), NOW, full=full, skip_soak=True, by="alice")
    request = plan.control_patch["promote"]
    assert (request["skipSoak"], request["full"], request["by"]) == (True, full, "alice")
    assert "(skipping its soak) requested by alice" in plan.message


def test_skip_soak_at_the_gate_is_an_approval() -> None:
    plan = plan_action("promote", "r", status("AwaitingApproval"), NOW, skip_soak=True, by="a")
    assert plan.control_patch["promote"]["skipSoak"] is False


def test_a_repeated_skip_asks_nothing_new() -> None:
    skip = plan_action("promote", "r", soaking(), NOW, skip_soak=True, by="alice")
    again = plan_action(
        "promote",
        "r",
        soaking(control={"promote": skip.control_patch["promote"]}),
        NOW,
        skip_soak=True,
        by="bob",
    )
    assert again.control_patch == {}
    assert "already requested" in again.message


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
