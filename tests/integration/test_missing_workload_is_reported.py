"""A worker Deployment or HPA that does not exist is a status condition and an Event that name
it, not a crash loop; the rollout waits at 0 % for it (I3b), and creating it lets the rollout
start."""

from __future__ import annotations

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    event_reasons,
    events,
    published_percentage,
    rollout_manifest,
    status,
    wait_published,
)
from tests.support.workloads import deployment, replicas


def test_missing_deployment_is_named_in_status_and_event(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    phases = [
        {"name": "canary", "percentage": 10, "duration": "1h", "workers": {"replicas": 3}},
        {"name": "everyone", "percentage": 100},
    ]
    apply(cluster, namespace, rollout_manifest("ghost", phases, workers=[{"deployment": "absent"}]))

    def reported() -> str:
        s = status(cluster, namespace, "ghost")
        text = (
            " ".join(f"{c.get('reason')} {c.get('message')}" for c in s.get("conditions") or [])
            + f" {s.get('message', '')}"
        )
        return text if "Deployment/absent" in text else ""

    text = eventually(reported, timeout=30, what="a condition naming Deployment/absent")
    assert "absent" in text
    eventually(
        lambda: any(
            "Deployment/absent" in (e.message or "") for e in events(cluster, namespace, "ghost")
        ),
        timeout=30,
        what="an Event naming Deployment/absent",
    )
    assert operator.proc is not None and operator.proc.poll() is None, "the operator crashed"
    waiting = status(cluster, namespace, "ghost")
    assert waiting["phase"] == "Pending" and not waiting.get("phaseStartedAt"), waiting
    assert "waiting at 0 % to start" in waiting["message"]
    assert published_percentage(cluster, namespace, "ghost-flag") in (None, "0")

    deployment(cluster, namespace, "absent", replicas=1)
    eventually(
        lambda: replicas(cluster, namespace, "absent") == 3,
        timeout=30,
        what="the worker scaled once it exists",
    )
    wait_published(
        cluster,
        namespace,
        "ghost-flag",
        "10",
        timeout=30,
        what="the first phase started by itself once the worker exists",
    )
    assert event_reasons(cluster, namespace, "ghost")
