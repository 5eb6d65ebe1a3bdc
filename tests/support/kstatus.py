"""K1, the kstatus summary of a Rollout, as one check every kind of test calls (engine property
tests, the `kubectl wait` test, the Flux e2e test)."""

from __future__ import annotations

from typing import Any

from ramp.api import RolloutStatus

SUMMARY = ("Ready", "Reconciling", "Stalled")
STALLED_PHASES = ("RolledBack", "Failed", "Disabled")
MOVING_PHASES = ("Pending", "Progressing")
HELD_REASONS = ("Paused", "AwaitingApproval")


def check_kstatus_summary(status: RolloutStatus, generation: int | None = None) -> None:
    """K1: at most one of Ready, Reconciling and Stalled is True. Ready exactly when the rollout
    is Completed; Stalled exactly when it is RolledBack, Failed or Disabled (or refused its
    ConfigMap); Reconciling only while Pending or Progressing; none while a person holds it
    (Paused, AwaitingApproval). Every condition carries the status's observedGeneration (the
    object's generation, when given)."""
    conditions = {c.type: c for c in status.conditions or []}
    missing = [t for t in SUMMARY if t not in conditions]
    assert not missing, f"K1: conditions {missing} missing from {sorted(conditions)}"
    true = [t for t in SUMMARY if conditions[t].status == "True"]
    assert len(true) <= 1, f"K1: at most one of {SUMMARY} is True, not {true} ({status.phase})"
    conflict = conditions["Stalled"].reason == "ConfigMapConflict"
    assert (conditions["Ready"].status == "True") == (status.phase == "Completed"), (
        f"K1: Ready={conditions['Ready'].status} in phase {status.phase}"
    )
    assert (conditions["Stalled"].status == "True") == (
        status.phase in STALLED_PHASES or conflict
    ), f"K1: Stalled={conditions['Stalled'].status} in phase {status.phase}"
    if conditions["Reconciling"].status == "True":
        assert status.phase in MOVING_PHASES, f"K1: Reconciling=True in phase {status.phase}"
    if not true:
        assert conditions["Ready"].reason in HELD_REASONS, (
            f"K1: nothing True, but the rollout is not held ({status.phase}, "
            f"{conditions['Ready'].reason})"
        )
    for t in SUMMARY:
        assert conditions[t].reason, f"K1: condition {t} has no reason"
    expected = status.observed_generation if generation is None else generation
    for c in status.conditions or []:
        assert c.observed_generation == expected, (
            f"K1: condition {c.type} observedGeneration {c.observed_generation}, "
            f"status/object generation {expected}"
        )


def check_kstatus_summary_of(obj: dict[str, Any]) -> None:
    """K1 on a Rollout object as read from the API server."""
    check_kstatus_summary(
        RolloutStatus.model_validate(obj.get("status") or {}), obj["metadata"]["generation"]
    )
