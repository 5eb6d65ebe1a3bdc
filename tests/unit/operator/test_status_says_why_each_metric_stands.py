"""`ramp status` says why: each metric's message (the query error, the series to aggregate, the
bound crossed: docs/troubleshooting.md sends people there), and what holds a promotion whose
soak is over instead of "in 0s"."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from ramp.cli.app import render_status

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SERIES = (
    "query returned 2 series; aggregate it to one (for example with sum(), max() or "
    "histogram_quantile())"
)


def shown(rollout: dict[str, object], width: int = 100) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(render_status(rollout, NOW))
    return " ".join(console.export_text().split())


def test_each_metric_shows_its_message() -> None:
    rollout = {
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": {"phases": [{"name": "canary", "percentage": 5}]},
        "status": {
            "phase": "Progressing",
            "observedGeneration": 1,
            "currentPhase": "canary",
            "currentPhaseIndex": 0,
            "percentage": 5,
            "metrics": [
                {
                    "name": "errors",
                    "verdict": "Error",
                    "since": "2026-11-22T11:59:00Z",
                    "observedAt": "2026-11-22T12:00:00Z",
                    "message": f"query failed (1/4): {SERIES}",
                },
                {
                    "name": "latency",
                    "verdict": "Pass",
                    "value": 0.2,
                    "since": "2026-11-22T11:00:00Z",
                    "observedAt": "2026-11-22T12:00:00Z",
                    "message": "within its thresholds",
                },
            ],
        },
    }
    text = shown(rollout)
    assert SERIES in text, text
    assert "within its thresholds" in text


def at_soak_end(due: str, phase: str = "Progressing") -> dict[str, object]:
    return {
        "metadata": {"name": "r", "namespace": "ns"},
        "spec": {"phases": [{"name": "canary", "percentage": 5, "duration": "1h"}]},
        "status": {
            "phase": phase,
            "observedGeneration": 1,
            "currentPhase": "canary",
            "currentPhaseIndex": 0,
            "percentage": 5,
            "nextPromotionAt": due,
            "message": "canary at 5 %: waiting for an analysis after the soak",
        },
    }


def test_a_held_promotion_says_why_not_in_0s() -> None:
    text = shown(at_soak_end("2026-11-22T11:57:00Z"))
    assert "in 0s" not in text, text
    held = "Next promotion soak done 3m ago; held: canary at 5 %: waiting for an analysis"
    assert held in text, text


def test_a_coming_promotion_says_when() -> None:
    text = shown(at_soak_end("2026-11-22T12:42:00Z"))
    assert "Next promotion in 42m (at 2026-11-22 12:42:00 UTC)" in text, text
    assert "Message canary at 5 %: waiting" in text
