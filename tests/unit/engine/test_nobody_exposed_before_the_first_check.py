"""I3b: the first phase starts only once the Rollout can be checked. A worker that does not exist
yet, or an analysis that has not been answered without an error (an unreachable Prometheus, a
query that does not parse, an address the operator's admin did not allow), keeps the rollout at
0 % with a message naming what it waits for; it starts by itself once that holds. No data is an
answer: its own policy applies once the phase runs."""

from __future__ import annotations

from ramp.engine.observations import MetricSample, WorkerObservation
from tests.support.engine import Run, analysis, errors_metric, make_spec, minutes, seconds


def progressing(run: Run) -> tuple[str, str]:
    condition = next(c for c in run.status.conditions or [] if c.type == "Progressing")
    return condition.status, condition.reason


def test_a_failing_query_keeps_the_rollout_at_zero_until_it_is_answered() -> None:
    run = Run(make_spec(analysis=analysis(errors_metric(), errorLimit=2)))
    for _ in range(6):  # far beyond errorLimit: before the start, errors are not a breach
        run.step(seconds(30), {"errors": MetricSample(error="bad_data: parse error at char 5")})
        assert run.phase == "Pending"
        assert run.published.percentage == 0
        assert run.status.phase_started_at is None
    assert "waiting at 0 % to start" in (run.status.message or "")
    assert "errors" in (run.status.message or "") and "parse error" in (run.status.message or "")
    assert progressing(run) == ("True", "WaitingToStart")
    assert "RolledBack" not in run.reasons()

    run.step(seconds(30), {"errors": 0.01})
    assert run.phase == "Progressing"
    assert run.status.current_phase == "canary"
    assert run.published.percentage == 5
    assert progressing(run) == ("True", "Progressing")


def test_an_address_the_operator_refuses_holds_at_zero_and_goes_on_once_allowed() -> None:
    refused = (
        "spec.analysis.prometheus.address: http://prometheus:9090 is not allowed by this "
        "operator's --prometheus-allow list (chart value prometheus.allow)"
    )
    run = Run(make_spec(analysis=analysis(errors_metric())))
    for _ in range(10):
        run.step(seconds(30), {"errors": MetricSample(error=refused)})
    assert run.phase == "Pending" and run.published.percentage == 0
    assert "--prometheus-allow" in (run.status.message or "")
    # The admin allows the address (the operator restarts with it): no person acts on the Rollout.
    run.step(seconds(30), {"errors": 0.0})
    assert run.status.current_phase == "canary"
    assert run.reasons() == ["Started"]


def test_no_data_is_an_answer() -> None:
    run = Run(make_spec(analysis=analysis(errors_metric(onNoData="Ignore"))))
    run.step(seconds(0), {"errors": None})
    assert run.status.current_phase == "canary"


def test_a_missing_worker_keeps_the_rollout_at_zero_until_it_exists() -> None:
    spec = make_spec(workers=[{"deployment": "celery"}])
    run = Run(spec, workers={"celery": WorkerObservation(missing=("Deployment/celery",))})
    run.step()
    run.step(minutes(5))
    assert run.phase == "Pending" and run.published.percentage == 0
    assert "Deployment/celery not found" in (run.status.message or "")
    ready = next(c for c in run.status.conditions or [] if c.type == "WorkersReady")
    assert (ready.status, ready.reason) == ("False", "WorkerNotFound")
    assert run.reasons().count("WorkerNotFound") == 1

    run.workers = {"celery": WorkerObservation(replicas=2)}
    run.step(seconds(5))
    assert run.status.current_phase == "canary"
    assert run.published.percentage == 5
