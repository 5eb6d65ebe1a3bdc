"""Ramp's functional core: every rollout rule, as pure functions of (spec, status, now,
observations). No I/O, no clock: the shell reads, calls `decide`, and applies the effects."""

from ramp.engine.effects import (
    Effect,
    PublishFlag,
    RestartConsumers,
    RestoreWorkers,
    ScaleWorkers,
    WorkerTarget,
)
from ramp.engine.observations import MetricSample, Observations, WorkerObservation
from ramp.engine.outbox import delivery_key, pending_deliveries
from ramp.engine.policy import Decision, analysing, decide
from ramp.engine.published import flag_revision, format_percentage, lowers, serves, stamp
from ramp.engine.schedule import analysis_due, next_wakeup
from ramp.engine.workers import worker_key
from ramp.engine.writes import may_stay_unwritten, routine_readings

__all__ = [
    "Decision",
    "Effect",
    "MetricSample",
    "Observations",
    "PublishFlag",
    "RestartConsumers",
    "RestoreWorkers",
    "ScaleWorkers",
    "WorkerObservation",
    "WorkerTarget",
    "analysing",
    "analysis_due",
    "decide",
    "delivery_key",
    "flag_revision",
    "format_percentage",
    "lowers",
    "may_stay_unwritten",
    "next_wakeup",
    "pending_deliveries",
    "routine_readings",
    "serves",
    "stamp",
    "worker_key",
]
