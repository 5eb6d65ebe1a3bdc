"""A rollout walks its phases to Completed while the ConfigMap follows, and `kubectl get
rollouts` shows where it stands."""

from __future__ import annotations

import time

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    flags_json,
    published_percentage,
    rollout_manifest,
    status,
    wait_phase,
)

PHASES = [
    {"name": "canary", "percentage": 10, "duration": "2s"},
    {"name": "half", "percentage": 50, "duration": "2s"},
    {"name": "everyone", "percentage": 100},
]


def test_configmap_follows_phases_to_completed(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("walk", PHASES))
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        value = published_percentage(cluster, namespace, "walk-flag")
        if value is not None and (not seen or seen[-1] != value):
            seen.append(value)
        if status(cluster, namespace, "walk").get("phase") == "Completed":
            break
        time.sleep(0.05)
    final = status(cluster, namespace, "walk")
    assert final.get("phase") == "Completed", final
    seen.append(published_percentage(cluster, namespace, "walk-flag") or "")
    assert [v for i, v in enumerate(seen) if i == 0 or seen[i - 1] != v] == ["10", "50", "100"]
    assert final["percentage"] == 100
    flags = flags_json(cluster, namespace, "walk-flag")
    assert flags is not None
    assert flags["flags"]["walk"]["targeting"]["fractional"][0] == ["on", 10000]


def test_configmap_is_owned_by_the_rollout(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("owned", PHASES[:1]))
    cm = eventually(
        lambda: cluster.core.read_namespaced_config_map("owned-flag", namespace),
        timeout=30,
        what="the flag ConfigMap to be created",
    )
    owner = cm.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ("Rollout", "owned", True)
    assert cm.data["FEATURE_ENABLED"] == "true"


def test_kubectl_get_rollouts_shows_phase_step_percent(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    hold = [{"name": "canary", "percentage": 10, "duration": "1h"}, PHASES[2]]
    apply(cluster, namespace, rollout_manifest("shown", hold))
    wait_phase(cluster, namespace, "shown", "Progressing", what="rollout shown to be Progressing")
    out = cluster.kubectl("get", "rollouts", "-n", namespace).stdout.splitlines()
    header = out[0].split()
    assert header[:5] == ["NAME", "PHASE", "STEP", "PERCENT", "HEALTH"]
    assert header[5] == "AGE"  # then DRAINING, empty unless a worker drains
    row = dict(zip(header, out[1].split(), strict=False))
    assert (row["NAME"], row["PHASE"], row["STEP"], row["PERCENT"]) == (
        "shown",
        "Progressing",
        "canary",
        "10%",
    )
