"""Ramp's Argo CD health check, run by a real Lua interpreter on Rollout objects recorded from
the testbed (tests/data/argocd-health/, written by
tests/integration/test_gitops_tools_read_rollout_health.py with RAMP_RECORD_HEALTH_DATA=1)."""

from __future__ import annotations

import json

import pytest

from tests.support.argocd import RECORDED, argocd_health

EXPECTED = {
    "progressing": "Progressing",
    "awaiting-approval": "Suspended",
    "paused-from-git": "Suspended",
    "disabled": "Suspended",
    "rolled-back": "Degraded",
    "completed": "Healthy",
    "completed-after-edit": "Healthy",
    "generation-not-observed": "Progressing",
}


def test_every_recorded_state_has_an_expected_health() -> None:
    assert sorted(p.stem for p in RECORDED.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_health_of_recorded_rollout(state: str) -> None:
    obj = json.loads((RECORDED / f"{state}.json").read_text())
    health = argocd_health(obj)
    assert health["status"] == EXPECTED[state], (state, health)
    if state == "generation-not-observed":
        assert "observe generation" in health["message"]
    else:
        assert health["message"] == obj["status"]["message"]


def test_rollout_without_status_yet_is_progressing() -> None:
    # The moment after `kubectl apply`, before the operator wrote anything.
    obj = json.loads((RECORDED / "progressing.json").read_text())
    del obj["status"]
    assert argocd_health(obj)["status"] == "Progressing"
