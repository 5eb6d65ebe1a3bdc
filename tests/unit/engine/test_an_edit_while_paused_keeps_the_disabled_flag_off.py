"""I4 over I2: a spec change ends a `disableFlag` only where nothing holds the rollout.

Hole found by the model-based test (test_rollout_model.py): a failure-policy pause had turned
the flag off; a person set spec.paused and gave `ramp resume`, and the operator saw both in
one reconcile. The resume had taken the pause out of status.control, so the spec change ended
the disableFlag, and the rollout, still held by spec.paused, published enabled=true at 5 %: the
exposure rose from 0 % while paused."""

from __future__ import annotations

from ramp.api import RolloutSpec
from tests.support.engine import Run, analysis, errors_metric, make_spec, seconds

PHASES = [
    {"name": "p0", "percentage": 5, "duration": "10m"},
    {"name": "p1", "percentage": 50},
]
BREACH = {"errors": 0.9}
HEALTHY = {"errors": 0.0}


def spec(*, paused: bool = False, above: float = 0.05) -> RolloutSpec:
    return make_spec(
        PHASES,
        paused=paused,
        analysis=analysis(errors_metric(critical={"above": above})),
        failurePolicy={"action": "Pause", "disableFlag": True},
    )


def paused_with_the_flag_off() -> Run:
    run = Run(spec())
    run.generation = 1
    run.step(metrics=HEALTHY)
    run.step(seconds(30), BREACH)
    assert (run.phase, run.published.enabled, run.published.percentage) == ("Paused", False, 5)
    return run


def edit(run: Run, new: RolloutSpec) -> None:
    run.spec = new
    run.generation = (run.generation or 1) + 1


def test_spec_paused_and_resume_seen_together_keep_the_flag_off() -> None:
    run = paused_with_the_flag_off()
    edit(run, spec(paused=True))
    run.act("resume")
    run.step(seconds(1))
    assert (run.phase, run.published.enabled) == ("Paused", False), run.status.message
    assert run.status.enabled is False


def test_an_edit_while_spec_paused_after_a_resume_keeps_the_flag_off() -> None:
    run = paused_with_the_flag_off()
    edit(run, spec(paused=True))
    run.step(seconds(1))
    run.act("resume")
    run.step(seconds(1))
    assert (run.phase, run.published.enabled) == ("Paused", False)
    edit(run, spec(paused=True, above=0.5))
    run.step(seconds(1))
    assert (run.phase, run.published.enabled) == ("Paused", False), run.status.message


def test_the_flag_comes_back_on_when_spec_paused_is_lifted() -> None:
    run = paused_with_the_flag_off()
    edit(run, spec(paused=True))
    run.act("resume")
    run.step(seconds(1))
    edit(run, spec())
    run.step(seconds(1))
    assert (run.phase, run.published.enabled, run.published.percentage) == (
        "Progressing",
        True,
        5,
    )


def test_an_edit_while_held_for_no_data_after_a_resume_keeps_the_flag_off() -> None:
    run = Run(
        make_spec(
            PHASES,
            analysis=analysis(errors_metric(onNoData="Pause")),
            failurePolicy={"action": "Pause", "disableFlag": True},
        )
    )
    run.generation = 1
    run.step(metrics=HEALTHY)
    run.step(seconds(30), BREACH)
    assert (run.phase, run.published.enabled) == ("Paused", False)
    run.act("resume")
    run.step(seconds(30), {"errors": None})
    assert (run.phase, run.published.enabled) == ("Paused", False), run.status.message
    assert "no data" in (run.status.message or "")
    edit(
        run,
        make_spec(
            PHASES,
            analysis=analysis(errors_metric(onNoData="Pause", critical={"above": 0.5})),
            failurePolicy={"action": "Pause", "disableFlag": True},
        ),
    )
    run.step(seconds(1))
    assert (run.phase, run.published.enabled) == ("Paused", False), run.status.message
    run.step(seconds(30), HEALTHY)
    assert (run.phase, run.published.enabled, run.published.percentage) == (
        "Progressing",
        True,
        5,
    )
