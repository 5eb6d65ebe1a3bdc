"""What the dashboard's pages show, as JSON-ready data built from a Rollout object as read.

Pure functions: no I/O, so what a page shows is tested without a browser. Thresholds come from
the engine (`effective_metrics`: the current phase's overrides resolved), never recomputed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ramp.api import RolloutSpec
from ramp.api.spec import Threshold
from ramp.api.status import step_label
from ramp.engine.actions import Action, ActionNotApplicable, plan_action
from ramp.engine.bounds import bound_lines
from ramp.engine.effective import resolve
from ramp.engine.phases import RETRYABLE, TERMINAL
from ramp.engine.thresholds import describe, effective_metrics


def row(rollout: dict[str, Any]) -> dict[str, Any]:
    """One line of the list page."""
    meta = rollout["metadata"]
    status = rollout.get("status") or {}
    return {
        "namespace": meta["namespace"],
        "name": meta["name"],
        "phase": status.get("phase") or "Pending",
        "step": step_label(rollout),
        "percentage": float(status.get("percentage") or 0),
        # Audiences served ahead of the percentage (none while the flag is off).
        "audiences": [] if status.get("enabled") is False else status.get("audiences") or [],
        "health": status.get("health") or "-",
        "nextPromotionAt": status.get("nextPromotionAt"),
        "promotionHold": promotion_hold(status),
        "message": status.get("message") or "",
        "created": meta.get("creationTimestamp"),
    }


def promotion_hold(status: dict[str, Any]) -> str | None:
    """What holds promotion now, as the operator last decided: the next window ("next window
    Tue 02:00 Europe/Berlin") or the freeze; None when nothing does."""
    allowed = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PromotionAllowed"), None
    )
    if allowed is None or allowed.get("status") != "False":
        return None
    message = str(allowed.get("message") or "")
    _, found, window = message.partition("next window ")
    return f"next window {window}" if found else message


