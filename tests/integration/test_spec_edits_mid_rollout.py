"""Editing a Rollout in Git (or with kubectl) mid-rollout: the ConfigMap follows at once, the
soak already spent counts, and an edit never exposes more users than before it."""

from __future__ import annotations

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    rollout_manifest,
    status,
    wait_published,
    wait_status,
    when,
)

PHASES = [
    {"name": "canary", "percentage": 10, "duration": "1h"},
    {"name": "half", "percentage": 50, "duration": "1h"},
    {"name": "everyone", "percentage": 100},
]


def test_editing_the_current_phase_keeps_its_clock_and_publishes_the_new_value(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("edited", PHASES))
    wait_published(cluster, namespace, "edited-flag", "10")
    eventually(
        lambda: "awaitingPublishSince" not in status(cluster, namespace, "edited"),
        timeout=10,
        what="the status to confirm that 10 % is served (the soak counts from then)",
    )
    started = status(cluster, namespace, "edited")["phaseStartedAt"]

    phases = [dict(p) for p in PHASES]
    phases[0].update(percentage=15, duration="2h")
    apply(cluster, namespace, rollout_manifest("edited", phases))
    wait_published(cluster, namespace, "edited-flag", "15")

    def reflected() -> dict[str, object] | None:
        s = status(cluster, namespace, "edited")
        served = "awaitingPublishSince" not in s
        return s if s.get("observedGeneration") == 2 and served else None

    s = eventually(reflected, timeout=10, what="status.observedGeneration 2, 15 % served")
    assert (s["phase"], s["currentPhase"], s["percentage"]) == ("Progressing", "canary", 15)
    # The soak already spent counts; only the moment between the edit and the ConfigMap
    # serving 15 % is added (I10).
    moved = (when(str(s["phaseStartedAt"])) - when(started)).total_seconds()
    assert 0 <= moved < 5, f"the soak already spent must count (clock moved {moved:.2f}s)"
    due = when(str(s["nextPromotionAt"])) - when(str(s["phaseStartedAt"]))
    assert due.total_seconds() == 2 * 3600


def test_removing_the_current_phase_never_exposes_more_users(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("shrunk", PHASES))
    wait_published(cluster, namespace, "shrunk-flag", "10")

    phases = [{"name": "tiny", "percentage": 5, "duration": "1h"}, PHASES[1], PHASES[2]]
    apply(cluster, namespace, rollout_manifest("shrunk", phases))
    wait_published(cluster, namespace, "shrunk-flag", "5")
    s = wait_status(
        cluster,
        namespace,
        "shrunk",
        {"currentPhase": "tiny"},
        timeout=10,
        what="the rollout moved to the last phase not above what was published",
    )["status"]
    assert s["percentage"] == 5
