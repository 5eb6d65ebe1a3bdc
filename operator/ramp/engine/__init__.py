"""Ramp's functional core: every rollout rule, as pure functions of (spec, status, now,
observations). No I/O, no clock: the shell reads, calls `decide`, and applies the effects."""

from ramp.engine.effects import (
    Effect,
    Notify,
    PublishFlag,
    RecordEvent,
    RestartConsumers,
    RestoreWorkers,
    ScaleWorkers,
    WorkerTarget,
)
from ramp.engine.observations import MetricSample, Observations, WorkerObservation
from ramp.engine.policy import Decision, decide, flag_revision, format_percentage
from ramp.engine.schedule import analysis_due, next_wakeup
from ramp.engine.workers import worker_key

__all__ = [
    "Decision",
    "Effect",
    "MetricSample",
    "Notify",
    "Observations",
    "PublishFlag",
    "RecordEvent",
    "RestartConsumers",
    "RestoreWorkers",
    "ScaleWorkers",
    "WorkerObservation",
    "WorkerTarget",
    "analysis_due",
    "decide",
    "flag_revision",
    "format_percentage",
    "next_wakeup",
    "worker_key",
]
