"""A Manual phase holds at AwaitingApproval until `ramp promote`, and promoting leaves the
Rollout's spec and metadata exactly as Git has them (no Argo CD / Flux drift)."""

from __future__ import annotations

import json

from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    delivered_event_reasons,
    get,
    ramp,
    rollout_manifest,
    status,
    wait_phase,
)

PHASES = [
    {"name": "canary", "percentage": 5, "duration": "1s", "approval": "Manual"},
    {"name": "everyone", "percentage": 100},
]


def user_owned(obj: dict[str, object]) -> str:
    meta = obj["metadata"]
    assert isinstance(meta, dict)
    return json.dumps(
        {
            "spec": obj["spec"],
            "labels": meta.get("labels"),
            "annotations": meta.get("annotations"),
            "generation": meta.get("generation"),
        },
        sort_keys=True,
    )


def test_manual_phase_waits_for_promote_and_spec_is_untouched(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("gated", PHASES))
    wait_phase(
        cluster, namespace, "gated", "AwaitingApproval", what="the canary phase to await approval"
    )
    before = user_owned(get(cluster, namespace, "gated"))
    assert status(cluster, namespace, "gated")["percentage"] == 5

    out = ramp(cluster, "promote", "gated", "-n", namespace)
    assert "promotion of gated past canary requested" in out.stdout
    wait_phase(
        cluster, namespace, "gated", "Completed", what="the rollout to complete after promote"
    )
    after = get(cluster, namespace, "gated")
    assert user_owned(after) == before
    assert "PromoteRequested" in delivered_event_reasons(cluster, namespace, "gated")


def test_promote_of_unknown_rollout_is_a_clear_error(
    cluster: Cluster, namespace: str, rollout_crd: str
) -> None:
    out = ramp(cluster, "promote", "nope", "-n", namespace, check=False)
    assert out.returncode == 1
    assert f'rollout "nope" not found in namespace "{namespace}"' in out.stderr
