"""`ramp status`, `ramp list`, the dashboard and `ramp simulate` (and its plot) show who is
served in each phase: the percentage and the audiences ahead of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from ramp.api import RolloutSpec
from ramp.cli.app import render_status, served_of, summary_line
from ramp.cli.cohort_view import detection_lines
from ramp.dashboard.views import ladder, percentage_series, row
from ramp.engine.observations import MetricSample
from ramp.simulate.plot import plot_timeline
from ramp.simulate.run import render, run
from tests.support.engine import T0

SPEC: dict[str, Any] = {
    "flag": {
        "key": "pdf",
        "configMap": "pdf-flags",
        "audiences": [
            {"name": "internal", "attribute": "email", "endsWith": ["@example.com"]},
            {"name": "beta", "in": ["user-1017", "user-2203"]},
        ],
    },
    "phases": [
        {"name": "internal", "audiences": ["internal"], "percentage": 0, "duration": "1h"},
        {"name": "beta", "audiences": ["internal", "beta"], "percentage": 0, "duration": "1h"},
        {"name": "ten", "audiences": ["internal", "beta"], "percentage": 10, "duration": "1h"},
        {"name": "everyone", "percentage": 100},
    ],
}
STATUS: dict[str, Any] = {
    "phase": "Progressing",
    "currentPhase": "ten",
    "currentPhaseIndex": 2,
    "percentage": 10,
    "audiences": ["internal", "beta"],
    "served": "10% +2",
    "enabled": True,
    "history": [
        {
            "time": "2026-03-01T12:00:00Z",
            "phase": "Progressing",
            "step": "internal",
            "percentage": 0,
            "audiences": ["internal"],
            "reason": "Started",
        }
    ],
}
ROLLOUT = {
    "metadata": {"name": "pdf", "namespace": "docs", "creationTimestamp": "2026-03-01T12:00:00Z"},
    "spec": SPEC,
    "status": STATUS,
}


def text_of(rollout: dict[str, Any]) -> str:
    console = Console(width=200, record=True)
    console.print(render_status(rollout, T0))
    return console.export_text()


def test_ramp_status_and_list_show_the_audiences_served_and_each_phases() -> None:
    shown = text_of(ROLLOUT)
    assert "Audiences served  internal, beta" in shown
    assert "internal: email ends with @example.com" in shown
    assert "beta: targetingKey is user-1017, user-2203" in shown
    assert "AUDIENCES" in shown
    ten = next(line for line in shown.splitlines() if "▶  ten" in line)
    assert "internal, beta" in ten and "10%" in ten
    assert served_of(STATUS) == "10% +2"
    assert "10% +2" in summary_line(ROLLOUT)
    off = {**ROLLOUT, "status": {**STATUS, "enabled": False, "served": "0%"}}
    assert "Audiences served  none" in text_of(off)


def test_a_rollout_without_audiences_is_shown_as_before() -> None:
    plain = {**SPEC, "flag": {"key": "pdf", "configMap": "pdf-flags"}}
    plain["phases"] = [{"name": "all", "percentage": 100}]
    shown = text_of({**ROLLOUT, "spec": plain, "status": {"phase": "Pending"}})
    assert "AUDIENCES" not in shown and "Audiences" not in shown


def test_the_dashboard_shows_who_each_phase_serves() -> None:
    assert row(ROLLOUT)["audiences"] == ["internal", "beta"]
    rungs = ladder(SPEC, STATUS)
    assert [(r["name"], r["audiences"]) for r in rungs] == [
        ("internal", ["internal"]),
        ("beta", ["internal", "beta"]),
        ("ten", ["internal", "beta"]),
        ("everyone", []),
    ]
    assert percentage_series(ROLLOUT)["transitions"][0]["audiences"] == ["internal"]


def test_simulate_and_its_plot_show_the_audiences_of_each_phase(tmp_path: Path) -> None:
    spec = RolloutSpec.model_validate(SPEC)
    timeline = run(spec, lambda now, status: {"errors": MetricSample(value=0.0)})
    assert timeline.outcome == "Completed"
    text = render(timeline, title="pdf")
    internal = next(line for line in text.splitlines() if "started: internal" in line)
    assert "0% +1  Started: started: internal at 0 % + internal" in internal
    ten = next(line for line in text.splitlines() if "promoted to ten" in line)
    assert "10% +2  Promoted: promoted to ten at 10 % + internal, beta" in ten
    done = next(line for line in text.splitlines() if "completed" in line)
    assert "100%  Completed" in done
    plot = tmp_path / "timeline.svg"
    plot_timeline(timeline, {}, plot, title="pdf")
    drawn = plot.read_text()
    assert "+ internal, beta" in drawn and "no audience" in drawn


def test_ramp_status_counts_the_members_in_the_flag_on_share_of_a_comparison() -> None:
    spec = {
        **SPEC,
        "analysis": {
            "prometheus": {"address": "http://prometheus:9090"},
            "metrics": [{"name": "vs", "compare": {"failures": "f_total", "total": "t_total"}}],
        },
    }
    compare = {
        "treatment": {"units": 150.0, "failures": 3.0, "failureRate": 0.02},
        "control": {"units": 850.0, "failures": 8.5, "failureRate": 0.01},
        "unitsPerSecond": 20.0,
    }
    status = {**STATUS, "metrics": [{"name": "vs", "verdict": "Pass", "compare": compare}]}
    (line,) = detection_lines(spec, status)
    assert "at 15% flag on (the percentage and the members of internal, beta)" in line
