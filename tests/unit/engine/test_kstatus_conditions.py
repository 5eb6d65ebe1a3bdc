"""K1: Ready, Reconciling and Stalled summarise a Rollout the way kstatus, Flux and `kubectl wait`
read them, whatever happens to it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine import Observations, PublishFlag, analysis_due, decide
from tests.support.engine import T0, Run, analysis, errors_metric, make_spec, minutes, seconds
from tests.support.kstatus import check_kstatus_summary
from tests.unit.engine.test_engine_properties import sample, specs, steps, with_action


def summary(status: RolloutStatus) -> dict[str, tuple[str, str]]:
    wanted = ("Ready", "Reconciling", "Stalled")
    return {c.type: (c.status, c.reason) for c in status.conditions or [] if c.type in wanted}


def test_progressing_rollout_is_reconciling_and_not_ready() -> None:
    run = Run(make_spec())
    run.generation = 1
    run.step()
    assert summary(run.status) == {
        "Ready": ("False", "Progressing"),
        "Reconciling": ("True", "Progressing"),
        "Stalled": ("False", "Progressing"),
    }
    check_kstatus_summary(run.status, 1)


def test_completed_rollout_is_ready() -> None:
    run = Run(make_spec())
    run.generation = 1
    run.step()
    run.step(minutes(10))
    run.step(minutes(10))
    assert run.phase == "Completed"
    assert summary(run.status) == {
        "Ready": ("True", "Completed"),
        "Reconciling": ("False", "Completed"),
        "Stalled": ("False", "Completed"),
    }
    assert [c.type for c in run.status.conditions or []][3:7] == [
        "Progressing",
        "Healthy",
        "Paused",
        "Completed",
    ], "the conditions users already read are kept"
    check_kstatus_summary(run.status, 1)


def test_paused_and_awaiting_approval_are_neither_moving_nor_stalled() -> None:
    manual = [
        {"name": "canary", "percentage": 5, "duration": "10m", "approval": "Manual"},
        {"name": "all", "percentage": 100},
    ]
    run = Run(make_spec(manual))
    run.step()
    run.step(minutes(10))
    assert run.phase == "AwaitingApproval"
    assert summary(run.status)["Reconciling"] == ("False", "AwaitingApproval")
    assert summary(run.status)["Ready"] == ("False", "AwaitingApproval")
    run.spec = make_spec(manual, paused=True)
    run.step()
    assert run.phase == "Paused"
    assert summary(run.status) == {
        "Ready": ("False", "Paused"),
        "Reconciling": ("False", "Paused"),
        "Stalled": ("False", "Paused"),
    }


def test_created_paused_is_not_reconciling() -> None:
    run = Run(make_spec(paused=True))
    run.step()
    assert summary(run.status)["Reconciling"][0] == "False"
    check_kstatus_summary(run.status)


def test_rollback_and_disable_stall_with_the_phase_as_reason() -> None:
    run = Run(make_spec(analysis=analysis(errors_metric())))
    run.step(seconds(30), {"errors": 0.0})
    run.step(seconds(30), {"errors": 0.5})
    assert run.phase == "RolledBack"
    stalled = next(c for c in run.status.conditions or [] if c.type == "Stalled")
    assert (stalled.status, stalled.reason) == ("True", "RolledBack")
    assert stalled.message == run.status.message
    run = Run(make_spec(enabled=False))
    run.step()
    assert summary(run.status)["Stalled"] == ("True", "Disabled")


def test_configmap_conflict_stalls() -> None:
    seen = Observations(config_map_owner="checkout", published=PublishFlag(True, 50))
    status = decide(make_spec(), RolloutStatus(), T0, seen).status
    assert summary(status)["Stalled"] == ("True", "ConfigMapConflict")
    check_kstatus_summary(status)


def test_condition_generation_follows_the_spec_edit() -> None:
    run = Run(make_spec())
    run.generation = 1
    run.step()
    run.generation = 2
    run.spec = make_spec(paused=True)
    run.step()
    check_kstatus_summary(run.status, 2)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), script=steps, edits=st.lists(st.booleans(), min_size=60, max_size=60))
def test_summary_holds_through_any_run(
    spec: RolloutSpec, script: list[tuple[int, Any, Any, str]], edits: list[bool]
) -> None:
    """Where rules meet (rollbacks, pauses, toggles, ramp actions, spec edits), K1 holds after
    every decision."""
    status = RolloutStatus()
    now = T0
    served: PublishFlag | None = None
    generation = 1
    for (delay, errors, slow, action), edited in zip(script, edits, strict=False):
        now += timedelta(seconds=delay)
        if action == "toggle":
            spec = spec.model_copy(update={"enabled": not spec.enabled})
        elif action != "none":
            status = with_action(status, action)
        generation += edited or action == "toggle"
        metrics = None
        if analysis_due(spec, status, now):
            metrics = {"errors": sample(errors), "slow": sample(slow)}
        decision = decide(
            spec,
            status,
            now,
            Observations(metrics=metrics, published=served),
            generation=generation,
        )
        status = decision.status
        served = next(e for e in decision.effects if isinstance(e, PublishFlag))
        check_kstatus_summary(status, generation)
