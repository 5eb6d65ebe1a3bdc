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


def test_each_stretch_of_history_has_its_own_phase_bounds() -> None:
    history = [
        {"time": "2026-01-01T00:01:00Z", "reason": "Started", "step": "canary", "percentage": 5},
        {"time": "2026-01-01T01:01:00Z", "reason": "Promoted", "step": "half", "percentage": 50},
    ]
    status = {"phase": "Progressing", "currentPhaseIndex": 1, "history": history}
    errors = views.detail(rollout(status), [])["metrics"][0]
    drawn = [
        (s["from"], s["step"], s["critical"]["lines"][0]["value"]) for s in errors["stretches"]
    ]
    assert drawn == [
        ("2026-01-01T00:00:00Z", None, 0.01),  # before the first phase: the spec's own bound
        ("2026-01-01T00:01:00Z", "canary", 0.001),  # the canary's override, over its own time
        ("2026-01-01T01:01:00Z", "half", 0.01),
    ]


def test_a_button_applies_only_where_its_action_writes_a_request() -> None:
    def applies(status: dict[str, Any], **spec: Any) -> dict[str, bool]:
        page = views.detail({**rollout(status), "spec": {**SPEC, **spec}}, [])
        return {key: state["applies"] for key, state in page["actions"].items()}

    gate = {"phase": "AwaitingApproval", "currentPhaseIndex": 0, "currentPhase": "canary"}
    assert applies(gate) == {
        "promote": True,
        "promoteFull": True,
        "pause": True,
        "resume": False,  # not paused: already in force
        "abort": True,
        "retry": False,
    }
    done = {"phase": "Completed", "currentPhaseIndex": 2, "percentage": 100}
    assert not any(applies(done).values())
    page = views.detail(rollout(done), [])
    assert "spec.enabled: false" in page["actions"]["abort"]["why"]
    back = {"phase": "RolledBack", "currentPhaseIndex": 0, "percentage": 0}
    assert [k for k, v in applies(back).items() if v] == ["retry"]
    paused = {"phase": "Paused", "currentPhaseIndex": 0, "control": {"pause": {"requestedAt": "x"}}}
    assert applies(paused)["resume"] and not applies(paused)["pause"]


def test_the_list_and_the_page_show_the_next_promotion_window() -> None:
    held = {
        "type": "PromotionAllowed",
        "status": "False",
        "reason": "OutsideWindow",
        "message": "outside the promotion windows; next window Tue 02:00 Europe/Berlin",
        "lastTransitionTime": "2026-11-22T12:00:00Z",
    }
    rollout = {
        "metadata": {"name": "vpr", "namespace": "streaming"},
        "spec": SPEC,
        "status": {"phase": "Progressing", "conditions": [held]},
    }
    assert views.row(rollout)["promotionHold"] == "next window Tue 02:00 Europe/Berlin"
    assert views.detail(rollout, [])["promotionHold"] == "next window Tue 02:00 Europe/Berlin"
    frozen = {**held, "reason": "Frozen", "message": "promotion frozen until removed: release"}
    rollout["status"] = {"phase": "Progressing", "conditions": [frozen]}
    assert views.row(rollout)["promotionHold"] == "promotion frozen until removed: release"
    rollout["status"] = {"phase": "Progressing", "conditions": [{**held, "status": "True"}]}
    assert views.row(rollout)["promotionHold"] is None


def test_the_page_shows_the_metrics_its_policy_contributes() -> None:
    rollout = {
        "metadata": {"name": "safe-eval", "namespace": "reptate"},
        "spec": {
            "flag": {"key": "USE_SAFE_EVAL", "configMap": "reptate-flags"},
            "phases": [{"name": "canary", "percentage": 5, "duration": "1h"}],
            "policy": "reptate",
        },
        "status": {"phase": "Progressing", "currentPhase": "canary", "currentPhaseIndex": 0},
    }
    policy = {
        "metadata": {"name": "reptate", "generation": 2},
        "spec": {
            "analysis": {"prometheus": {"address": "http://prometheus:9090"}},
            "metrics": [
                {
                    "name": "errors",
                    "query": 'sum(rate(e{flag="{{ flag }}"}[5m]))',
                    "critical": {"above": 0.01},
                }
            ],
        },
    }
    page = views.detail(rollout, [], policy=policy)
    assert [m["name"] for m in page["metrics"]] == ["errors"]
    assert page["problem"] is None
    missing = views.detail(rollout, [])
    assert missing["metrics"] == []
    assert "RolloutPolicy reptate (spec.policy) not found" in missing["problem"]
