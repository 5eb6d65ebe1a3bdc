"""Queue workers have no HTTP traffic: their rollout is judged on queue depth and dead letters.
A backlog pauses the rollout (workers keep their scale, nothing is rolled back) until it drains;
one dead letter rolls back to zero, turns the master toggle off and gives the workers back."""

from __future__ import annotations

from typing import Any

from tests.support.analysis import analysed_rollout
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.exporter import Exporter
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, flag_data, ramp, status, wait_phase
from tests.support.workloads import deployment, replicas

QUEUE = {
    "name": "queue-depth",
    "query": 'max(ramp_test_queue_depth{exporter="EXPORTER"})',
    "critical": {"above": 100, "for": "2s"},
}
DLQ = {
    "name": "dlq",
    "query": 'max(ramp_test_dlq_messages{exporter="EXPORTER"})',
    "critical": {"above": 0},
}


def worker_rollout(cluster: Cluster, name: str, exporter: str, **spec: Any) -> dict[str, Any]:
    return analysed_rollout(
        cluster,
        name,
        exporter,
        [dict(QUEUE), dict(DLQ)],
        phases=[
            {"name": "canary", "percentage": 10, "duration": "3s", "workers": {"replicas": 2}},
            {"name": "half", "percentage": 50, "duration": "1h", "workers": {"replicas": 4}},
            {"name": "everyone", "percentage": 100, "workers": {"replicas": 5}},
        ],
        workers=[{"deployment": "celery"}],
        **spec,
    )


def test_backlog_pauses_without_rolling_back_and_resume_goes_on(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    deployment(cluster, namespace, "celery", replicas=1)
    manifest = worker_rollout(cluster, "backlog", namespace, failurePolicy={"action": "Pause"})
    manifest["spec"]["phases"][0]["duration"] = "1h"
    apply(cluster, namespace, manifest)
    eventually(
        lambda: replicas(cluster, namespace, "celery") == 2, timeout=30, what="2 workers in canary"
    )
    exporter.set_queue_depth(250)
    wait_phase(
        cluster, namespace, "backlog", "Paused", "canary", what="the rollout paused by the backlog"
    )
    held = status(cluster, namespace, "backlog")
    assert held["percentage"] == 10
    assert "queue-depth" in held["message"]
    assert replicas(cluster, namespace, "celery") == 2, "a Pause policy must not touch workers"

    exporter.set_queue_depth(3)
    ramp(cluster, "resume", "backlog", "-n", namespace)
    # A resume is a request: `ramp promote` refuses a rollout whose status still says Paused.
    wait_phase(
        cluster,
        namespace,
        "backlog",
        "Progressing",
        "canary",
        what="the operator to take the resume",
    )
    ramp(cluster, "promote", "backlog", "-n", namespace, "--skip-soak")
    wait_phase(
        cluster,
        namespace,
        "backlog",
        "Progressing",
        "half",
        what="the rollout going on once the queue drained",
    )
    eventually(
        lambda: replicas(cluster, namespace, "celery") == 4, timeout=30, what="4 workers at half"
    )


def test_one_dead_letter_rolls_back_disables_and_restores_workers(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    deployment(cluster, namespace, "celery", replicas=1)
    apply(
        cluster,
        namespace,
        worker_rollout(
            cluster,
            "dead",
            namespace,
            failurePolicy={"action": "Rollback", "rollbackTo": "Zero", "disableFlag": True},
        ),
    )
    wait_phase(
        cluster, namespace, "dead", "Progressing", "half", timeout=60, what="the second phase"
    )
    eventually(
        lambda: replicas(cluster, namespace, "celery") == 4, timeout=30, what="4 workers at half"
    )
    exporter.set_dlq(1)
    eventually(
        lambda: (
            (flag_data(cluster, namespace, "dead-flag") or {}).get("FEATURE_ENABLED") == "false"
        ),
        timeout=30,
        what="the master toggle off after the dead letter",
    )
    assert (flag_data(cluster, namespace, "dead-flag") or {}).get("FEATURE_PERCENTAGE") == "0"
    # A decrease is served before it is recorded: the status follows within a reconcile.
    wait_phase(
        cluster,
        namespace,
        "dead",
        "RolledBack",
        timeout=10,
        what="the status to record the rollback it published",
    )
    assert "dlq" in status(cluster, namespace, "dead")["message"]
    eventually(
        lambda: replicas(cluster, namespace, "celery") == 1,
        timeout=30,
        what="the worker's own single replica back after the rollback",
    )
