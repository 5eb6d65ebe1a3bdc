"""`ramp promote` in a freeze is refused (exit 1, saying the freeze and the way out); with
`--override-freeze` it promotes, and the history records who overrode which freeze."""

from __future__ import annotations

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, get, ramp, rollout_manifest, status

PHASES = [
    {"name": "canary", "percentage": 10, "approval": "Manual"},
    {"name": "half", "percentage": 50, "duration": "1h"},
    {"name": "all", "percentage": 100},
]


def test_a_promote_in_a_freeze_is_refused_unless_it_overrides_it(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("gated", PHASES))
    eventually(
        lambda: status(cluster, namespace, "gated").get("phase") == "AwaitingApproval",
        timeout=30,
        what="the canary to await approval",
    )
    frozen = rollout_manifest("gated", PHASES, freeze={"reason": "change freeze"})
    apply(cluster, namespace, frozen)
    eventually(
        lambda: any(
            c["type"] == "PromotionAllowed" and c["reason"] == "Frozen"
            for c in status(cluster, namespace, "gated").get("conditions") or []
        ),
        timeout=30,
        what="the freeze to be in force",
    )
    refused = ramp(cluster, "promote", "gated", "-n", namespace, check=False)
    assert refused.returncode == 1
    assert "promotion frozen until the freeze is removed: change freeze" in refused.stderr
    assert "--override-freeze" in refused.stderr
    assert not (status(cluster, namespace, "gated").get("control") or {}).get("promote")

    spec_before = get(cluster, namespace, "gated")["spec"]
    ramp(cluster, "promote", "gated", "-n", namespace, "--override-freeze")
    eventually(
        lambda: status(cluster, namespace, "gated").get("currentPhase") == "half",
        timeout=30,
        what="the overriding promote to take the rollout to half",
    )
    promoted = next(
        h for h in status(cluster, namespace, "gated")["history"] if h["reason"] == "Promoted"
    )
    assert "`ramp promote --override-freeze` by " in promoted["message"]
    assert (
        "overriding: promotion frozen until the freeze is removed: change freeze"
        in (promoted["message"])
    )
    assert get(cluster, namespace, "gated")["spec"] == spec_before  # no drift for GitOps
    # Half soaks an hour: still frozen after it, it would hold; no second promote happened.
    assert status(cluster, namespace, "gated")["phase"] == "Progressing"
