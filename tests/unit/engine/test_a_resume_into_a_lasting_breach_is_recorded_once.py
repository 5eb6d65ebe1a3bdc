"""I7: a `ramp resume` that a lasting breach overrides at once is recorded, and so is the pause
that follows; neither is recorded twice.

Hole found by the model-based test (test_rollout_model.py): with `for: 0s` and
`failurePolicy.action: Pause`, a resume taken in the same reconcile as an analysis that still
breached went straight from Paused to the failure policy, which recorded the same pause (same
phase, step, percentage, reason and message) a second time in a row, as a replay after a crash
would."""

from __future__ import annotations

from itertools import pairwise

from ramp.api import RolloutStatus
from tests.support.engine import Run, analysis, errors_metric, make_spec, seconds

PHASES = [
    {"name": "p0", "percentage": 5, "duration": "10m"},
    {"name": "p1", "percentage": 50},
]
BREACH = {"errors": 0.9}
HEALTHY = {"errors": 0.0}


def paused_by_the_failure_policy(*, paused: bool = False, **policy: object) -> Run:
    run = Run(
        make_spec(
            PHASES,
            paused=paused,
            analysis=analysis(errors_metric(critical={"above": 0.5, "for": "0s"})),
            failurePolicy={"action": "Pause", **policy},
        )
    )
    run.step(metrics=HEALTHY)
    run.step(seconds(30), BREACH)
    assert run.phase == "Paused" and run.reasons().count("Paused") == 1
    return run


def repeated(status: RolloutStatus) -> list[str]:
    same = ("phase", "step", "percentage", "reason", "message")
    return [
        f"{b.reason}: {b.message}"
        for a, b in pairwise(status.history or [])
        if all(getattr(a, f) == getattr(b, f) for f in same)
    ]


def test_a_resume_the_breach_overrides_at_once_records_the_resume_then_the_pause() -> None:
    run = paused_by_the_failure_policy()
    run.act("resume")
    run.step(seconds(30), BREACH)  # analysis due: the breach goes on, `for: 0s`
    assert run.phase == "Paused" and run.published.percentage == 5
    assert repeated(run.status) == []
    assert [h.reason for h in run.status.history or []][-3:] == ["Paused", "Resumed", "Paused"]
    assert run.reasons().count("Paused") == 2


def test_the_flag_stays_off_when_the_breach_overrides_the_resume() -> None:
    run = paused_by_the_failure_policy(disableFlag=True)
    assert run.published.enabled is False
    run.act("resume")
    run.step(seconds(30), BREACH)
    assert (run.phase, run.published.enabled) == ("Paused", False)
    assert repeated(run.status) == []


def test_a_resume_while_spec_paused_records_the_hold_before_the_pause() -> None:
    run = paused_by_the_failure_policy()
    run.spec = make_spec(
        PHASES,
        paused=True,
        analysis=analysis(errors_metric(critical={"above": 0.5, "for": "0s"})),
        failurePolicy={"action": "Pause"},
    )
    run.act("resume")
    run.step(seconds(30), BREACH)
    assert run.phase == "Paused" and run.published.percentage == 5
    assert repeated(run.status) == []


def test_the_pause_that_goes_on_is_not_recorded_again() -> None:
    run = paused_by_the_failure_policy()
    run.act("resume")
    run.step(seconds(30), BREACH)
    history = list(run.status.history or [])
    for _ in range(4):
        run.step(seconds(30), BREACH)
    assert run.status.history == history
