"""What `kubectl wait`, kstatus and Argo CD read from a Rollout on the real API server: Ready
when it completes, Stalled when rolled back or disabled, and Ramp's Lua health check (run by a
real Lua interpreter) on each state the operator actually writes.

With RAMP_RECORD_HEALTH_DATA=1 the objects read here are saved as tests/data/argocd-health/, the
cluster-free test data of tests/unit/test_argocd_health_check.py."""

from __future__ import annotations

import json
import os
from typing import Any

from tests.support.argocd import RECORDED, argocd_health, recordable
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.kstatus import check_kstatus_summary_of
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, get, ramp, rollout_manifest, status

SHORT = [
    {"name": "canary", "percentage": 10, "duration": "1s"},
    {"name": "everyone", "percentage": 100},
]
SOAKING = [{"name": "canary", "percentage": 10, "duration": "1h"}, SHORT[1]]
GATED = [{"name": "canary", "percentage": 10, "duration": "0s", "approval": "Manual"}, SHORT[1]]


def rollout(name: str) -> str:
    return f"rollouts.ramp.dev/{name}"


def phase_is(cluster: Cluster, namespace: str, name: str, phase: str) -> None:
    eventually(
        lambda: status(cluster, namespace, name).get("phase") == phase,
        timeout=30,
        what=f"Rollout {name} to reach phase {phase}",
    )


def health_of(
    cluster: Cluster, namespace: str, name: str, state: str, kstatus: bool = True
) -> dict[str, str]:
    obj = get(cluster, namespace, name)
    if kstatus:
        check_kstatus_summary_of(obj)
    recorded = recordable(obj)
    if os.environ.get("RAMP_RECORD_HEALTH_DATA"):
        RECORDED.mkdir(parents=True, exist_ok=True)
        (RECORDED / f"{state}.json").write_text(json.dumps(recorded, indent=2) + "\n")
    return argocd_health(recorded)


def condition(cluster: Cluster, namespace: str, name: str, type_: str) -> dict[str, Any]:
    conditions = status(cluster, namespace, name).get("conditions") or []
    found: dict[str, Any] = next(c for c in conditions if c["type"] == type_)
    return found


def test_kubectl_wait_for_ready_returns_when_the_rollout_completes(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("soaking", SOAKING))
    apply(cluster, namespace, rollout_manifest("completes", SHORT))
    done = cluster.kubectl(
        "wait", "-n", namespace, "--for=condition=Ready", rollout("completes"), "--timeout=60s"
    )
    assert "condition met" in done.stdout
    assert status(cluster, namespace, "completes")["phase"] == "Completed"
    ready = condition(cluster, namespace, "completes", "Ready")
    assert (
        ready["observedGeneration"]
        == get(cluster, namespace, "completes")["metadata"]["generation"]
    )
    phase_is(cluster, namespace, "soaking", "Progressing")
    waiting = cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "--for=condition=Ready",
        rollout("soaking"),
        "--timeout=2s",
        check=False,
    )
    assert waiting.returncode != 0, "a rollout still soaking is not Ready"
    assert condition(cluster, namespace, "soaking", "Reconciling")["status"] == "True"


def test_argo_cd_health_of_each_state_the_operator_writes(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("completes", SHORT))
    apply(cluster, namespace, rollout_manifest("soaking", SOAKING))
    apply(cluster, namespace, rollout_manifest("gated", GATED))
    apply(cluster, namespace, rollout_manifest("held", SOAKING))
    apply(cluster, namespace, rollout_manifest("off", SOAKING, enabled=False))
    apply(cluster, namespace, rollout_manifest("aborted", SOAKING))

    phase_is(cluster, namespace, "completes", "Completed")
    assert health_of(cluster, namespace, "completes", "completed")["status"] == "Healthy"

    phase_is(cluster, namespace, "soaking", "Progressing")
    health = health_of(cluster, namespace, "soaking", "progressing")
    assert health["status"] == "Progressing"
    assert health["message"] == status(cluster, namespace, "soaking")["message"]

    phase_is(cluster, namespace, "gated", "AwaitingApproval")
    assert health_of(cluster, namespace, "gated", "awaiting-approval")["status"] == "Suspended"

    phase_is(cluster, namespace, "held", "Progressing")
    apply(cluster, namespace, rollout_manifest("held", SOAKING, paused=True))
    phase_is(cluster, namespace, "held", "Paused")
    assert health_of(cluster, namespace, "held", "paused-from-git")["status"] == "Suspended"

    phase_is(cluster, namespace, "off", "Disabled")
    assert health_of(cluster, namespace, "off", "disabled")["status"] == "Suspended"
    cluster.kubectl(
        "wait", "-n", namespace, "--for=condition=Stalled", rollout("off"), "--timeout=10s"
    )

    phase_is(cluster, namespace, "aborted", "Progressing")
    ramp(cluster, "abort", "aborted", "-n", namespace)
    phase_is(cluster, namespace, "aborted", "RolledBack")
    assert health_of(cluster, namespace, "aborted", "rolled-back")["status"] == "Degraded"
    cluster.kubectl(
        "wait", "-n", namespace, "--for=condition=Stalled", rollout("aborted"), "--timeout=10s"
    )

    # A spec change the operator has not seen yet: Argo CD must not call the old status healthy.
    operator.stop()
    apply(
        cluster, namespace, rollout_manifest("completes", [SHORT[0], {**SHORT[1], "name": "all"}])
    )
    health = health_of(cluster, namespace, "completes", "generation-not-observed", kstatus=False)
    assert health["status"] == "Progressing"
    assert "observe generation 2" in health["message"]
    operator.start()
    phase_is(cluster, namespace, "completes", "Completed")
    eventually(
        lambda: status(cluster, namespace, "completes").get("observedGeneration") == 2,
        timeout=30,
        what="the restarted operator to observe generation 2",
    )
    assert health_of(cluster, namespace, "completes", "completed-after-edit")["status"] == (
        "Healthy"
    )
