"""The async PDF team's bad day: a rollback at 25 % with the workers scaled up and jobs queued.
The flag serves 0 % at once; the worker keeps its replicas while the queue exporter's backlog
(which the test controls, as the workers would by taking jobs) is above 0, and gets its own
single replica back once the backlog reads 0, or once the drain times out, with an Event and a
notification. An operator killed mid-drain resumes it with the same deadline (I9)."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

from tests.e2e.test_rollback_notifies_webhook import Webhook, webhook
from tests.support.analysis import analysed_rollout, error_rate
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.exporter import Exporter, wait_scraped
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    delivered_event_reasons,
    status,
    wait_phase,
    wait_published,
    when,
)
from tests.support.workloads import deployment, replicas

__all__ = ["webhook"]

OPERATOR_ARGS = ("--webhook-allow", "http://127.0.0.1:*")

BACKLOG = 'max(ramp_test_queue_depth{exporter="EXPORTER"})'


def pdf_rollout(cluster: Cluster, name: str, exporter: str, timeout: str) -> dict[str, Any]:
    return analysed_rollout(
        cluster,
        name,
        exporter,
        [error_rate()],
        phases=[
            {"name": "p10", "percentage": 10, "duration": "2s", "workers": {"replicas": 2}},
            {"name": "p25", "percentage": 25, "duration": "1h", "workers": {"replicas": 5}},
            {"name": "p100", "percentage": 100, "workers": {"replicas": 8}},
        ],
        workers=[
            {
                "deployment": "pdf-worker",
                "drain": {"query": BACKLOG.replace("EXPORTER", exporter), "timeout": timeout},
            }
        ],
        failurePolicy={"action": "Rollback", "rollbackTo": "Zero"},
    )


def rolled_back_at_25_percent_with_a_backlog(
    cluster: Cluster, namespace: str, exporter: Exporter, name: str, timeout: str, backlog: int
) -> dict[str, Any]:
    """Roll out to 25 % (5 workers), queue ``backlog`` jobs, breach: the drain begins."""
    deployment(cluster, namespace, "pdf-worker", replicas=1)
    apply(cluster, namespace, pdf_rollout(cluster, name, namespace, timeout))
    wait_phase(cluster, namespace, name, "Progressing", "p25", timeout=60)
    eventually(
        lambda: replicas(cluster, namespace, "pdf-worker") == 5, timeout=30, what="5 workers"
    )
    exporter.set_queue_depth(backlog)
    wait_scraped(cluster, BACKLOG.replace("EXPORTER", namespace), backlog)
    exporter.set_error_rate(0.5)
    wait_published(cluster, namespace, f"{name}-flag", "0", timeout=30)
    return eventually(
        lambda: status(cluster, namespace, name).get("drains", {}).get("pdf-worker"),
        timeout=10,
        what="the drain recorded with the rollback",
    )


def reading_after(cluster: Cluster, namespace: str, name: str, after: datetime) -> dict[str, Any]:
    """Wait for a drain reading taken after ``after``; return the drain."""

    def read() -> dict[str, Any] | None:
        drain = status(cluster, namespace, name).get("drains", {}).get("pdf-worker")
        seen = drain and drain.get("observedAt")
        return drain if seen and when(seen) > after else None

    return eventually(read, timeout=30, what=f"a drain reading after {after:%H:%M:%S}")


def test_rollback_keeps_the_workers_while_jobs_are_queued_and_gives_them_back_once_drained(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    rolled_back_at_25_percent_with_a_backlog(
        cluster, namespace, exporter, "pdf", timeout="30m", backlog=1240
    )
    assert status(cluster, namespace, "pdf")["phase"] == "RolledBack"
    eventually(
        lambda: (status(cluster, namespace, "pdf").get("draining") or "").startswith(
            "pdf-worker: 1,240 left, 30m to timeout"
        ),
        timeout=30,
        what="status.draining to say what is left",
    )
    table = cluster.kubectl("get", "rollouts", "-n", namespace).stdout
    assert "DRAINING" in table.splitlines()[0]
    assert "pdf-worker: 1,240 left, 30m to timeout" in table

    # The workers take jobs; while any is left, the worker keeps its five replicas.
    exporter.set_queue_depth(300)
    reading_after(cluster, namespace, "pdf", datetime.now(UTC))
    reading_after(cluster, namespace, "pdf", datetime.now(UTC))
    assert replicas(cluster, namespace, "pdf-worker") == 5
    eventually(
        lambda: "300 left" in (status(cluster, namespace, "pdf").get("draining") or ""),
        timeout=30,
        what="the backlog going down in status",
    )
    assert replicas(cluster, namespace, "pdf-worker") == 5

    exporter.set_queue_depth(0)
    eventually(
        lambda: replicas(cluster, namespace, "pdf-worker") == 1,
        timeout=30,
        what="the worker's own replica back once drained",
    )
    done = status(cluster, namespace, "pdf")
    assert "drains" not in done and "draining" not in done
    reasons = delivered_event_reasons(cluster, namespace, "pdf")
    assert "Draining" in reasons and "Drained" in reasons
    assert "DrainTimedOut" not in reasons


def test_a_drain_cut_short_by_its_timeout_restores_the_worker_with_an_event_and_a_notification(
    cluster: Cluster,
    namespace: str,
    operator: OperatorProcess,
    exporter: Exporter,
    webhook: Webhook,
) -> None:
    cluster.core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "hook"},
            "data": {"url": base64.b64encode(webhook.url.encode()).decode()},
        },
    )
    deployment(cluster, namespace, "pdf-worker", replicas=1)
    manifest = pdf_rollout(cluster, "slow", namespace, timeout="8s")
    manifest["spec"]["notifications"] = [
        {"secretRef": {"name": "hook", "key": "url"}, "on": ["DrainTimedOut"]}
    ]
    apply(cluster, namespace, manifest)
    wait_phase(cluster, namespace, "slow", "Progressing", "p25", timeout=60)
    eventually(
        lambda: replicas(cluster, namespace, "pdf-worker") == 5, timeout=30, what="5 workers"
    )
    exporter.set_queue_depth(40)
    wait_scraped(cluster, BACKLOG.replace("EXPORTER", namespace), 40)
    exporter.set_error_rate(0.5)
    drain = eventually(
        lambda: status(cluster, namespace, "slow").get("drains", {}).get("pdf-worker"),
        timeout=30,
        what="the drain recorded with the rollback",
    )
    deadline = when(drain["deadline"])
    assert (deadline - when(drain["startedAt"])).total_seconds() == 8
    # Never before the timeout: the worker keeps its scale up to the deadline (checked, not
    # waited for: the loop ends at the deadline whatever happens).
    while datetime.now(UTC) < deadline:
        assert replicas(cluster, namespace, "pdf-worker") == 5, "scaled down before the timeout"
        time.sleep(0.25)
    eventually(
        lambda: replicas(cluster, namespace, "pdf-worker") == 1,
        timeout=30,
        what="the worker given back its own replica at the timeout",
    )
    eventually(lambda: webhook.received, timeout=30, what="the DrainTimedOut notification")
    assert "DrainTimedOut" in webhook.received[0]["text"]
    assert "40 left" in webhook.received[0]["text"]
    reasons = delivered_event_reasons(cluster, namespace, "slow")
    assert "DrainTimedOut" in reasons and "Drained" not in reasons


def test_an_operator_killed_mid_drain_resumes_it_with_the_same_deadline(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    drain = rolled_back_at_25_percent_with_a_backlog(
        cluster, namespace, exporter, "crash", timeout="10m", backlog=70
    )
    drain = reading_after(cluster, namespace, "crash", when(drain["startedAt"]))
    deadline = drain["deadline"]
    operator.kill()
    killed = datetime.now(UTC)
    operator.start()
    drain = reading_after(cluster, namespace, "crash", killed)
    assert drain["deadline"] == deadline, "a restart keeps the drain's deadline"
    assert drain["left"] == 70
    assert replicas(cluster, namespace, "pdf-worker") == 5
    assert "70 left" in status(cluster, namespace, "crash")["draining"]

    exporter.set_queue_depth(0)
    eventually(
        lambda: replicas(cluster, namespace, "pdf-worker") == 1,
        timeout=30,
        what="the worker's own replica back once drained after the restart",
    )
