"""The operator's own metrics, served on /metrics.

A module of its own below k8s/ and runtime/: k8s/ counts the writes it makes, runtime/ the
reconciles, analyses and leadership, and neither has to import the other for it."""

from __future__ import annotations

import contextlib
from typing import get_args

from prometheus_client import Counter, Gauge, Histogram

from ramp.api.status import RolloutPhase

PHASES: tuple[str, ...] = get_args(RolloutPhase)

rollout_percentage = Gauge(
    "ramp_rollout_percentage",
    "Percentage of users the rollout's flag is published for.",
    ["namespace", "rollout"],
)
rollout_phase = Gauge(
    "ramp_rollout_phase",
    "1 for the rollout's current status.phase, 0 for the others.",
    ["namespace", "rollout", "phase"],
)
transitions = Counter(
    "ramp_rollout_transitions_total",
    "Transitions a rollout made, by reason (Promoted, RolledBack, Completed, ...).",
    ["namespace", "rollout", "reason"],
)
rollbacks = Counter(
    "ramp_rollout_rollbacks_total",
    "Rollbacks applied to a rollout (automatic and aborted).",
    ["namespace", "rollout"],
)
reconcile_seconds = Histogram(
    "ramp_reconcile_duration_seconds",
    "Time to reconcile one rollout: read, analyse, decide, apply.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
reconciles = Counter(
    "ramp_reconciles_total",
    "Reconciles by what they did: not_due (woken before anything was due, answered at once), "
    "routine (a routine analysis, no whole decision) or decided (a whole decision).",
    ["outcome"],
)
query_errors = Counter(
    "ramp_metric_query_errors_total",
    "Metric queries that failed (timeout, HTTP error, bad query).",
    ["namespace", "rollout", "metric"],
)
writes = Counter(
    "ramp_api_writes_total",
    "Writes the operator made to the Kubernetes API, by kind of object.",
    ["kind"],
)
unwritten_analyses = Counter(
    "ramp_analyses_unwritten_total",
    "Analyses that found what the stored status says (only the readings moved), kept in "
    "memory instead of written; see --status-refresh.",
)
routine_analyses = Counter(
    "ramp_analyses_routine_total",
    "Of those, analyses that needed no whole decision: every value within its thresholds at a "
    "settled Rollout, as the last whole decision said they could be (docs/behaviour.md).",
)
propagation_seconds = Histogram(
    "ramp_flag_propagation_seconds",
    "Time from publishing a flag's percentage to every reporting instance serving it "
    "(spec.analysis.served).",
    ["namespace", "rollout"],
    buckets=(1, 2.5, 5, 10, 20, 30, 60, 90, 120, 300, 600, 1800),
)

leader = Gauge(
    "ramp_leader",
    "1 while this operator leads (holds the leader Lease, or runs without leader election), "
    "0 while it stands by.",
)


_observed: dict[tuple[str, str], tuple[str, float]] = {}
"""What each Rollout's series say, so that a reconcile that changed neither sets none of them
(eight label lookups per analysis otherwise)."""


def observe_phase(namespace: str, rollout: str, phase: str, percentage: float) -> None:
    if _observed.get((namespace, rollout)) == (phase, percentage):
        return
    rollout_percentage.labels(namespace, rollout).set(percentage)
    for candidate in PHASES:
        rollout_phase.labels(namespace, rollout, candidate).set(1 if candidate == phase else 0)
    _observed[(namespace, rollout)] = (phase, percentage)


def forget(namespace: str, rollout: str) -> None:
    _observed.pop((namespace, rollout), None)
    for candidate in PHASES:
        with contextlib.suppress(KeyError):
            rollout_phase.remove(namespace, rollout, candidate)
    with contextlib.suppress(KeyError):
        rollout_percentage.remove(namespace, rollout)
