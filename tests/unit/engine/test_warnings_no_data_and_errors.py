"""Warnings never roll back; no data holds (Pause); provider errors count to errorLimit."""

from __future__ import annotations

from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds


def test_warning_never_rolls_back_and_is_announced_once() -> None:
    spec = make_spec(
        analysis=analysis(
            {"name": "slow", "query": "q", "warning": {"above": 1, "for": "1m"}},
        )
    )
    run = Run(spec)
    run.step(metrics={"slow": 0.5})
    run.run_for(minutes(30), seconds(30), {"slow": 5})
    assert run.phase == "Completed"
    assert run.reasons().count("Warning") == 1
    assert run.status.health == "Warning"


def test_no_data_pauses_instead_of_promoting_and_resumes_with_data() -> None:
    spec = make_spec(analysis=analysis(errors_metric()))
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    run.step(minutes(5), {"errors": None})
    assert run.phase == "Paused"
    run.run_for(minutes(30), seconds(30), {"errors": None})
    assert (run.phase, run.status.current_phase) == ("Paused", "canary")
    run.step(seconds(30), {"errors": 0.0})
    assert run.phase == "Progressing"
    # The soak clock stood still while there was no data: 5 of 10 minutes are left.
    assert run.status.next_promotion_at == run.now + minutes(5)


def test_no_data_with_fail_policy_counts_as_a_breach() -> None:
    spec = make_spec(analysis=analysis(errors_metric(onNoData="Fail")))
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    run.step(seconds(30), {"errors": None})
    assert run.phase == "RolledBack"


def test_no_data_ignored_lets_the_rollout_promote() -> None:
    spec = make_spec(analysis=analysis(errors_metric(onNoData="Ignore")))
    run = Run(spec)
    run.step(metrics={"errors": None})
    run.run_for(minutes(25), seconds(30), {"errors": None})
    assert run.phase == "Completed"


def test_provider_errors_hold_then_apply_the_policy_at_error_limit() -> None:
    spec = make_spec(analysis=analysis(errors_metric(), errorLimit=3))
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    run.step(minutes(10), {"errors": "error"})
    run.step(seconds(30), {"errors": "error"})
    assert (run.phase, run.status.current_phase) == ("Progressing", "canary")
    run.step(seconds(30), {"errors": "error"})
    assert run.phase == "RolledBack"
    assert run.status.snapshot is not None and "query failed (3/3)" in run.status.snapshot.reason


def test_an_answer_resets_the_error_count() -> None:
    spec = make_spec(analysis=analysis(errors_metric(), errorLimit=2))
    run = Run(spec)
    run.step(metrics={"errors": 0.0})
    for _ in range(5):
        run.step(seconds(30), {"errors": "error"})
        run.step(seconds(30), {"errors": 0.0})
    assert run.phase == "Progressing"
