"""Routine analyses: what the next analyses of a settled Rollout may find without a decision.

Most analyses of a settled Rollout find every metric within its thresholds, as the last one
did. The whole decision then changes only the readings (when, and which values), and they stay
unwritten (engine.writes). With thousands of Rollouts, deciding that in full (parsing spec and
status, building and dumping the next status, comparing it with the stored one) was most of
the operator's CPU. After a whole decision, `routine_of` says which readings the next analyses
may find, and until when, with nothing else changing; `routine_readings_of` then gives the
readings of one such analysis, or None: anything else (a value past a threshold, no data, an
error, the end of a soak) is decided in full. Both follow `decide` exactly, which
tests/unit/engine/test_routine_analyses_need_no_whole_decision.py checks against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from ramp.api.spec import RolloutSpec, Threshold
from ramp.api.status import RolloutStatus
from ramp.engine.draft import Draft
from ramp.engine.observations import MetricSample
from ramp.engine.phases import SOAKING
from ramp.engine.schedule import analysis_offset, next_on_slot
from ramp.engine.thresholds import (
    NO_DATA_IGNORED,
    WITHIN_THRESHOLDS,
    crossed,
    effective_metrics,
)
from ramp.engine.windows import next_block_change

ROUTINE_PHASES = SOAKING
"""Where a decision with nothing new to act on keeps everything but the readings."""

_STAMP = TypeAdapter(datetime)


def stamp_of(moment: datetime) -> str:
    """A moment as a status document holds it (what RolloutStatus dumps)."""
    return str(_STAMP.dump_python(moment, mode="json"))


@dataclass(frozen=True, slots=True)
class RoutineMetric:
    """One metric of a routine analysis: the value it passes on, and its reading as stored."""

    name: str
    query: str
    critical: Threshold | None
    warning: Threshold | None
    baseline: float | None
    without_data: bool
    """The last analysis found no data, and onNoData is Ignore: routine while there is none."""
    stored: Mapping[str, Any]
    """Its status document without the reading (value, observedAt): the same for every
    routine analysis."""


@dataclass(frozen=True, slots=True)
class Routine:
    """What the analyses after a decision may find with nothing but their readings changing.
    Kept for every settled Rollout, so it holds no part of the parsed spec it need not."""

    metrics: tuple[RoutineMetric, ...]
    offset_us: int
    every_us: int
    """The analysis's slot and interval (engine.schedule)."""
    until: datetime | None
    """From this moment on a whole decision is due anyway (the soak ends); None: never."""

    def queries(self) -> dict[str, str]:
        return {m.name: m.query for m in self.metrics}

    def next_at(self, last: datetime) -> datetime:
        """When to come back after an analysis at ``last``: the next one, or ``until``."""
        due = next_on_slot(self.offset_us, self.every_us, last)
        return due if self.until is None else min(due, self.until)


def routine_of(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> Routine | None:
    """For ``status`` just decided at ``now`` with nothing left to act on: the routine its next
    analyses may be; None when they must be decided in full.

    A routine analysis changes nothing but its readings. That holds only while nothing else can
    change: an active phase that is soaking (until its end) or awaiting approval, every metric
    passing as it did (on a value within its thresholds, or without data under onNoData:
    Ignore) with no `for` window open, no request of a person, no announcement to
    deliver, no publish to confirm, and no workers to scale (their scale is observed by each
    whole decision). The shell also decides in full whenever any observation changed (a new
    version of the Rollout or of its ConfigMap, a failed publish).
    """
    analysis = spec.analysis
    if (
        analysis is None
        or not analysis.metrics
        or not spec.enabled
        or spec.paused
        or spec.workers
        or status.phase not in ROUTINE_PHASES
        or status.phase_started_at is None
        or status.last_analysis_at is None
        or status.enabled is not True
        or status.flag_disabled_at is not None
        or status.control is not None
        or status.outbox
        or status.awaiting_publish_since is not None
        or status.worker_originals
    ):
        return None
    previous = {m.name: m for m in status.metrics or []}
    baseline = status.baseline or {}
    metrics = []
    for metric, effective in zip(
        analysis.metrics, effective_metrics(spec, Draft(spec, status, now).index), strict=True
    ):
        before = previous.get(metric.name)
        without_data = (
            effective.on_no_data == "Ignore"
            and before is not None
            and (before.value is None and before.message == NO_DATA_IGNORED)
        )
        if (
            metric.query is None
            or effective.compare is not None
            or before is None
            or before.verdict != "Pass"
            or not (
                without_data or (before.value is not None and before.message == WITHIN_THRESHOLDS)
            )
            or before.critical_since is not None
            or before.warning_since is not None
            or before.consecutive_errors
            or before.compare is not None
        ):
            return None
        document = before.model_dump(by_alias=True, exclude_none=True, mode="json")
        metrics.append(
            RoutineMetric(
                name=metric.name,
                query=metric.query,
                critical=effective.critical,
                warning=effective.warning,
                baseline=baseline.get(metric.name),
                without_data=without_data,
                stored={k: v for k, v in document.items() if k not in ("value", "observedAt")},
            )
        )
    if [m.name for m in status.metrics or []] != [m.name for m in metrics]:
        return None
    until = status.next_promotion_at if status.phase == "Progressing" else None
    if status.phase == "Progressing" and (until is None or now >= until):
        return None
    changes = next_block_change(spec, now)  # the PromotionAllowed condition changes then
    if changes is not None:
        until = changes if until is None else min(until, changes)
    every_us = analysis.every // timedelta(microseconds=1)
    return Routine(tuple(metrics), analysis_offset(analysis), every_us, until)


def routine_readings_of(
    routine: Routine, samples: Mapping[str, MetricSample], now: datetime
) -> dict[str, Any] | None:
    """The readings (engine.writes.routine_readings) of an analysis at ``now`` that found
    ``samples``, if it is routine; None when it must be decided in full."""
    if routine.until is not None and now >= routine.until:
        return None
    at = stamp_of(now)
    documents = []
    for metric in routine.metrics:
        sample = samples.get(metric.name)
        if sample is None or sample.error is not None or sample.counts is not None:
            return None
        value = sample.value
        if value is None:  # NaN is None already (MetricSample)
            if not metric.without_data:
                return None
            documents.append({**metric.stored, "observedAt": at})
            continue
        if (
            metric.without_data
            or crossed(metric.critical, value, metric.baseline)
            or crossed(metric.warning, value, metric.baseline)
        ):
            return None
        documents.append({**metric.stored, "value": value, "observedAt": at})
    return {"lastAnalysisAt": at, "metrics": documents}
