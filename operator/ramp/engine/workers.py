"""Worker scale per phase: the targets, the originals recorded before the first change, their
restoration at the end, and when to stop fighting another controller over a worker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ramp.api.spec import PhaseWorkers, RolloutSpec, WorkerRef
from ramp.api.status import RolloutStatus, WorkerScale
from ramp.engine.draft import Draft
from ramp.engine.drains import hold_while_draining
from ramp.engine.effects import WorkerTarget
from ramp.engine.exposure import exposes_anyone
from ramp.engine.observations import MetricSample, WorkerObservation
from ramp.engine.phases import ENDED, HELD

CORRECTION_LIMIT = 5
"""Decisions in a row that find a worker changed back from Ramp's target before Ramp stops
setting it (until the target changes): two controllers fighting over replicas would otherwise
patch it on every reconcile forever."""


def worker_key(worker: WorkerRef) -> str:
    """The Deployment name, or `hpa/<name>` for an HPA-only worker."""
    return worker.deployment if worker.deployment else f"hpa/{worker.hpa}"


def target_of(original: WorkerScale) -> WorkerTarget:
    """The scale recorded in the status, as a target to give back."""
    return WorkerTarget(original.replicas, original.min_replicas, original.max_replicas)


def worker_label(worker: WorkerRef) -> str:
    return f"Deployment/{worker.deployment}" if worker.deployment else f"HPA/{worker.hpa}"


@dataclass(frozen=True)
class WorkerPlan:
    targets: dict[str, WorkerTarget]
    """Scale to set now, by worker key."""

    restores: dict[str, WorkerTarget]
    """Original scale to put back, by worker key."""

    contested: tuple[str, ...] = ()
    """Workers Ramp stopped setting because something keeps changing them back."""


def _phase_for_workers(draft: Draft) -> tuple[int | None, bool]:
    """Which phase's worker scale applies (None: none), and whether originals are restored."""
    nxt = draft.next
    if nxt.phase in HELD:
        return draft.index, False
    if nxt.phase == "RolledBack" and exposes_anyone(nxt):
        return draft.index, False
    if nxt.phase in ENDED:
        return None, True
    return None, False


def plan_workers(
    draft: Draft,
    seen: Mapping[str, WorkerObservation],
    drain_readings: Mapping[str, MetricSample] | None = None,
) -> WorkerPlan:
    """Worker targets for now, recording originals before the first change; restoration at the
    end, dropping an original once the worker has it back (or gone, or contested). A worker
    that drains keeps its scale meanwhile (engine/drains.py)."""
    spec, nxt = draft.spec, draft.next
    if not spec.workers:
        nxt.worker_corrections = None
        nxt.drains = nxt.draining = None
        return WorkerPlan({}, {})
    index, restore = _phase_for_workers(draft)
    originals = dict(nxt.worker_originals or {})
    corrections = dict(nxt.worker_corrections or {})
    if draft.before.current_phase != nxt.current_phase or draft.before.phase != nxt.phase:
        corrections = {}  # a new target: whoever changed the old one may agree with this one
    targets: dict[str, WorkerTarget] = {}
    restores: dict[str, WorkerTarget] = {}
    contested: list[str] = []
    wanted = None
    if index is not None:
        for phase in spec.phases[: index + 1]:
            if phase.workers is not None:
                wanted = phase.workers
    drained_by = {worker_key(w): w.drain for w in spec.workers if w.drain is not None}
    intended: dict[str, WorkerTarget] = {}
    for worker in spec.workers:
        key = worker_key(worker)
        phase_scale = _wanted(draft, worker, wanted)
        if phase_scale is not None:
            intended[key] = _target(worker, phase_scale)
        elif (restore or _restored_while_disabled(draft, worker)) and key in originals:
            intended[key] = target_of(originals[key])
    held = hold_while_draining(draft, drained_by, seen, drain_readings, intended)
    for worker in spec.workers:
        key = worker_key(worker)
        observed = seen.get(key)
        if key in held and key in originals:
            if _count_correction(corrections, key, observed, held[key]):
                targets[key] = held[key]
            else:
                contested.append(worker_label(worker))
            continue
        phase_scale = _wanted(draft, worker, wanted)
        if phase_scale is not None:
            if key not in originals and observed is not None and not observed.missing:
                originals[key] = WorkerScale(
                    replicas=observed.replicas if worker.deployment and not worker.hpa else None,
                    min_replicas=observed.min_replicas if worker.hpa else None,
                    max_replicas=observed.max_replicas if worker.hpa else None,
                )
            if key in originals:
                target = _target(worker, phase_scale)
                if _count_correction(corrections, key, observed, target):
                    targets[key] = target
                else:
                    contested.append(worker_label(worker))
        elif (restore or _restored_while_disabled(draft, worker)) and key in originals:
            original = target_of(originals[key])
            if observed is None or observed.missing or matches(observed, original):
                del originals[key]  # given back, or gone: nothing is left to restore
                corrections.pop(key, None)
            elif _count_correction(corrections, key, observed, original):
                restores[key] = original
            else:
                del originals[key]  # something else owns its scale now; stop giving it back
                contested.append(worker_label(worker))
    nxt.worker_originals = originals or None
    nxt.worker_corrections = corrections or None
    return WorkerPlan(targets, restores, tuple(contested))


