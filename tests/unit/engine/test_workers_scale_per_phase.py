"""Workers: originals recorded before the first change, targets per phase, restored at the end."""

from __future__ import annotations

from ramp.engine import RestoreWorkers, ScaleWorkers, WorkerObservation, WorkerTarget
from tests.support.engine import Run, make_spec, minutes

PHASES = [
    {"name": "canary", "percentage": 10, "duration": "1m", "workers": {"replicas": 3}},
    {"name": "half", "percentage": 50, "duration": "1m"},
    {"name": "all", "percentage": 100, "workers": {"replicas": 6}},
]


def test_workers_follow_phases_and_are_restored_when_completed() -> None:
    spec = make_spec(PHASES, workers=[{"deployment": "worker"}])
    run = Run(spec, workers={"worker": WorkerObservation(replicas=2)})
    run.step()
    scale = [e for e in run.decisions[-1].effects if isinstance(e, ScaleWorkers)]
    assert scale == [ScaleWorkers({"worker": WorkerTarget(replicas=3)})]
    assert run.status.worker_originals is not None
    assert run.status.worker_originals["worker"].replicas == 2
    run.workers = {"worker": WorkerObservation(replicas=3)}
    run.step(minutes(1))  # half keeps the canary's scale
    assert [e for e in run.decisions[-1].effects if isinstance(e, ScaleWorkers)] == [
        ScaleWorkers({"worker": WorkerTarget(replicas=3)})
    ]
    run.step(minutes(1))
    run.step()
    assert run.phase == "Completed"
    restore = [e for e in run.decisions[-1].effects if isinstance(e, RestoreWorkers)]
    assert restore == [RestoreWorkers({"worker": WorkerTarget(replicas=2)})]
    run.workers = {"worker": WorkerObservation(replicas=2)}
    run.step()
    assert run.status.worker_originals is None
    assert not [e for e in run.decisions[-1].effects if isinstance(e, RestoreWorkers)]


def test_hpa_gets_min_and_max() -> None:
    spec = make_spec(
        [
            {
                "name": "c",
                "percentage": 10,
                "duration": "1h",
                "workers": {"minReplicas": 2, "maxReplicas": 5},
            }
        ],
        workers=[{"deployment": "w", "hpa": "w"}],
    )
    run = Run(spec, workers={"w": WorkerObservation(replicas=1, min_replicas=1, max_replicas=2)})
    run.step()
    assert ScaleWorkers({"w": WorkerTarget(min_replicas=2, max_replicas=5)}) in (
        run.decisions[-1].effects
    )


def test_missing_worker_is_a_condition_and_one_event_and_holds_promotion() -> None:
    spec = make_spec(PHASES, workers=[{"deployment": "ghost"}])
    run = Run(spec, workers={"ghost": WorkerObservation(replicas=2)})
    run.step()
    run.workers = {"ghost": WorkerObservation(missing=("Deployment/ghost",))}  # deleted
    run.step(minutes(5))
    run.step(minutes(5))
    assert run.status.current_phase == "canary"
    ready = next(c for c in run.status.conditions or [] if c.type == "WorkersReady")
    assert (ready.status, ready.reason) == ("False", "WorkerNotFound")
    assert "Deployment/ghost" in ready.message
    assert run.reasons().count("WorkerNotFound") == 1


def test_a_worker_changed_back_again_and_again_is_left_alone_and_said_so() -> None:
    spec = make_spec(PHASES, workers=[{"deployment": "worker"}])
    run = Run(spec, workers={"worker": WorkerObservation(replicas=2)})
    for _ in range(20):  # another controller puts 2 back after every patch
        run.step()
    scaled = [d for d in run.decisions if any(isinstance(e, ScaleWorkers) for e in d.effects)]
    assert len(scaled) == 5, "Ramp gives up after five corrections in a row"
    ready = next(c for c in run.status.conditions or [] if c.type == "WorkersReady")
    assert (ready.status, ready.reason) == ("False", "WorkerContested")
    assert "Deployment/worker" in ready.message
    assert run.reasons().count("WorkerContested") == 1
    status_before = run.status
    run.step()
    assert run.status == status_before, "a contested worker costs no status write"
    run.workers = {"worker": WorkerObservation(replicas=3)}
    run.step(minutes(1))  # the next phase is a new target: Ramp sets it again
    assert run.status.current_phase == "half"
    assert run.status.worker_corrections is None
