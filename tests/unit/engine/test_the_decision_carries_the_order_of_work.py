"""The order in which the shell applies a decision is the engine's (`plan_writes`), so the
model-based test plays the same order the operator follows: a decrease is served before the
status records it, a raise after (I1); only readings moved stays in memory; on deletion, only
workers Ramp still owns get their scale back; an unreadable spec is `Failed` once."""

from __future__ import annotations

from datetime import timedelta

from ramp.api import RolloutStatus
from ramp.api.status import WorkerScale
from ramp.engine import PublishFlag, WorkerObservation, WorkerTarget
from ramp.engine.workers import CORRECTION_LIMIT, restore_on_deletion
from ramp.engine.writes import invalid_spec_status, plan_writes
from tests.support.engine import make_spec

REFRESH = timedelta(minutes=5)
STORED = {"phase": "Progressing", "percentage": 25, "lastAnalysisAt": "2026-01-01T00:00:00Z"}


def test_a_decrease_is_served_before_the_status_records_it() -> None:
    lower = PublishFlag(enabled=True, percentage=5)
    plan = plan_writes(STORED, {**STORED, "percentage": 5}, PublishFlag(True, 25), lower, REFRESH)
    assert plan.publish_first == lower and plan.status == "write"
    off = PublishFlag(enabled=False, percentage=25)
    assert plan_writes(STORED, STORED, PublishFlag(True, 25), off, REFRESH).publish_first == off


def test_a_raise_is_recorded_before_it_is_served() -> None:
    raise_ = PublishFlag(enabled=True, percentage=50)
    plan = plan_writes(STORED, {**STORED, "percentage": 50}, PublishFlag(True, 25), raise_, REFRESH)
    assert plan.publish_first is None and plan.status == "write"


def test_only_readings_stay_in_memory_and_nothing_is_written_when_nothing_changed() -> None:
    served = PublishFlag(True, 25)
    assert plan_writes(STORED, dict(STORED), served, served, REFRESH).status == "unchanged"
    later = {**STORED, "lastAnalysisAt": "2026-01-01T00:00:30Z"}
    plan = plan_writes(STORED, later, served, served, REFRESH)
    assert plan.status == "unwritten" and plan.readings == {
        "lastAnalysisAt": later["lastAnalysisAt"]
    }
    assert plan_writes(STORED, later, served, served, timedelta(0)).status == "write"


def test_deletion_restores_only_workers_ramp_still_owns() -> None:
    spec = make_spec(
        workers=[
            {"deployment": "kept"},
            {"deployment": "gone"},
            {"deployment": "fought"},
            {"deployment": "back"},
        ]
    )
    status = RolloutStatus(
        worker_originals={k: WorkerScale(replicas=2) for k in ("kept", "gone", "fought", "back")},
        worker_corrections={"fought": CORRECTION_LIMIT + 1},
    )
    seen = {
        "kept": WorkerObservation(replicas=5),
        "gone": WorkerObservation(missing=("Deployment/gone",)),
        "fought": WorkerObservation(replicas=7),
        "back": WorkerObservation(replicas=2),
    }
    assert restore_on_deletion(spec, status, seen) == {"kept": WorkerTarget(replicas=2)}


def test_an_unreadable_spec_is_failed_once_naming_the_field() -> None:
    problems = "spec.phases.0.percentage: Input should be less than or equal to 100"
    patch = invalid_spec_status({"phase": "Progressing"}, problems, 3)
    assert patch == {"phase": "Failed", "message": problems, "observedGeneration": 3}
    assert invalid_spec_status(patch, problems, 3) is None
