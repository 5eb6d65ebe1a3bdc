"""Pause freezes the soak clock, resume keeps the time left, abort rolls back to 0 %, retry
starts again: all through the status subresource, each leaving an Event."""

from __future__ import annotations

from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    delivered_event_reasons,
    ramp,
    rollout_manifest,
    status,
    wait_phase,
    wait_published,
    when,
)

PHASES = [
    {"name": "canary", "percentage": 10, "duration": "1h"},
    {"name": "everyone", "percentage": 100},
]


def test_pause_resume_keeps_remaining_soak(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("steer", PHASES))
    wait_phase(cluster, namespace, "steer", "Progressing", what="Progressing")
    due_before = when(status(cluster, namespace, "steer")["nextPromotionAt"])

    ramp(cluster, "pause", "steer", "-n", namespace)
    wait_phase(cluster, namespace, "steer", "Paused", what="Paused")
    wait_published(cluster, namespace, "steer-flag", "10")
    again = ramp(cluster, "pause", "steer", "-n", namespace)
    assert "pause of steer already requested" in again.stdout

    ramp(cluster, "resume", "steer", "-n", namespace)
    wait_phase(cluster, namespace, "steer", "Progressing", what="resumed")
    due_after = when(status(cluster, namespace, "steer")["nextPromotionAt"])
    # The paused time is added back: promotion is not earlier, and not a fresh hour later.
    assert due_after >= due_before
    assert (due_after - due_before).total_seconds() < 60
    reasons = delivered_event_reasons(cluster, namespace, "steer")
    assert "PauseRequested" in reasons
    assert "ResumeRequested" in reasons


def test_abort_rolls_back_to_zero_and_retry_starts_again(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("steer", PHASES))
    wait_phase(cluster, namespace, "steer", "Progressing", what="Progressing")

    ramp(cluster, "abort", "steer", "-n", namespace)
    wait_phase(cluster, namespace, "steer", "RolledBack", what="RolledBack")
    wait_published(
        cluster,
        namespace,
        "steer-flag",
        "0",
        timeout=30,
        what="the ConfigMap to publish 0 after abort",
    )
    refused = ramp(cluster, "promote", "steer", "-n", namespace, check=False)
    assert refused.returncode == 1
    assert "cannot promote steer: it is RolledBack" in refused.stderr

    ramp(cluster, "retry", "steer", "-n", namespace)
    wait_phase(cluster, namespace, "steer", "Progressing", what="retried")
    wait_published(
        cluster,
        namespace,
        "steer-flag",
        "10",
        timeout=30,
        what="the first phase to be published again after retry",
    )
    reasons = delivered_event_reasons(cluster, namespace, "steer")
    assert "AbortRequested" in reasons
    assert "RetryRequested" in reasons