def _restored_while_disabled(draft: Draft, worker: WorkerRef) -> bool:
    """A worker with a drain gets its original scale back once drained while the rollout is
    disabled (the flag is off: nothing new reaches it); one without keeps its phase's scale, so
    that enabling again finds it ready."""
    return worker.drain is not None and draft.next.phase == "Disabled"


def _wanted(draft: Draft, worker: WorkerRef, wanted: PhaseWorkers | None) -> PhaseWorkers | None:
    return None if _restored_while_disabled(draft, worker) else wanted


def _target(worker: WorkerRef, wanted: PhaseWorkers) -> WorkerTarget:
    return WorkerTarget(
        replicas=wanted.replicas if not worker.hpa else None,
        min_replicas=wanted.min_replicas if worker.hpa else None,
        max_replicas=wanted.max_replicas if worker.hpa else None,
    )


def _count_correction(
    corrections: dict[str, int],
    key: str,
    observed: WorkerObservation | None,
    target: WorkerTarget,
) -> bool:
    """Count one more decision that finds the worker off target; False once past the limit."""
    if observed is None or observed.missing or matches(observed, target):
        corrections.pop(key, None)
        return True
    corrections[key] = min(corrections.get(key, 0) + 1, CORRECTION_LIMIT + 1)
    return corrections[key] <= CORRECTION_LIMIT


def matches(observed: WorkerObservation, target: WorkerTarget) -> bool:
    return all(
        want is None or want == have
        for want, have in (
            (target.replicas, observed.replicas),
            (target.min_replicas, observed.min_replicas),
            (target.max_replicas, observed.max_replicas),
        )
    )


def restore_on_deletion(
    spec: RolloutSpec, status: RolloutStatus, seen: Mapping[str, WorkerObservation]
) -> dict[str, WorkerTarget]:
    """The Rollout is being deleted: the original scale to give back to each worker Ramp
    changed, by worker key. A worker that is gone, already has its original, or that Ramp
    stopped setting because another controller kept changing it back (contested) is left
    alone, as at the end of a rollout."""
    corrections = status.worker_corrections or {}
    restores = {}
    for worker in spec.workers or []:
        key = worker_key(worker)
        recorded = (status.worker_originals or {}).get(key)
        observed = seen.get(key)
        if recorded is None or observed is None or observed.missing:
            continue
        original = target_of(recorded)
        if matches(observed, original) or corrections.get(key, 0) > CORRECTION_LIMIT:
            continue
        restores[key] = original
    return restores
