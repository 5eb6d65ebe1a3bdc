"""What the shell saw of the world at one moment, handed to the engine as plain data."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ramp.engine.effects import PublishFlag
from ramp.engine.sequential import WindowCounts
from ramp.engine.served import ServedReading


@dataclass(frozen=True)
class MetricSample:
    """One evaluation of one metric's query.

    ``value`` is None with ``error`` None when the query returned no series (NoData);
    ``error`` is set when the provider failed (timeout, HTTP error, bad query).
    """

    value: float | None = None
    error: str | None = None
    counts: WindowCounts | None = None
    """For a compare metric: each cohort's units and failures from the end of the last window
    counted (status) to ``until``; None when no window was counted (the comparison starts)."""

    until: datetime | None = None
    """For a compare metric: the end of the window the counts cover (the query's time)."""

    def __post_init__(self) -> None:
        value = self.value
        if value is not None and not math.isfinite(value):
            # NaN is no data. An infinite value is a value (1/0: every request failed) and
            # breaches like one, but JSON has no Infinity: a status holding it could not be
            # written, so it is kept as the largest float, which crosses every bound alike.
            object.__setattr__(
                self,
                "value",
                None if math.isnan(value) else math.copysign(sys.float_info.max, value),
            )


def show_value(value: float) -> str:
    """A reading as people read it: an infinite one (kept as the largest float) as +Inf/-Inf."""
    if abs(value) == sys.float_info.max:
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:g}"


@dataclass(frozen=True)
class WorkerObservation:
    """Current scale of one `spec.workers` entry, read from the cluster.

    ``missing`` names the object that does not exist (``Deployment/x`` or
    ``HorizontalPodAutoscaler/y``); the other fields are None for what is absent or not referenced.
    """

    replicas: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observations:
    metrics: Mapping[str, MetricSample] | None = None
    """Samples by metric name; None when no analysis ran this reconcile (not due, or no metrics)."""

    workers: Mapping[str, WorkerObservation] = field(default_factory=dict)
    """Observed scale by worker key (the Deployment name, see ``worker_key``)."""

    drains: Mapping[str, MetricSample] | None = None
    """Each draining worker's drain query (status.drains) by worker key; None when not read
    this reconcile (not due)."""

    published: PublishFlag | None = None
    """What the flag ConfigMap serves now, with the bucketing scheme its flags.json names (none
    named: the legacy scheme); None when it does not exist or does not hold consistent values of
    Ramp's keys. A phase's soak counts only while this is what the status says is published, and
    a rollout left in flight by an older operator keeps its scheme (engine/bucketing.py)."""

    config_map_owner: str | None = None
    """Another Rollout that owns this Rollout's flag key or an env key of it in the ConfigMap
    named in spec.flag.configMap; Ramp then writes nothing to it."""

    config_map_clash: str | None = None
    """What of this Rollout's that owner holds, as field and value (``spec.flag.key: flag
    checkout``); None: the whole ConfigMap (marked by a Ramp from before per-key owners)."""

    publish_error: str | None = None
    """Why the last write of the ConfigMap failed, when it did (shown in the Published
    condition)."""

    served: ServedReading | None = None
    """What the instances serve (spec.analysis.served); None when not read this reconcile."""

    delivered: frozenset[str] = frozenset()
    """Deliveries of status.outbox confirmed since the status was read, as ``"<seq>/<target>"``
    (target ``event`` or ``webhook-N``)."""

    policy: PolicyObservation | None = None
    """The RolloutPolicy named in spec.policy as the shell resolved it (the spec decided on is
    already merged with it); None when the Rollout names none."""


@dataclass(frozen=True)
class PolicyObservation:
    """What the shell found of the Rollout's RolloutPolicy."""

    name: str
    generation: int | None = None
    """metadata.generation of the policy merged into the spec; None when it was not."""

    contributed: tuple[str, ...] = ()
    """What of the effective spec came from the policy, as field paths
    (`analysis.metrics[errors]`)."""

    problem: str | None = None
    """Why it could not be merged (not found, invalid, an arg not supplied); the rollout holds."""

    reason: str = "Resolved"
    """The PolicyResolved condition's reason: Resolved, PolicyNotFound or PolicyInvalid."""
