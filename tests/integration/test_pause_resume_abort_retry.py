"""Pause freezes the soak clock, resume keeps the time left, abort rolls back to 0 %, retry
starts again: all through the status subresource, each leaving an Event."""

from __future__ import annotations

from tests.conftest import Cluster
from tests.integration.conftest import OperatorProcess
from tests.support.eventually import eventually
from tests.support.rollouts import (
    apply,
    delivered_event_reasons,
    published_percentage,
    ramp,
    rollout_manifest,
    status,
    wait_published,
    when,
)

PHASES = [
    {"name": "canary", "percentage": 10, "duration": "1h"},
    {"name": "everyone", "percentage": 100},
]


def phase_is(cluster: Cluster, namespace: str, phase: str) -> bool:
    return status(cluster, namespace, "steer").get("phase") == phase


def test_pause_resume_keeps_remaining_soak(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("steer", PHASES))
    eventually(lambda: phase_is(cluster, namespace, "Progressing"), timeout=30, what="Progressing")
    due_before = when(status(cluster, namespace, "steer")["nextPromotionAt"])

    ramp(cluster, "pause", "steer", "-n", namespace)
    eventually(lambda: phase_is(cluster, namespace, "Paused"), timeout=30, what="Paused")
    wait_published(cluster, namespace, "steer-flag", "10")
    again = ramp(cluster, "pause", "steer", "-n", namespace)
    assert "pause of steer already requested" in again.stdout

    ramp(cluster, "resume", "steer", "-n", namespace)
    eventually(lambda: phase_is(cluster, namespace, "Progressing"), timeout=30, what="resumed")
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
    eventually(lambda: phase_is(cluster, namespace, "Progressing"), timeout=30, what="Progressing")

    ramp(cluster, "abort", "steer", "-n", namespace)
    eventually(lambda: phase_is(cluster, namespace, "RolledBack"), timeout=30, what="RolledBack")
    eventually(
        lambda: published_percentage(cluster, namespace, "steer-flag") == "0",
        timeout=30,
        what="the ConfigMap to publish 0 after abort",
    )
    refused = ramp(cluster, "promote", "steer", "-n", namespace, check=False)
    assert refused.returncode == 1
    assert "cannot promote steer: it is RolledBack" in refused.stderr

    ramp(cluster, "retry", "steer", "-n", namespace)
    eventually(lambda: phase_is(cluster, namespace, "Progressing"), timeout=30, what="retried")
    eventually(
        lambda: published_percentage(cluster, namespace, "steer-flag") == "10",
        timeout=30,
        what="the first phase to be published again after retry",
    )
    reasons = delivered_event_reasons(cluster, namespace, "steer")
    assert "AbortRequested" in reasons
    assert "RetryRequested" in reasons
