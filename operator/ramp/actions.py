"""What `ramp promote|pause|resume|abort|retry` ask of a rollout, and when they apply.

Actions never touch `spec` or metadata (Argo CD and Flux would see drift): each one is a merge
patch of `status.control`, which only the CLI writes and the engine reads and clears. Each is
idempotent: asking twice is the same as asking once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Action = Literal["promote", "pause", "resume", "abort", "retry"]

TERMINAL = ("Completed", "RolledBack", "Failed")


class ActionNotApplicable(Exception):
    """The action makes no sense in the rollout's current phase; the message says why."""


@dataclass(frozen=True)
class ActionPlan:
    control_patch: dict[str, Any]
    """Merge patch for `status.control`; empty when the request is already in place."""

    reason: str
    """Event reason recorded on the Rollout."""

    message: str
    """What the person is told, and the Event's message."""


def plan_action(
    action: Action,
    name: str,
    status: dict[str, Any],
    now: datetime,
    *,
    full: bool = False,
    spec_paused: bool = False,
) -> ActionPlan:
    phase = status.get("phase") or "Pending"
    control: dict[str, Any] = status.get("control") or {}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if action == "promote":
        if phase not in ("Progressing", "AwaitingApproval"):
            hint = "; resume it first" if phase == "Paused" else ""
            raise ActionNotApplicable(f"cannot promote {name}: it is {phase}{hint}")
        index = int(status.get("currentPhaseIndex") or 0)
        step = status.get("currentPhase") or f"phase {index}"
        wanted = {"phaseIndex": index, "full": full}
        if status.get("currentPhase"):
            wanted["phase"] = status["currentPhase"]
        existing = control.get("promote") or {}
        what = "to the last phase" if full else f"past {step}"
        if {k: existing.get(k) for k in wanted} == wanted:
            return ActionPlan(
                {}, "PromoteRequested", f"promotion of {name} {what} already requested"
            )
        return ActionPlan(
            {"promote": {**wanted, "requestedAt": stamp}},
            "PromoteRequested",
            f"promotion of {name} {what} requested",
        )
    if action == "pause":
        if phase in TERMINAL:
            raise ActionNotApplicable(f"cannot pause {name}: it is {phase}")
        if control.get("pause"):
            return ActionPlan({}, "PauseRequested", f"{name} is already paused")
        return ActionPlan(
            {"pause": {"requestedAt": stamp}}, "PauseRequested", f"{name} paused by ramp pause"
        )
    if action == "resume":
        note = (
            " (spec.paused is still true: set it to false in Git to resume)" if spec_paused else ""
        )
        if not control.get("pause"):
            return ActionPlan({}, "ResumeRequested", f"{name} was not paused by ramp pause{note}")
        return ActionPlan(
            {"pause": None, "resume": {"requestedAt": stamp}},
            "ResumeRequested",
            f"{name} resumed{note}",
        )
    if action == "abort":
        if phase in TERMINAL:
            raise ActionNotApplicable(f"cannot abort {name}: it is {phase}")
        if control.get("abort"):
            return ActionPlan({}, "AbortRequested", f"abort of {name} already requested")
        return ActionPlan(
            {"abort": {"requestedAt": stamp}},
            "AbortRequested",
            f"abort of {name} requested: it rolls back to 0%",
        )
    if action == "retry":
        if phase not in ("RolledBack", "Failed"):
            raise ActionNotApplicable(
                f"cannot retry {name}: it is {phase}; retry applies after a rollback"
            )
        if control.get("retry") and not control.get("abort"):
            return ActionPlan({}, "RetryRequested", f"retry of {name} already requested")
        return ActionPlan(
            {"abort": None, "retry": {"requestedAt": stamp}},
            "RetryRequested",
            f"retry of {name} requested",
        )
    raise ValueError(f"unknown action {action!r}")
