"""What the shell saw of the world at one moment, handed to the engine as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetricSample:
    """One evaluation of one metric's query.

    ``value`` is None with ``error`` None when the query returned no series (NoData);
    ``error`` is set when the provider failed (timeout, HTTP error, bad query).
    """

    value: float | None = None
    error: str | None = None


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
