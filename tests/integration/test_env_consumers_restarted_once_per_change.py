"""Workloads that read the flag from env at start are restarted (pod template annotation) once
per published change, and never when nothing changed."""

from __future__ import annotations

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    ramp,
    rollout_manifest,
    wait_phase,
    wait_published,
)
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
    wait_phase(cluster, namespace, "env", "AwaitingApproval", what="the canary awaiting approval")
    first = eventually(
        lambda: template_annotations(cluster, namespace, "backend").get(REVISION),
        timeout=10,
        what="the backend restarted for the first published value",
    )
    # One restart: one new pod template generation, no more, however often the operator looks.
    assert generation(cluster, namespace, "backend") == start + 1

    ramp(cluster, "promote", "env", "-n", namespace)
    wait_published(cluster, namespace, "env-flag", "100", timeout=30, what="100 % published")
    eventually(
        lambda: (
            template_annotations(cluster, namespace, "backend").get(REVISION) not in (None, first)
        ),
        timeout=30,
        what="a second restart for the second published value",
    )
    wait_phase(
        cluster, namespace, "env", "AwaitingApproval", what="the last phase awaiting approval"
    )
    # An action that publishes nothing new (pause/resume) restarts nothing.
    ramp(cluster, "pause", "env", "-n", namespace)
    wait_phase(cluster, namespace, "env", "Paused", what="Paused")
    ramp(cluster, "resume", "env", "-n", namespace)
    wait_phase(
        cluster, namespace, "env", "AwaitingApproval", what="back to AwaitingApproval after resume"
    )
    assert generation(cluster, namespace, "backend") == start + 2
    assert REVISION not in template_annotations(cluster, namespace, "bystander")
