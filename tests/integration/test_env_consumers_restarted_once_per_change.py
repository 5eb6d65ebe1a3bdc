"""Workloads that read the flag from env at start are restarted (pod template annotation) once
per published change, and never when nothing changed."""

from __future__ import annotations

from tests.conftest import Cluster
from tests.integration.conftest import OperatorProcess
from tests.support.eventually import eventually
from tests.support.rollouts import apply, published_percentage, ramp, rollout_manifest, status
from tests.support.workloads import deployment, generation, template_annotations

REVISION = "ramp.dev/flag-revision"


def test_each_published_change_restarts_the_consumer_exactly_once(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    deployment(cluster, namespace, "backend")
    deployment(cluster, namespace, "bystander")
    start = generation(cluster, namespace, "backend")
    phases = [
        {"name": "canary", "percentage": 10, "approval": "Manual"},
        {"name": "everyone", "percentage": 100, "approval": "Manual"},
    ]
    flag = {
        "key": "env",
        "configMap": "env-flag",
        "env": {"enabled": "FEATURE_ENABLED", "percentage": "FEATURE_PERCENTAGE"},
        "restartOnChange": [{"kind": "Deployment", "name": "backend"}],
    }
    apply(cluster, namespace, rollout_manifest("env", phases, flag=flag))
    eventually(
        lambda: status(cluster, namespace, "env").get("phase") == "AwaitingApproval",
        timeout=30,
        what="the canary awaiting approval",
    )
    first = eventually(
        lambda: template_annotations(cluster, namespace, "backend").get(REVISION),
        timeout=10,
        what="the backend restarted for the first published value",
    )
    # One restart: one new pod template generation, no more, however often the operator looks.
    assert generation(cluster, namespace, "backend") == start + 1

    ramp(cluster, "promote", "env", "-n", namespace)
    eventually(
        lambda: published_percentage(cluster, namespace, "env-flag") == "100",
        timeout=30,
        what="100 % published",
    )
    eventually(
        lambda: (
            template_annotations(cluster, namespace, "backend").get(REVISION) not in (None, first)
        ),
        timeout=30,
        what="a second restart for the second published value",
    )
    eventually(
        lambda: status(cluster, namespace, "env").get("phase") == "AwaitingApproval",
        timeout=30,
        what="the last phase awaiting approval",
    )
    # An action that publishes nothing new (pause/resume) restarts nothing.
    ramp(cluster, "pause", "env", "-n", namespace)
    eventually(
        lambda: status(cluster, namespace, "env").get("phase") == "Paused",
        timeout=30,
        what="Paused",
    )
    ramp(cluster, "resume", "env", "-n", namespace)
    eventually(
        lambda: status(cluster, namespace, "env").get("phase") == "AwaitingApproval",
        timeout=30,
        what="back to AwaitingApproval after resume",
    )
    assert generation(cluster, namespace, "backend") == start + 2
    assert REVISION not in template_annotations(cluster, namespace, "bystander")
