"""Every action answers honestly: 0 (a plan) when the request is recorded or already in force,
a refusal naming what to do instead otherwise; a request nobody has picked up says so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ramp.engine.actions import Action, ActionNotApplicable, plan_action

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("action", ["pause", "resume", "abort"])
def test_a_request_on_an_unreconciled_rollout_says_nobody_picked_it_up(action: Action) -> None:
    control = {"pause": {"requestedAt": "x"}} if action == "resume" else {}
    plan = plan_action(action, "r", {"control": control} if control else {}, NOW)
    assert "no operator has reconciled r yet" in plan.message, plan.message
    assert "namespaces it watches" in plan.message
    assert "paused by" not in plan.message


def test_a_request_on_a_reconciled_rollout_does_not_talk_of_operators() -> None:
    plan = plan_action("pause", "r", {"phase": "Pending", "observedGeneration": 1}, NOW)
    assert plan.control_patch
    assert "operator" not in plan.message


@pytest.mark.parametrize("action", ["pause", "abort"])
@pytest.mark.parametrize("phase", ["Completed", "Failed"])
def test_a_refusal_for_a_finished_rollout_points_to_the_emergency_switch(
    action: Action, phase: str
) -> None:
    with pytest.raises(ActionNotApplicable, match=r"set spec\.enabled: false"):
        plan_action(action, "r", {"phase": phase, "percentage": 100}, NOW)


def test_abort_of_a_rollout_already_at_zero_is_in_force() -> None:
    plan = plan_action("abort", "r", {"phase": "RolledBack", "percentage": 0}, NOW)
    assert plan.control_patch == {}
    assert "already rolled back to 0 %" in plan.message


def test_abort_of_a_rollback_to_a_previous_phase_is_refused_with_the_switch() -> None:
    with pytest.raises(ActionNotApplicable, match=r"RolledBack at 25 %.*spec\.enabled: false"):
        plan_action("abort", "r", {"phase": "RolledBack", "percentage": 25}, NOW)


def test_resume_of_a_rollout_held_only_by_git_is_refused() -> None:
    with pytest.raises(ActionNotApplicable, match=r"set spec\.paused: false"):
        plan_action("resume", "r", {"phase": "Paused"}, NOW, spec_paused=True)


def test_resume_of_a_rollout_not_paused_is_in_force() -> None:
    plan = plan_action("resume", "r", {"phase": "Progressing"}, NOW)
    assert plan.control_patch == {}
    assert plan.message == "r is not paused"
