"""Ramp's functional core: every rollout rule, as pure functions of (spec, status, now,
observations). No I/O, no clock: the shell reads, calls `decide`, and applies the effects."""

from ramp.engine.draft import analysing
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
from ramp.engine.policy import Decision, decide
from ramp.engine.published import flag_revision, format_percentage, lowers, serves, stamp
from ramp.engine.schedule import analysis_due, drain_due, next_wakeup
from ramp.engine.workers import restore_on_deletion, worker_key
from ramp.engine.writes import (
    WritePlan,
    invalid_spec_status,
    may_stay_unwritten,
    plan_writes,
    routine_readings,
)

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
    "WritePlan",
    "analysing",
    "analysis_due",
    "decide",
    "delivery_key",
    "drain_due",
    "flag_revision",
    "format_percentage",
    "invalid_spec_status",
    "lowers",
    "may_stay_unwritten",
    "next_wakeup",
    "pending_deliveries",
    "plan_writes",
    "restore_on_deletion",
    "routine_readings",
    "serves",
    "stamp",
    "worker_key",
]
