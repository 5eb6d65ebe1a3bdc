"""Pause freezes the soak clock, resume keeps the time left, abort rolls back to 0 %, retry
starts again: all through the status subresource, each leaving an Event."""

from __future__ import annotations

from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    command_lands,
    delivered_event_reasons,
    ramp,
    rollout_manifest,
    status,
    wait_phase,
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

    command_lands(cluster, namespace, "steer", "pause", "Paused", serves="10")
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

    command_lands(cluster, namespace, "steer", "abort", "RolledBack", serves="0")
    refused = ramp(cluster, "promote", "steer", "-n", namespace, check=False)
    assert refused.returncode == 1
    assert "cannot promote steer: it is RolledBack" in refused.stderr

    command_lands(cluster, namespace, "steer", "retry", "Progressing", serves="10")
    reasons = delivered_event_reasons(cluster, namespace, "steer")
    assert "AbortRequested" in reasons
    assert "RetryRequested" in reasons
