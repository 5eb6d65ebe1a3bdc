"""What the operator asks of a metric provider: the one interface the reconciler and the cohort
comparison depend on. `prometheus.PrometheusProvider` is the provider the operator runs with;
another backend is another class with these two methods."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from ramp.engine.observations import MetricSample


class MetricProvider(Protocol):
    async def evaluate(self, queries: Mapping[str, str]) -> dict[str, MetricSample]:
        """Each query's value now, by metric name; a failed query is a sample with an error,
        never an exception."""
        ...

    def by_label(self, query: str, label: str, at: datetime) -> dict[str, float]:
        """An instant query's values at ``at`` by one label's value (the cohorts' counts);
        blocking, raises RuntimeError when the query fails."""
        ...
