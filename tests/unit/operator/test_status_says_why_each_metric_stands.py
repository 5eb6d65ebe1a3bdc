"""`ramp status` says why each metric stands where it does: the query error, the series to
aggregate, the bound crossed (docs/troubleshooting.md sends people there)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from ramp.cli import render_status

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
