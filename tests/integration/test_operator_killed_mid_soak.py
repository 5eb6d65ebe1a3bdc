"""An operator killed with SIGKILL mid-soak and restarted finishes the phase after the time
that was left, not after a fresh soak, and applies no transition twice."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    delivered_event_reasons,
    rollout_manifest,
    status,
    wait_phase,
    when,
)

SOAK = 12.0


def test_restart_resumes_with_remaining_soak(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    phases = [
        {"name": "canary", "percentage": 10, "duration": f"{SOAK:.0f}s"},
        {"name": "everyone", "percentage": 100},
    ]
    apply(cluster, namespace, rollout_manifest("crash", phases))
    wait_phase(cluster, namespace, "crash", "Progressing", what="the canary soak to start")
    started = when(status(cluster, namespace, "crash")["phaseStartedAt"])
    time.sleep(SOAK / 2)  # let half the soak pass: this is the scenario, not synchronisation
    operator.kill()
    operator.start()
    restarted = datetime.now(UTC)

    wait_phase(
        cluster,
        namespace,
        "crash",
        "Completed",
        timeout=60,
        what="the rollout to complete after the restart",
    )
    completed = datetime.now(UTC)
    # Completed about when the original soak ended, well before a fresh soak would have.
    assert (completed - started).total_seconds() < SOAK + 5
    assert (completed - restarted).total_seconds() < SOAK - 1
    reasons = delivered_event_reasons(cluster, namespace, "crash")
    assert reasons.count("Completed") == 1, reasons
    assert reasons.count("Promoted") == 1, reasons
