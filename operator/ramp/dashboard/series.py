"""Each metric's values over a rollout, from the Prometheus the Rollout names (range queries).

The dashboard runs with the user's kubeconfig, so a Prometheus Authorization Secret is read with
the user's own RBAC; a user who may not read it sees that error on the metric, not a crash.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ramp.api import RolloutSpec
from ramp.k8s.clients import Clients
from ramp.k8s.secrets import SecretValueError, read_secret_value
from ramp.metrics.prometheus import PrometheusProvider

POINTS = 300
"""Points per chart at most: the step grows with the rollout's age, never below the interval."""


def rollout_span(rollout: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
    """From the Rollout's creation (or its oldest kept transition) to now."""
    stamps = [rollout["metadata"].get("creationTimestamp")]
    stamps += [h.get("time") for h in (rollout.get("status") or {}).get("history") or []]
    moments = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps if s]
    start = min(moments) if moments else now - timedelta(hours=1)
    return start, max(now, start + timedelta(seconds=1))


def metric_series(
    clients: Clients, rollout: dict[str, Any], spec: RolloutSpec, now: datetime | None = None
) -> dict[str, Any]:
    """{"start", "end", "step", "series": {metric: {"points": [[epoch, value|null]...]} or
    {"error": "..."}}} for every metric with a query (compare metrics have no single series)."""
    if spec.analysis is None:
        return {"series": {}}
    start, end = rollout_span(rollout, now or datetime.now(UTC))
    interval = spec.analysis.every.total_seconds()
    step = max(interval, (end - start).total_seconds() / POINTS)
    source = spec.analysis.prometheus
    headers = None
    out: dict[str, Any] = {}
    if source.authorization is not None:
        try:
            value = read_secret_value(
                clients, rollout["metadata"]["namespace"], source.authorization.secret_ref
            )
            headers = {"Authorization": value}
        except SecretValueError as e:
            problem = f"spec.analysis.prometheus.authorization: {e}"
            out = {m.name: {"error": problem} for m in spec.analysis.metrics if m.query}
    if not out:
        provider = PrometheusProvider(
            source.address,
            timeout=source.timeout_seconds,
            headers=headers,
            insecure_skip_verify=source.insecure_skip_verify,
        )
        try:
            for metric in spec.analysis.metrics:
                if metric.query is None:
                    continue
                try:
                    points = provider.query_range(metric.query, start, end, step)
                except RuntimeError as e:
                    out[metric.name] = {"error": str(e)}
                    continue
                out[metric.name] = {"points": [[at.timestamp(), v] for at, v in points]}
        finally:
            provider.close()
    return {
        "start": start.timestamp(),
        "end": end.timestamp(),
        "step": step,
        "series": out,
    }
