"""The Rollout API (ramp.dev/v1alpha1): pydantic models of spec and status, the single source
of the CRD schema, its descriptions and its admission rules."""

from ramp.api.durations import format_duration, parse_duration
from ramp.api.spec import (
    Analysis,
    FailurePolicy,
    FlagSpec,
    Metric,
    MetricOverride,
    Phase,
    PhaseWorkers,
    RolloutSpec,
    Threshold,
    Transition,
    WorkerRef,
)
from ramp.api.status import (
    Condition,
    Control,
    HistoryEntry,
    MetricStatus,
    MetricValue,
    PromoteRequest,
    Request,
    RolloutPhase,
    RolloutStatus,
    Snapshot,
    Verdict,
    WorkerScale,
)

GROUP = "ramp.dev"
VERSION = "v1alpha1"
KIND = "Rollout"
PLURAL = "rollouts"
SINGULAR = "rollout"
SHORT_NAMES = ("rlt",)

__all__ = [
    "GROUP",
    "KIND",
    "PLURAL",
    "SHORT_NAMES",
    "SINGULAR",
    "VERSION",
    "Analysis",
    "Condition",
    "Control",
    "FailurePolicy",
    "FlagSpec",
    "HistoryEntry",
    "Metric",
    "MetricOverride",
    "MetricStatus",
    "MetricValue",
    "Phase",
    "PhaseWorkers",
    "PromoteRequest",
    "Request",
    "RolloutPhase",
    "RolloutSpec",
    "RolloutStatus",
    "Snapshot",
    "Threshold",
    "Transition",
    "Verdict",
    "WorkerRef",
    "WorkerScale",
    "format_duration",
    "parse_duration",
]
