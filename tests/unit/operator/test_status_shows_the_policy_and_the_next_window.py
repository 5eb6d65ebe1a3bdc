"""`ramp status` shows the RolloutPolicy in force and what it contributed (or why it holds the
Rollout), and what holds promotion: the next window or the freeze."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from ramp.cli.app import render_status

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def shown(rollout: dict[str, Any]) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_status(rollout, NOW))
    return " ".join(console.export_text().split())


def condition(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-11-22T11:00:00Z",
    }


def rollout(conditions: list[dict[str, Any]], **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "safe-eval", "namespace": "reptate"},
        "spec": {"policy": "reptate", "phases": [{"name": "canary", "percentage": 5}]},
        "status": {
            "phase": "Progressing",
            "observedGeneration": 1,
            "currentPhase": "canary",
            "currentPhaseIndex": 0,
            "conditions": conditions,
            **status,
        },
    }


def test_status_shows_the_policy_it_was_merged_with_and_the_next_window() -> None:
    text = shown(
        rollout(
            [
                condition("PolicyResolved", "True", "Resolved", "RolloutPolicy reptate"),
                condition(
                    "PromotionAllowed",
                    "False",
                    "OutsideWindow",
                    "outside the promotion windows; next window Tue 02:00 Europe/Berlin",
                ),
            ],
            policy={
                "name": "reptate",
                "generation": 4,
                "contributed": ["analysis.metrics[error-rate]", "failurePolicy"],
            },
        )
    )
    assert "Policy reptate (generation 4): analysis.metrics[error-rate], failurePolicy" in text
    assert "Promotion outside the promotion windows; next window Tue 02:00 Europe/Berlin" in text


def test_status_says_why_the_policy_holds_the_rollout() -> None:
    missing = "RolloutPolicy reptate (spec.policy) not found in namespace reptate"
    text = shown(rollout([condition("PolicyResolved", "False", "PolicyNotFound", missing)]))
    assert f"Policy reptate: {missing}" in text
