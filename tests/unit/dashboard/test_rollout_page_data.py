"""What a Rollout's dashboard page shows, built from the object as read: the thresholds in force
in the current phase (overrides and baselines resolved), the ladder, and the percentage steps
with every transition."""

from __future__ import annotations

from typing import Any

from ramp.dashboard import views

SPEC: dict[str, Any] = {
    "flag": {"key": "checkout", "configMap": "checkout-flag"},
    "phases": [
        {
            "name": "canary",
            "percentage": 5,
            "duration": "1h",
            "metrics": [{"name": "errors", "critical": {"above": 0.001}}],
        },
        {"name": "half", "percentage": 50, "duration": "4h"},
        {"name": "everyone", "percentage": 100},
    ],
    "analysis": {
        "interval": "30s",
        "prometheus": {"address": "http://prometheus:9090"},
        "metrics": [
            {
                "name": "errors",
                "query": "sum(rate(errors[5m]))",
                "warning": {"above": 0.002},
                "critical": {"above": 0.01, "for": "5m"},
            },
            {
                "name": "p99",
                "query": "histogram_quantile(0.99, x)",
                "baseline": {"capture": "AtStart"},
                "critical": {"aboveBaselineRatio": 2.0, "for": "10m"},
            },
        ],
    },
}


def rollout(status: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "checkout",
            "namespace": "shop",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": SPEC,
        "status": status,
    }


def test_current_phase_override_and_baseline_ratio_are_the_lines_drawn() -> None:
    page = views.detail(
        rollout({"phase": "Progressing", "currentPhaseIndex": 0, "baseline": {"p99": 0.4}}), []
    )
    errors, p99 = page["metrics"]
    assert errors["critical"]["lines"] == [{"bound": "above", "value": 0.001}]
    assert errors["warning"]["lines"] == [{"bound": "above", "value": 0.002}]
    assert p99["critical"]["lines"] == [{"bound": "above", "value": 0.8}]
    assert (p99["critical"]["for"], p99["critical"]["forSeconds"]) == ("10m", 600)

    later = views.detail(rollout({"phase": "Progressing", "currentPhaseIndex": 1}), [])
    assert later["metrics"][0]["critical"]["lines"] == [{"bound": "above", "value": 0.01}]
    assert later["metrics"][1]["critical"]["lines"] == []  # no baseline captured: no line


def test_percentage_steps_start_at_zero_and_mark_every_transition() -> None:
    history = [
        {
            "time": "2026-01-01T00:00:05Z",
            "phase": "Progressing",
            "step": "canary",
            "percentage": 5,
            "reason": "Started",
        },
        {
            "time": "2026-01-01T01:00:05Z",
            "phase": "Progressing",
            "step": "half",
            "percentage": 50,
            "reason": "Promoted",
        },
        {
            "time": "2026-01-01T01:10:00Z",
            "phase": "RolledBack",
            "step": "canary",
            "percentage": 0,
            "reason": "RolledBack",
        },
    ]
    page = views.detail(
        rollout({"phase": "RolledBack", "currentPhaseIndex": 0, "history": history}), []
    )
    series = page["percentageSeries"]
    assert [p["percentage"] for p in series["points"]] == [0.0, 5.0, 50.0, 0.0]
    assert [t["reason"] for t in series["transitions"]] == ["Started", "Promoted", "RolledBack"]
    assert [r["state"] for r in page["ladder"]] == ["next", "next", "next"]
    assert page["terminal"]


def test_ladder_marks_done_and_current_phases() -> None:
    page = views.detail(rollout({"phase": "AwaitingApproval", "currentPhaseIndex": 1}), [])
    assert [r["state"] for r in page["ladder"]] == ["done", "current", "next"]
    assert (
        views.detail(rollout({"phase": "Completed", "currentPhaseIndex": 2}), [])["ladder"][-1][
            "state"
        ]
        == "done"
    )


def test_an_invalid_spec_is_reported_not_raised() -> None:
    broken = rollout({})
    broken["spec"] = {**SPEC, "phases": []}
    page = views.detail(broken, [])
    assert page["metrics"] == []
    assert page["problem"].startswith("spec of checkout does not validate")
