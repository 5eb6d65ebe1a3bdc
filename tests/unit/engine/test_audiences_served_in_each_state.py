"""Who is served in each state when phases name audiences (docs/behaviour.md, I1, I3, I6):
a phase serves its audiences with its percentage; rollback to zero, disable, abort and a
rollout created paused serve nobody, audiences included; `rollbackTo: PreviousPhase` serves the
previous phase's audiences and percentage."""

from __future__ import annotations

from typing import Any

from ramp.engine import PublishFlag, lowers, serves
from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds

AUDIENCES = [
    {"name": "internal", "attribute": "email", "endsWith": ["@example.com"]},
    {"name": "beta", "in": ["user-1017", "user-2203"]},
]
PHASES = [
    {"name": "internal", "audiences": ["internal"], "percentage": 0, "duration": "10m"},
    {"name": "beta", "audiences": ["internal", "beta"], "percentage": 0, "duration": "10m"},
    {"name": "ten", "audiences": ["internal", "beta"], "percentage": 10, "duration": "10m"},
    {"name": "everyone", "percentage": 100},
]
HEALTHY = {"errors": 0.0}
BREACH = {"errors": 0.5}


def rollout(**spec: Any) -> Run:
    flag = {"key": "feature", "configMap": "feature-flag", "audiences": AUDIENCES}
    return Run(make_spec(PHASES, flag=flag, analysis=analysis(errors_metric()), **spec))


def served(run: Run) -> tuple[bool, float, tuple[str, ...]]:
    flag = run.published
    return flag.enabled, flag.percentage, flag.audiences


def walk_to(run: Run, phase: str) -> None:
    for _ in range(200):
        if run.status.current_phase == phase and run.phase == "Progressing":
            return
        run.step(seconds(30), HEALTHY)
    raise AssertionError(f"never reached {phase}: {run.status.message}")


def test_each_phase_serves_its_audiences_with_its_percentage() -> None:
    run = rollout()
    walk_to(run, "internal")
    assert served(run) == (True, 0, ("internal",))
    assert run.status.served == "0% +1"
    assert "internal at 0 % + internal" in (run.status.message or "")
    walk_to(run, "beta")
    assert served(run) == (True, 0, ("internal", "beta"))
    walk_to(run, "ten")
    assert served(run) == (True, 10, ("internal", "beta"))
    assert run.status.served == "10% +2"
    run.run_for(minutes(15), seconds(30), HEALTHY)
    assert run.phase == "Completed"
    assert served(run) == (True, 100, ())
    assert run.status.served == "100%"


def test_created_paused_serves_nobody() -> None:
    run = rollout(paused=True)
    run.run_for(minutes(5), seconds(30), HEALTHY)
    assert run.phase == "Paused"
    assert served(run) == (True, 0, ())
    assert run.status.audiences is None and run.status.served == "0%"


def test_abort_serves_nobody() -> None:
    run = rollout()
    walk_to(run, "beta")
    run.act("abort")
    run.step(seconds(1), HEALTHY)
    assert run.phase == "RolledBack"
    assert served(run) == (True, 0, ())


def test_rollback_to_zero_serves_nobody() -> None:
    run = rollout()
    walk_to(run, "ten")
    run.step(seconds(30), BREACH)
    assert run.phase == "RolledBack"
    assert served(run) == (True, 0, ())
    assert run.status.served == "0%"


def test_disable_serves_nobody_and_enable_brings_the_audiences_back() -> None:
    run = rollout()
    walk_to(run, "beta")
    run.spec = run.spec.model_copy(update={"enabled": False})
    run.step(seconds(1), HEALTHY)
    assert run.phase == "Disabled"
    assert served(run)[0] is False and served(run)[2] == ()
    assert run.status.served == "0%"
    run.spec = run.spec.model_copy(update={"enabled": True})
    run.step(seconds(1), HEALTHY)
    assert served(run) == (True, 0, ("internal", "beta"))


def test_previous_phase_serves_the_previous_audiences_and_steps_down_to_nobody() -> None:
    run = rollout(failurePolicy={"rollbackTo": "PreviousPhase"})
    walk_to(run, "ten")
    run.step(seconds(30), BREACH)
    assert (run.phase, served(run)) == ("RolledBack", (True, 0, ("internal", "beta")))
    assert "rolled back from ten to 0 % + internal, beta" in (run.status.message or "")
    steps = [served(run)]
    for _ in range(6):
        run.step(seconds(30), BREACH)
        steps.append(served(run))
    assert steps[:4] == [
        (True, 0, ("internal", "beta")),
        (True, 0, ("internal",)),
        (True, 0, ()),
        (True, 0, ()),
    ]


def test_a_rollback_at_a_previous_phase_is_kept_through_a_disable() -> None:
    run = rollout(failurePolicy={"rollbackTo": "PreviousPhase"})
    walk_to(run, "ten")
    run.step(seconds(30), BREACH)
    run.run_for(minutes(2), seconds(30), HEALTHY)
    run.spec = run.spec.model_copy(update={"enabled": False})
    run.step(seconds(1), HEALTHY)
    run.spec = run.spec.model_copy(update={"enabled": True})
    run.step(seconds(1), HEALTHY)
    assert (run.phase, served(run)) == ("RolledBack", (True, 0, ("internal", "beta")))


def test_fewer_audiences_are_served_before_the_status_records_them() -> None:
    """A decrease is served first (I1 across a crash): fewer audiences at no higher a
    percentage is a decrease; another audience is not, even at a lower percentage."""
    both = PublishFlag(True, 10, audiences=("internal", "beta"))
    assert lowers(both, PublishFlag(True, 10, audiences=("internal",)))
    assert lowers(both, PublishFlag(True, 0, audiences=("internal", "beta")))
    assert not lowers(both, PublishFlag(True, 0, audiences=("internal", "gamma")))
    assert not lowers(both, both)
    assert not serves(both, PublishFlag(True, 10, audiences=("internal",)))
    assert serves(both, PublishFlag(True, 10, audiences=("beta", "internal")))
