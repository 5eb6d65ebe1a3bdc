"""Drains (spec.workers[].drain): when the exposure goes down, the flag serves fewer users at
once, and a worker with a drain keeps its scale until its drain query reads 0 or its timeout
passes; only then is it scaled down (I9)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ramp.api import RolloutStatus
from ramp.engine import RestoreWorkers, ScaleWorkers, WorkerObservation, WorkerTarget, drain_due
from ramp.engine.observations import MetricSample
from ramp.engine.schedule import next_wakeup
from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds

PHASES = [
    {"name": "p10", "percentage": 10, "duration": "1m", "workers": {"replicas": 2}},
    {"name": "p25", "percentage": 25, "duration": "1h", "workers": {"replicas": 5}},
    {"name": "p100", "percentage": 100, "workers": {"replicas": 8}},
]
DRAIN = {"query": "sum(pdf_queue_depth)", "timeout": "30m"}


def spec_with_drain(drain: dict[str, Any] | None = None, **spec: Any) -> Any:
    return make_spec(
        PHASES,
        workers=[{"deployment": "pdf-worker", "drain": drain or DRAIN}],
        analysis=analysis(errors_metric(), interval="30s"),
        notifications=[{"secretRef": {"name": "hook", "key": "url"}}],
        **spec,
    )


def at_p25(**spec: Any) -> Run:
    """A rollout at 25 % whose worker went from its own 1 replica to 5."""
    run = Run(
        spec_with_drain(**spec), workers={"pdf-worker": WorkerObservation(replicas=1)}, scales=True
    )
    run.step(metrics={"errors": 0.0})
    run.step(minutes(1), metrics={"errors": 0.0})
    run.step(seconds(1), metrics={"errors": 0.0})
    assert (run.phase, run.status.current_phase) == ("Progressing", "p25")
    assert run.workers["pdf-worker"].replicas == 5
    return run


def breach(run: Run) -> None:
    run.step(seconds(30), metrics={"errors": 0.9})
    assert run.phase == "RolledBack"


def worker_effects(run: Run) -> list[Any]:
    return [e for e in run.decisions[-1].effects if isinstance(e, ScaleWorkers | RestoreWorkers)]


def draining_condition(run: Run) -> tuple[str, str, str]:
    c = next(c for c in run.status.conditions or [] if c.type == "Draining")
    return c.status, c.reason, c.message


def test_rollback_at_25_percent_serves_0_at_once_and_keeps_the_workers_until_drained() -> None:
    run = at_p25()
    breach(run)
    assert run.published.percentage == 0, "no new async work from the rollback on"
    assert run.workers["pdf-worker"].replicas == 5
    assert run.status.drains is not None
    drain = run.status.drains["pdf-worker"]
    assert drain.deadline == drain.started_at + minutes(30)
    assert drain.scale.replicas == 5
    assert run.status.worker_originals is not None, "the original is kept to give back later"
    assert "Draining" in run.reasons()

    run.step(seconds(1), drains=1240)
    assert run.status.draining == "pdf-worker: 1,240 left, 30m to timeout"
    assert draining_condition(run) == (
        "True",
        "Draining",
        "draining pdf-worker: 1,240 left, 30m to timeout",
    )
    for _ in range(6):
        run.step(minutes(0.5), drains=300)
        assert worker_effects(run) == [ScaleWorkers({"pdf-worker": WorkerTarget(replicas=5)})]
        assert run.workers["pdf-worker"].replicas == 5
    assert run.status.draining == "pdf-worker: 300 left, 27m to timeout"

    run.step(minutes(0.5), drains=0)
    assert worker_effects(run) == [RestoreWorkers({"pdf-worker": WorkerTarget(replicas=1)})]
    assert run.workers["pdf-worker"].replicas == 1
    assert run.status.drains is None and run.status.draining is None
    assert draining_condition(run)[:2] == ("False", "NothingToDrain")
    assert "Drained" in run.reasons() and "DrainTimedOut" not in run.reasons()
    run.step(seconds(1))
    assert run.status.worker_originals is None


def test_a_drain_that_times_out_scales_down_and_says_so_in_an_event_and_a_notification() -> None:
    run = at_p25()
    breach(run)
    run.step(seconds(1), drains=40)
    deadline = run.status.drains["pdf-worker"].deadline  # type: ignore[index]
    while run.now < deadline + minutes(1):
        run.step(minutes(0.5), drains=40)
        if run.status.drains is None:
            break
        assert run.workers["pdf-worker"].replicas == 5
    assert run.workers["pdf-worker"].replicas == 1
    timed_out = [a for d in run.decisions for a in d.announced if a.reason == "DrainTimedOut"]
    assert len(timed_out) == 1
    assert timed_out[0].type == "Warning"
    assert "webhook-0" in timed_out[0].pending, "the timeout is notified"
    assert "30m" in timed_out[0].message and "40 left" in timed_out[0].message
    started = [a for d in run.decisions for a in d.announced if a.reason == "Draining"]
    assert timed_out[0].time >= started[0].time + minutes(30), "never before the timeout"


def test_no_data_from_the_drain_query_waits_until_the_timeout_and_says_so() -> None:
    run = at_p25()
    breach(run)
    run.step(seconds(1), drains=None)  # nothing read: no reading is not "no data"
    assert run.status.draining == "pdf-worker: no reading yet, 30m to timeout"
    run.step(seconds(1), drains=MetricSample())
    assert run.status.draining == (
        "pdf-worker: no data from its drain query, waiting until the timeout (30m to timeout)"
    )
    for _ in range(58):
        run.step(minutes(0.5), drains=MetricSample())
        assert run.workers["pdf-worker"].replicas == 5, "no data is not drained"
    run.step(minutes(1), drains=MetricSample())
    assert run.workers["pdf-worker"].replicas == 1
    assert "DrainTimedOut" in run.reasons()


def test_a_failing_drain_query_is_a_warning_once_and_the_worker_keeps_its_scale() -> None:
    run = at_p25()
    breach(run)
    for _ in range(4):
        run.step(minutes(0.5), drains="error")
    assert run.reasons().count("DrainQueryFailed") == 1
    failed = next(a for d in run.decisions for a in d.announced if a.reason == "DrainQueryFailed")
    assert failed.type == "Warning" and "connection refused" in failed.message
    assert run.workers["pdf-worker"].replicas == 5
    assert run.status.draining is not None
    assert run.status.draining.startswith("pdf-worker: drain query failing (connection refused)")
    run.step(minutes(0.5), drains=0)
    assert run.workers["pdf-worker"].replicas == 1


def test_an_operator_restarted_mid_drain_resumes_it_with_the_same_deadline() -> None:
    run = at_p25()
    breach(run)
    run.step(seconds(1), drains=500)
    deadline = run.status.drains["pdf-worker"].deadline  # type: ignore[index]
    # What survives a restart is the status as the API server stores it.
    run.status = RolloutStatus.model_validate_json(
        run.status.model_dump_json(by_alias=True, exclude_none=True)
    )
    run.step(minutes(10), drains=500)
    assert run.status.drains is not None
    assert run.status.drains["pdf-worker"].deadline == deadline
    assert run.status.draining == "pdf-worker: 500 left, 20m to timeout"
    assert run.workers["pdf-worker"].replicas == 5
    run.now = deadline - seconds(1)
    run.step(drains=500)
    assert run.workers["pdf-worker"].replicas == 5
    run.step(seconds(1), drains=500)
    assert run.workers["pdf-worker"].replicas == 1


def test_a_step_down_to_the_previous_phase_drains_before_scaling_down() -> None:
    run = at_p25(failurePolicy={"action": "Rollback", "rollbackTo": "PreviousPhase"})
    breach(run)
    assert (run.status.current_phase, run.published.percentage) == ("p10", 10)
    assert run.workers["pdf-worker"].replicas == 5
    run.step(seconds(1), drains=12)
    assert run.workers["pdf-worker"].replicas == 5
    run.step(seconds(30), drains=0)
    assert worker_effects(run) == [ScaleWorkers({"pdf-worker": WorkerTarget(replicas=2)})]
    assert run.workers["pdf-worker"].replicas == 2


def test_abort_drains_like_a_rollback() -> None:
    run = at_p25()
    run.act("abort")
    run.step(seconds(1), metrics={"errors": 0.0})
    assert run.phase == "RolledBack" and run.published.percentage == 0
    run.step(seconds(1), drains=3)
    assert run.workers["pdf-worker"].replicas == 5
    run.step(seconds(30), drains=0)
    assert run.workers["pdf-worker"].replicas == 1


def test_disabling_turns_the_flag_off_at_once_drains_then_gives_the_worker_back() -> None:
    run = at_p25()
    run.spec = spec_with_drain(enabled=False)
    run.generation = 2
    run.step(seconds(1))
    assert run.phase == "Disabled" and not run.published.enabled
    run.step(seconds(1), drains=9)
    assert run.workers["pdf-worker"].replicas == 5
    run.step(seconds(30), drains=0)
    assert run.workers["pdf-worker"].replicas == 1
    assert next_wakeup(run.spec, run.status, run.now) == run.now + seconds(1), (
        "the restore is confirmed a second later, as at the end of a rollout"
    )
    run.step(seconds(1))
    assert run.status.worker_originals is None
    assert next_wakeup(run.spec, run.status, run.now) is None
    run.spec = spec_with_drain()
    run.generation = 3
    run.step(seconds(1), metrics={"errors": 0.0})
    assert run.phase == "Progressing"
    assert run.workers["pdf-worker"].replicas == 5, "enabled again: the phase's scale"


def test_a_retry_during_a_drain_ends_it_and_the_phase_scale_applies() -> None:
    run = at_p25()
    breach(run)
    run.step(seconds(1), drains=100)
    run.act("retry")
    run.step(seconds(1), metrics={"errors": 0.0})
    assert run.phase == "Progressing" and run.status.current_phase == "p10"
    assert run.status.drains is None
    assert run.workers["pdf-worker"].replicas == 2


def test_a_worker_without_a_drain_is_given_back_in_the_same_reconcile() -> None:
    spec = make_spec(
        PHASES,
        workers=[{"deployment": "pdf-worker"}],
        analysis=analysis(errors_metric(), interval="30s"),
    )
    run = Run(spec, workers={"pdf-worker": WorkerObservation(replicas=1)}, scales=True)
    run.step(metrics={"errors": 0.0})
    run.step(minutes(1), metrics={"errors": 0.0})
    run.step(seconds(1), metrics={"errors": 0.0})
    run.step(seconds(30), metrics={"errors": 0.9})
    assert run.phase == "RolledBack"
    assert run.workers["pdf-worker"].replicas == 1
    assert run.status.drains is None


def test_drain_queries_are_read_at_once_then_every_interval_until_the_deadline() -> None:
    run = at_p25()
    breach(run)
    spec, status = run.spec, run.status
    assert drain_due(spec, status, run.now)
    assert next_wakeup(spec, status, run.now) == run.now
    run.step(seconds(1), drains=7)
    status = run.status
    assert not drain_due(spec, status, run.now + seconds(29))
    assert drain_due(spec, status, run.now + seconds(30))
    assert next_wakeup(spec, status, run.now) == run.now + seconds(30), (
        "no restore check every second while the worker drains"
    )


def test_a_drain_needs_an_analysis_for_its_prometheus() -> None:
    with pytest.raises(ValidationError, match=r"spec.workers\[\].drain needs spec.analysis"):
        make_spec(PHASES, workers=[{"deployment": "pdf-worker", "drain": DRAIN}])
