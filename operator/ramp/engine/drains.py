"""Drains: a worker with `spec.workers[].drain` keeps its scale after the exposure goes down
(a rollback, `ramp abort`, `spec.enabled: false`, a step down) until the jobs already queued
for it are done: its drain query reads 0, or its timeout passes. Only then is it scaled down.

The exposure goes down at once (the flag serves fewer users: no new work on the new path);
only the workers wait. A drain's start, deadline and held scale are in status.drains, written
with the decision that lowered the exposure, so an operator restarted mid-drain resumes it with
the same deadline (I9).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from ramp.api.durations import format_duration
from ramp.api.spec import WorkerDrain
from ramp.api.status import DrainStatus, RolloutStatus, WorkerScale
from ramp.engine.draft import Draft
from ramp.engine.effects import WorkerTarget
from ramp.engine.observations import MetricSample, WorkerObservation


def exposure_of(status: RolloutStatus) -> tuple[float, int]:
    """Who the status says is served, ordered: the percentage, then how many audiences (a
    phase's audiences include the previous phase's, so fewer is a decrease); nobody while the
    flag is off."""
    if status.enabled is False or status.phase == "Disabled":
        return (0.0, 0)
    return (status.percentage or 0.0, len(status.audiences or []))


def hold_while_draining(
    draft: Draft,
    drained_by: Mapping[str, WorkerDrain],
    seen: Mapping[str, WorkerObservation],
    readings: Mapping[str, MetricSample] | None,
    intended: Mapping[str, WorkerTarget],
) -> dict[str, WorkerTarget]:
    """The scale each draining worker keeps now, by worker key; status.drains updated.

    ``drained_by``: the drain of each worker that has one; ``readings``: each draining worker's
    drain query, when it was read this reconcile; ``intended``: the scale each worker would get
    without drains (its phase's, or its original)."""
    nxt, now = draft.next, draft.now
    drains = {k: d for k, d in (nxt.drains or {}).items() if k in drained_by}
    before, after = exposure_of(draft.before), exposure_of(nxt)
    if after > before:
        drains = {}  # exposed again (a retry, spec.enabled): the phase's scale applies
    for key, drain in list(drains.items()):
        reading = (readings or {}).get(key)
        if reading is not None:
            drain = drains[key] = _read(draft, key, drained_by[key], drain, reading)
        if reading is not None and reading.value is not None and reading.value <= 0:
            del drains[key]
            draft.announce(
                "Normal",
                "Drained",
                f"{key} drained: its drain query reads {_amount(reading.value)} after "
                f"{format_duration(now - drain.started_at)}; it is scaled down now",
                notify=False,
            )
        elif now >= drain.deadline:
            del drains[key]
            left = "no reading" if drain.left is None else f"{_amount(drain.left)} left"
            draft.announce(
                "Warning",
                "DrainTimedOut",
                f"{key}: the drain timed out after {drained_by[key].timeout} ({left}); it is "
                "scaled down now, and jobs still queued wait for other workers",
            )
    if after < before:
        for key, drain_spec in drained_by.items():
            observed, target = seen.get(key), intended.get(key)
            if observed is None or observed.missing or target is None:
                continue
            if not _lowers(observed, target):
                continue
            held = drains[key].scale if key in drains else _scale_of(observed, target)
            drains[key] = DrainStatus(started_at=now, deadline=now + drain_spec.limit, scale=held)
            draft.announce(
                "Normal",
                "Draining",
                f"{key} keeps {_describe(held)} until its drain query reads 0, at most "
                f"{drain_spec.timeout}",
                notify=False,
            )
    nxt.drains = drains or None
    nxt.draining = "; ".join(_summary(k, d, now) for k, d in sorted(drains.items())) or None
    return {
        key: WorkerTarget(d.scale.replicas, d.scale.min_replicas, d.scale.max_replicas)
        for key, d in drains.items()
    }


def _read(
    draft: Draft, key: str, spec: WorkerDrain, drain: DrainStatus, reading: MetricSample
) -> DrainStatus:
    """The drain with its query's new reading. No data or an error is not 0: the worker keeps
    its scale until the query reads 0 or the timeout passes."""
    if reading.error is not None and drain.error is None:
        draft.announce(
            "Warning",
            "DrainQueryFailed",
            f"{key}: its drain query failed ({reading.error}); the worker keeps its scale "
            f"until the query reads 0 or the drain times out ({spec.timeout})",
            notify=False,
        )
    return drain.model_copy(
        update={
            "left": reading.value if reading.error is None else drain.left,
            "observed_at": draft.now,
            "error": reading.error,
        }
    )


def _lowers(observed: WorkerObservation, target: WorkerTarget) -> bool:
    """Whether ``target`` takes any capacity from what the worker has now."""
    return any(
        want is not None and have is not None and want < have
        for want, have in (
            (target.replicas, observed.replicas),
            (target.min_replicas, observed.min_replicas),
            (target.max_replicas, observed.max_replicas),
        )
    )


def _scale_of(observed: WorkerObservation, target: WorkerTarget) -> WorkerScale:
    """What the worker has now, in the fields Ramp sets on it."""
    return WorkerScale(
        replicas=observed.replicas if target.replicas is not None else None,
        min_replicas=observed.min_replicas if target.min_replicas is not None else None,
        max_replicas=observed.max_replicas if target.max_replicas is not None else None,
    )


def _describe(scale: WorkerScale) -> str:
    if scale.replicas is not None:
        return f"{scale.replicas} replicas"
    return f"minReplicas {scale.min_replicas}, maxReplicas {scale.max_replicas}"


def _amount(value: float) -> str:
    """1240 -> "1,240"; 0.5 -> "0.5"."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _countdown(left: timedelta) -> str:
    """Time to the deadline in whole minutes (rounded up) above a minute: the status then
    changes once a minute, not at every reconcile."""
    if left >= timedelta(minutes=1):
        return format_duration(timedelta(minutes=math.ceil(left / timedelta(minutes=1))))
    return format_duration(max(left, timedelta(0)))


def _summary(key: str, drain: DrainStatus, now: datetime) -> str:
    to_timeout = f"{_countdown(drain.deadline - now)} to timeout"
    if drain.error is not None:
        return f"{key}: drain query failing ({drain.error}), {to_timeout}"
    if drain.observed_at is None:
        return f"{key}: no reading yet, {to_timeout}"
    if drain.left is None:
        return f"{key}: no data from its drain query, waiting until the timeout ({to_timeout})"
    return f"{key}: {_amount(drain.left)} left, {to_timeout}"
