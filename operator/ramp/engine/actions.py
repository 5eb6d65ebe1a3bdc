"""What `ramp promote|pause|resume|abort|retry` ask of a rollout, and when they apply.

Actions never touch `spec` or metadata (Argo CD and Flux would see drift): each one is a merge
patch of `status.control`, which only the CLI writes and the engine reads and clears. Each is
idempotent: asking twice is the same as asking once. A promote names the phase it approves, so
asking again after the rollout moved on never approves the next phase too.

One rule for what a person is told: a request that is recorded, or whose effect is already in
force, is a plan (the CLI exits 0); one that cannot apply raises `ActionNotApplicable` with the
reason and what to do instead (the CLI exits 1, the dashboard answers 409).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ramp.api.durations import format_duration
from ramp.engine.phases import RETRYABLE, SOAKING, TERMINAL

Action = Literal["promote", "pause", "resume", "abort", "retry"]

EMERGENCY_SWITCH = "to turn the feature off for everyone now, set spec.enabled: false"


def unreconciled(status: dict[str, Any]) -> bool:
    """No operator has written this Rollout's status yet (only requests may be there)."""
    return not status.get("phase") and status.get("observedGeneration") is None


def waiting_for_an_operator(name: str) -> str:
    """What to add to a recorded request nobody has picked up yet."""
    return (
        f"; no operator has reconciled {name} yet, so nothing acts on it until one does: "
        "check that an operator watches this namespace (`ramp run` logs the namespaces it "
        "watches at start; `ramp status` says when nothing has reconciled the Rollout)"
    )


def finished(name: str, action: str, phase: str, status: dict[str, Any]) -> ActionNotApplicable:
    """The refusal of an action on a rollout that has ended, pointing to the emergency switch."""
    if phase == "RolledBack":
        where = f"it is RolledBack at {status.get('percentage') or 0:g} %"
        after = " until `ramp retry`"
    else:
        where, after = f"it is {phase}", ""
    return ActionNotApplicable(
        f"cannot {action} {name}: {where}; it stays there{after}; {EMERGENCY_SWITCH} "
        "(the emergency switch)"
    )


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
    override_freeze: bool = False,
) -> ActionPlan:
    phase = status.get("phase") or "Pending"
    control: dict[str, Any] = status.get("control") or {}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if action == "promote":
        return _plan_promote(
            name, status, control, stamp, now, full, skip_soak, by, override_freeze
        )
    pending = waiting_for_an_operator(name) if unreconciled(status) else ""
    if action == "pause":
        if phase in TERMINAL:
            raise finished(name, "pause", phase, status)
        if control.get("pause"):
            return ActionPlan({}, "PauseRequested", f"pause of {name} already requested{pending}")
        held = "it holds where it is" if not pending else "it holds where it is once reconciled"
        return ActionPlan(
            {"pause": {"requestedAt": stamp}},
            "PauseRequested",
            f"pause of {name} requested: {held}{pending}",
        )
    if action == "resume":
        if not control.get("pause"):
            if spec_paused:
                raise ActionNotApplicable(
                    f"cannot resume {name}: it is held by spec.paused, not by `ramp pause`; "
                    "set spec.paused: false in Git (or the manifest) to resume"
                )
            return ActionPlan({}, "ResumeRequested", f"{name} is not paused{pending}")
        note = (
            " (spec.paused is still true: set it to false in Git to resume)" if spec_paused else ""
        )
        return ActionPlan(
            {"pause": None, "resume": {"requestedAt": stamp}},
            "ResumeRequested",
            f"resume of {name} requested{note}{pending}",
        )
    if action == "abort":
        if phase == "RolledBack" and not status.get("percentage") and not status.get("audiences"):
            return ActionPlan({}, "AbortRequested", f"{name} is already rolled back to 0 %")
        if phase in TERMINAL:
            raise finished(name, "abort", phase, status)
        if control.get("abort"):
            return ActionPlan({}, "AbortRequested", f"abort of {name} already requested{pending}")
        return ActionPlan(
            {"abort": {"requestedAt": stamp}},
            "AbortRequested",
            f"abort of {name} requested: it rolls back to 0 %{pending}",
        )
    if action == "retry":
        if phase not in RETRYABLE:
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
    override_freeze: bool = False,
) -> ActionPlan:
    """A promote approves the phase the rollout awaits approval at, named in the request so a
    repeated or late one never approves the next phase; while the phase soaks it is refused
    unless the soak is skipped on purpose (`--skip-soak`), which the history records with `by`.
    """
    phase = status.get("phase") or "Pending"
    if phase not in SOAKING:
        hint = "; resume it first" if phase == "Paused" else ""
        raise ActionNotApplicable(f"cannot promote {name}: it is {phase}{hint}")
    index = int(status.get("currentPhaseIndex") or 0)
    step = status.get("currentPhase") or f"phase {index}"
    # Awaiting approval, the soak is over: the request is an approval, whatever was asked.
    skip_soak = skip_soak and phase == "Progressing"
    held = _condition(status, "PromotionAllowed")
    if held is not None and held.get("status") == "False" and not override_freeze:
        raise ActionNotApplicable(
            f"cannot promote {name}: {held.get('message')}; `ramp promote {name} "
            "--override-freeze` promotes anyway and records that you did"
        )
    # Soaked and healthy, held only by a window or a freeze: the override is the promotion.
    waiting = (_condition(status, "Reconciling") or {}).get("reason") in WINDOW_REASONS
    if phase == "Progressing" and not skip_soak and not (override_freeze and waiting):
        raise ActionNotApplicable(
            f"cannot promote {name}: {_not_awaiting(status, step, now)}; "
            f"`ramp promote {name} --skip-soak` promotes now and records that you skipped it"
        )
    wanted: dict[str, Any] = {"phaseIndex": index, "full": full, "skipSoak": skip_soak}
    if override_freeze:
        wanted["overrideFreeze"] = True
    if status.get("currentPhase"):
        wanted["phase"] = status["currentPhase"]
    existing = control.get("promote") or {}
    what = "to the last phase" if full else f"past {step}"
    if skip_soak:
        what += " (skipping its soak)"
    if override_freeze:
        what += " (overriding the freeze and promotion windows)"
    flags = ("full", "skipSoak", "overrideFreeze")
    if {k: existing.get(k, False if k in flags else None) for k in wanted} == wanted:
        return ActionPlan({}, "PromoteRequested", f"promotion of {name} {what} already requested")
    return ActionPlan(
        {"promote": {**wanted, "by": by, "requestedAt": stamp}},
        "PromoteRequested",
        f"promotion of {name} {what} requested"
        + (f" by {by}" if (skip_soak or override_freeze) and by else ""),
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


WINDOW_REASONS = ("Frozen", "OutsideWindow")
"""Reasons of a rollout that waits only for a promotion window or the end of a freeze."""


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
