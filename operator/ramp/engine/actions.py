"""What `ramp promote|pause|resume|abort|retry` ask of a rollout, and when they apply.

Actions never touch `spec` or metadata (Argo CD and Flux would see drift): each one is a merge
patch of `status.control`, which only the CLI writes and the engine reads and clears. Each is
idempotent: asking twice is the same as asking once. A promote names the phase it approves, so
asking again after the rollout moved on never approves the next phase too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ramp.api.durations import format_duration
from ramp.engine.phases import TERMINAL

Action = Literal["promote", "pause", "resume", "abort", "retry"]


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
    skip_soak: bool = False,
    by: str | None = None,
    spec_paused: bool = False,
) -> ActionPlan:
    phase = status.get("phase") or "Pending"
    control: dict[str, Any] = status.get("control") or {}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if action == "promote":
        return _plan_promote(name, status, control, stamp, now, full, skip_soak, by)
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


def _plan_promote(
    name: str,
    status: dict[str, Any],
    control: dict[str, Any],
    stamp: str,
    now: datetime,
    full: bool,
    skip_soak: bool,
    by: str | None,
) -> ActionPlan:
    """A promote approves the phase the rollout awaits approval at, named in the request so a
    repeated or late one never approves the next phase; while the phase soaks it is refused
    unless the soak is skipped on purpose (`--skip-soak`), which the history records with `by`.
    """
    phase = status.get("phase") or "Pending"
    if phase not in ("Progressing", "AwaitingApproval"):
        hint = "; resume it first" if phase == "Paused" else ""
        raise ActionNotApplicable(f"cannot promote {name}: it is {phase}{hint}")
    index = int(status.get("currentPhaseIndex") or 0)
    step = status.get("currentPhase") or f"phase {index}"
    # Awaiting approval, the soak is over: the request is an approval, whatever was asked.
    skip_soak = skip_soak and phase == "Progressing"
    if phase == "Progressing" and not skip_soak:
        raise ActionNotApplicable(
            f"cannot promote {name}: {_not_awaiting(status, step, now)}; "
            f"`ramp promote {name} --skip-soak` promotes now and records that you skipped it"
        )
    wanted: dict[str, Any] = {"phaseIndex": index, "full": full, "skipSoak": skip_soak}
    if status.get("currentPhase"):
        wanted["phase"] = status["currentPhase"]
    existing = control.get("promote") or {}
    what = "to the last phase" if full else f"past {step}"
    if skip_soak:
        what += " (skipping its soak)"
    if {k: existing.get(k, False if k in ("full", "skipSoak") else None) for k in wanted} == wanted:
        return ActionPlan({}, "PromoteRequested", f"promotion of {name} {what} already requested")
    return ActionPlan(
        {"promote": {**wanted, "by": by, "requestedAt": stamp}},
        "PromoteRequested",
        f"promotion of {name} {what} requested" + (f" by {by}" if skip_soak and by else ""),
    )


def _not_awaiting(status: dict[str, Any], step: str, now: datetime) -> str:
    """Why a Progressing phase is not awaiting approval, in the person's terms."""
    due = _time(status.get("nextPromotionAt"))
    if due is not None and due > now:
        why = f"{step} is still soaking ({format_duration(due - now)} left)"
    else:
        why = f"{step} is not awaiting approval ({status.get('message') or 'Progressing'})"
    last = (status.get("history") or [{}])[-1]
    entered = _time(last.get("time"))
    if last.get("reason") == "Promoted" and last.get("step") == step and entered is not None:
        # The second of two `ramp promote`s: say that the first one already moved the rollout.
        why += f"; it was promoted to {step} {format_duration(now - entered)} ago"
    return why


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