def rows(rollouts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((row(r) for r in rollouts), key=lambda r: (r["namespace"], r["name"]))


def parse_spec(
    rollout: dict[str, Any], policy: Mapping[str, Any] | None = None
) -> tuple[RolloutSpec | None, str | None]:
    """The spec as the engine reads it (merged with ``policy``, the RolloutPolicy it names, as
    read), or why it cannot be read (shown on the page)."""
    try:
        spec = RolloutSpec.model_validate(rollout.get("spec") or {})
    except ValidationError as e:
        return None, f"spec of {rollout['metadata']['name']} does not validate: {e}"
    meta = rollout["metadata"]
    effective, seen = resolve(spec, meta.get("namespace") or "", meta["name"], policy)
    return effective, seen.problem if seen is not None else None


def ladder(spec: dict[str, Any], status: dict[str, Any]) -> list[dict[str, Any]]:
    """The phases in order, each done, current or to come (all done once Completed)."""
    phase = status.get("phase") or "Pending"
    current = status.get("currentPhaseIndex")
    out = []
    for i, p in enumerate(spec.get("phases") or []):
        if phase == "Completed" or (current is not None and i < current):
            state = "done"
        elif current is not None and i == current and phase not in RETRYABLE:
            state = "current"
        else:
            state = "next"
        out.append(
            {
                "name": p.get("name"),
                "percentage": p.get("percentage"),
                # Who the phase serves ahead of its percentage (everybody at 100 %).
                "audiences": (p.get("audiences") or []) if (p.get("percentage") or 0) < 100 else [],
                "duration": p.get("duration"),
                "approval": p.get("approval") or "Automatic",
                "state": state,
            }
        )
    return out


def percentage_series(rollout: dict[str, Any]) -> dict[str, Any]:
    """The published percentage over time as steps, from `status.history` (bounded, so it
    starts at the oldest transition kept, or at creation with 0 % when nothing was dropped)."""
    status = rollout.get("status") or {}
    history = status.get("history") or []
    created = rollout["metadata"].get("creationTimestamp")
    points: list[tuple[str, float]] = []
    if created and (not history or history[0].get("reason") == "Started"):
        points.append((created, 0.0))
    transitions = []
    for entry in history:
        points.append((entry["time"], float(entry.get("percentage") or 0)))
        transitions.append(
            {
                "time": entry["time"],
                "phase": entry.get("phase"),
                "step": entry.get("step"),
                "percentage": float(entry.get("percentage") or 0),
                "audiences": entry.get("audiences") or [],
                "reason": entry.get("reason"),
                "message": entry.get("message") or "",
            }
        )
    return {
        "points": [{"time": t, "percentage": p} for t, p in points],
        "transitions": transitions,
    }


def threshold_view(threshold: Threshold | None, baseline: float | None) -> dict[str, Any] | None:
    """A threshold's lines as values (ratio bounds resolved against the baseline when known)."""
    if threshold is None:
        return None
    lines = [{"bound": bound, "value": value} for bound, value in bound_lines(threshold, baseline)]
    return {
        "text": describe(threshold, baseline),
        "for": threshold.for_,
        "forSeconds": threshold.sustain.total_seconds(),
        "lines": lines,
    }


def stretches(
    spec: RolloutSpec, rollout: dict[str, Any]
) -> list[tuple[str | None, int | None, str | None]]:
    """(from, phase index, phase name) of each stretch of the rollout's life, from
    `status.history`: the thresholds in force change with the phase (its overrides). Before the
    first phase starts, the spec's own thresholds (no phase) are in force; when history was
    trimmed, its oldest entry's phase reaches back to the start."""
    status = rollout.get("status") or {}
    history = status.get("history") or []
    index = {p.name: i for i, p in enumerate(spec.phases)}
    trimmed = bool(history) and history[0].get("reason") != "Started"
    first = history[0].get("step") if trimmed else None
    out = [(rollout["metadata"].get("creationTimestamp"), index.get(first or ""), first)]
    for entry in history:
        step = entry.get("step")
        if step != out[-1][2]:
            out.append((entry.get("time"), index.get(step or ""), step))
    return out


def metrics_view(
    spec: RolloutSpec, status: dict[str, Any], rollout: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Each metric with its query, the thresholds in force now, and the last verdict."""
    if spec.analysis is None:
        return []
    queries = {m.name: m.query for m in spec.analysis.metrics}
    baselines = status.get("baseline") or {}
    seen = {m["name"]: m for m in status.get("metrics") or []}
    # Each stretch's own thresholds, drawn over its own time (not today's over all of it).
    drawn: dict[str, list[dict[str, Any]]] = {}
    for start, index, step in stretches(spec, rollout) if rollout else []:
        for metric in effective_metrics(spec, index):
            baseline = baselines.get(metric.name)
            drawn.setdefault(metric.name, []).append(
                {
                    "from": start,
                    "step": step,
                    "warning": threshold_view(metric.warning, baseline),
                    "critical": threshold_view(metric.critical, baseline),
                }
            )
    out = []
    for metric in effective_metrics(spec, status.get("currentPhaseIndex")):
        last = seen.get(metric.name) or {}
        baseline = baselines.get(metric.name)
        out.append(
            {
                "name": metric.name,
                "query": queries.get(metric.name),
                "baseline": baseline,
                "warning": threshold_view(metric.warning, baseline),
                "critical": threshold_view(metric.critical, baseline),
                "verdict": last.get("verdict"),
                "value": last.get("value"),
                "message": last.get("message"),
                "since": last.get("since"),
                "observedAt": last.get("observedAt"),
                "warningSince": last.get("warningSince"),
                "criticalSince": last.get("criticalSince"),
                "compare": last.get("compare"),
                "stretches": drawn.get(metric.name, []),
            }
        )
    return out


BUTTONS: tuple[tuple[str, Action, bool], ...] = (
    ("promote", "promote", False),
    ("promoteFull", "promote", True),
    ("pause", "pause", False),
    ("resume", "resume", False),
    ("abort", "abort", False),
    ("retry", "retry", False),
)


def actions_view(
    name: str, status: dict[str, Any], spec_paused: bool, now: datetime
) -> dict[str, Any]:
    """Per button, whether it would write a request (as `ramp <action>` would, through the same
    `plan_action`), and if not, why: the refusal (a soak's time left as of ``now``), or what is
    already in force."""
    out = {}
    for key, action, full in BUTTONS:
        try:
            plan = plan_action(action, name, status, now, full=full, spec_paused=spec_paused)
        except ActionNotApplicable as e:
            out[key] = {"applies": False, "why": str(e)}
            continue
        applies = bool(plan.control_patch)
        out[key] = {"applies": applies, "why": None if applies else plan.message}
    return out


def event_view(event: Any) -> dict[str, Any]:
    """A core/v1 Event (kubernetes client model) as a table row."""
    when = event.last_timestamp or event.event_time or event.metadata.creation_timestamp
    return {
        "time": when.isoformat() if isinstance(when, datetime) else when,
        "type": event.type,
        "reason": event.reason,
        "message": event.message,
        "count": event.count or 1,
        "source": getattr(event.source, "component", None) or event.reporting_component,
    }


def detail(
    rollout: dict[str, Any],
    events: list[dict[str, Any]],
    now: datetime | None = None,
    policy: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the page of one Rollout shows except the Prometheus series; the metrics of
    its RolloutPolicy (``policy``, as read) with theirs."""
    spec_dict = rollout.get("spec") or {}
    status = rollout.get("status") or {}
    spec, problem = parse_spec(rollout, policy)
    return {
        **row(rollout),
        "enabled": spec_dict.get("enabled", True),
        "paused": bool(spec_dict.get("paused")),
        "phaseStartedAt": status.get("phaseStartedAt"),
        "pausedAt": status.get("pausedAt"),
        "lastAnalysisAt": status.get("lastAnalysisAt"),
        "rolledBackFrom": status.get("rolledBackFrom"),
        "control": status.get("control") or {},
        "ladder": ladder(spec_dict, status),
        "percentageSeries": percentage_series(rollout),
        "metrics": metrics_view(spec, status, rollout) if spec else [],
        "actions": actions_view(
            rollout["metadata"]["name"],
            status,
            bool(spec_dict.get("paused")),
            now or datetime.now(UTC),
        ),
        "interval": spec.analysis.interval if spec and spec.analysis else None,
        "snapshot": status.get("snapshot"),
        "conditions": status.get("conditions") or [],
        "events": sorted(events, key=lambda e: e["time"] or "", reverse=True),
        "problem": problem,
        "terminal": (status.get("phase") or "Pending") in TERMINAL,
    }
