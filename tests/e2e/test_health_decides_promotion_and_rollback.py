"""The real Prometheus decides: healthy rollouts complete, breaches roll back, warnings don't."""

from __future__ import annotations

from datetime import timedelta

from tests.support.analysis import analysed_rollout, error_rate
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.exporter import Exporter
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    delivered_event_reasons,
    event_reasons,
    status,
    wait_phase,
    wait_published,
    when,
)

# Stored readings refreshed every 2 s (the analysis runs every 1 s): the no-data test below
# watches lastAnalysisAt move on while the rollout is held.
OPERATOR_ARGS = ("--status-refresh", "2")


def test_healthy_rollout_completes(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    apply(cluster, namespace, analysed_rollout(cluster, "healthy", namespace, [error_rate()]))
    wait_phase(
        cluster, namespace, "healthy", "Completed", timeout=60, what="a healthy rollout to complete"
    )
    wait_published(cluster, namespace, "healthy-flag", "100")
    metric = status(cluster, namespace, "healthy")["metrics"][0]
    assert (metric["name"], metric["verdict"], metric["value"]) == ("error-rate", "Pass", 0.0)


def test_error_spike_in_second_phase_rolls_back_to_zero(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    apply(cluster, namespace, analysed_rollout(cluster, "spike", namespace, [error_rate()]))
    wait_phase(
        cluster, namespace, "spike", "Progressing", "half", timeout=60, what="the second phase"
    )
    exporter.set_error_rate(0.3)
    wait_published(
        cluster,
        namespace,
        "spike-flag",
        "0",
        timeout=30,
        what="the ConfigMap to publish 0 % after the error spike",
    )
    # A decrease is served before it is recorded: the status follows within a reconcile.
    wait_phase(
        cluster,
        namespace,
        "spike",
        "RolledBack",
        timeout=10,
        what="the status to record the rollback it published",
    )
    final = status(cluster, namespace, "spike")
    assert final["rolledBackFrom"] == "half"
    assert final["snapshot"]["metrics"][0]["value"] == 0.3
    eventually(
        lambda: "RolledBack" in event_reasons(cluster, namespace, "spike"),
        timeout=10,
        what="the RolledBack Event",
    )


def test_error_spike_rolls_back_to_the_previous_phase(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    manifest = analysed_rollout(
        cluster,
        "stepback",
        namespace,
        [error_rate()],
        failurePolicy={"action": "Rollback", "rollbackTo": "PreviousPhase"},
    )
    apply(cluster, namespace, manifest)
    wait_phase(
        cluster, namespace, "stepback", "Progressing", "half", timeout=60, what="the second phase"
    )
    exporter.set_error_rate(0.3)
    wait_phase(
        cluster,
        namespace,
        "stepback",
        "RolledBack",
        "canary",
        what="a rollback to the canary phase",
    )
    wait_published(cluster, namespace, "stepback-flag", "10")


def test_p99_above_twice_the_baseline_rolls_back(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    p99 = {
        "name": "p99-latency",
        "query": 'max(ramp_test_latency_p99_seconds{exporter="EXPORTER"})',
        "baseline": {"capture": "AtStart"},
        "critical": {"aboveBaselineRatio": 2.0, "for": "2s"},
    }
    apply(cluster, namespace, analysed_rollout(cluster, "latency", namespace, [p99]))
    wait_phase(cluster, namespace, "latency", "Progressing", what="the rollout to start")
    assert status(cluster, namespace, "latency")["baseline"] == {"p99-latency": 0.2}
    exporter.set_latency_p99(0.39)  # under 2x: fine
    exporter.set_latency_p99(0.5)
    wait_phase(
        cluster, namespace, "latency", "RolledBack", what="a rollback on p99 above 2x the baseline"
    )
    assert "above 2x baseline 0.2" in status(cluster, namespace, "latency")["message"]


def test_warning_never_rolls_back(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    queue = {
        "name": "queue-depth",
        "query": 'max(ramp_test_queue_depth{exporter="EXPORTER"})',
        "warning": {"above": 100},
    }
    exporter.set_queue_depth(500)
    apply(cluster, namespace, analysed_rollout(cluster, "warned", namespace, [queue]))
    wait_phase(
        cluster,
        namespace,
        "warned",
        "Completed",
        timeout=60,
        what="the rollout to complete despite the warning",
    )
    reasons = delivered_event_reasons(cluster, namespace, "warned")
    assert "Warning" in reasons
    assert "RolledBack" not in reasons


def test_metric_without_data_holds_the_rollout(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    dlq = {
        "name": "dlq",
        "query": 'max(ramp_test_missing_series{exporter="EXPORTER"})',
        "critical": {"above": 0},
    }
    apply(cluster, namespace, analysed_rollout(cluster, "nodata", namespace, [dlq]))
    wait_phase(cluster, namespace, "nodata", "Paused", what="the rollout to hold on missing data")
    started = when(status(cluster, namespace, "nodata")["phaseStartedAt"])
    eventually(
        lambda: (
            when(status(cluster, namespace, "nodata")["lastAnalysisAt"])
            > started + timedelta(seconds=6)
        ),
        timeout=30,
        what="an analysis after the canary's 4 s soak would have ended",
    )
    held = status(cluster, namespace, "nodata")
    assert (held["phase"], held["currentPhase"]) == ("Paused", "canary")
    assert "no data for dlq" in held["message"]
    wait_published(cluster, namespace, "nodata-flag", "10")
    exporter.set_gauge("ramp_test_missing_series", 0)
    wait_phase(
        cluster,
        namespace,
        "nodata",
        "Completed",
        timeout=60,
        what="the rollout to resume and complete once the data is there",
    )
