"""Hole 9 / I10: a phase's soak counts only while the ConfigMap serves its percentage.

A ConfigMap created `immutable: true` by someone else cannot be written: the status used to
walk through every phase to Completed while apps were never served anything. Now the rollout
holds its first phase, says why, and soaks only once the ConfigMap serves it."""

from __future__ import annotations

import time

from kubernetes import client

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    rollout_manifest,
    status,
    wait_phase,
    wait_published,
    when,
)

PHASES = [
    {"name": "canary", "percentage": 5, "duration": "3s"},
    {"name": "half", "percentage": 50, "duration": "3s"},
    {"name": "all", "percentage": 100},
]


def test_unservable_configmap_holds_the_soak_and_it_counts_once_served(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    cluster.core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="frozen-flag"), data={"note": "x"}, immutable=True
        ),
    )
    flag = {
        "key": "frozen",
        "configMap": "frozen-flag",
        "env": {"percentage": "FEATURE_PERCENTAGE"},
    }
    apply(cluster, namespace, rollout_manifest("frozen", PHASES, flag=flag))
    eventually(
        lambda: status(cluster, namespace, "frozen").get("awaitingPublishSince") is not None,
        timeout=30,
        what="the rollout to notice that its ConfigMap does not serve it",
    )
    # Three times the soak: nothing may be promoted while nobody is served.
    deadline = time.monotonic() + 9
    while time.monotonic() < deadline:
        current = status(cluster, namespace, "frozen")
        assert current.get("currentPhase") == "canary", current
        assert current.get("phase") == "Progressing", current
        time.sleep(0.5)
    assert "frozen-flag" in status(cluster, namespace, "frozen")["message"]
    conditions = {c["type"]: c for c in status(cluster, namespace, "frozen")["conditions"]}
    published = conditions["Published"]
    assert (published["status"], published["reason"]) == ("False", "PublishFailed"), published
    assert f"{namespace}/frozen-flag" in published["message"]
    assert "Traceback" not in operator.tail(400), "a failed publish is a condition, not a crash"

    cluster.core.delete_namespaced_config_map("frozen-flag", namespace)
    wait_published(
        cluster,
        namespace,
        "frozen-flag",
        "5",
        timeout=30,
        what="the ConfigMap re-created serving 5 %",
    )
    served_at = time.time()
    wait_phase(
        cluster,
        namespace,
        "frozen",
        "Completed",
        timeout=60,
        what="the rollout to complete once served",
    )
    history = status(cluster, namespace, "frozen")["history"]
    promoted = next(h for h in history if h["reason"] == "Promoted")
    # Status times have whole seconds: allow one second of rounding.
    assert when(promoted["time"]).timestamp() >= served_at + 3 - 1.5, (promoted, served_at)
