"""Each metric's values over a rollout, from the Prometheus the Rollout names (range queries).

The dashboard runs with the viewer's kubeconfig, while the Rollout's author chose where its
queries go. So the viewer decides where the dashboard may send them, with the operator's rules
(`ramp dashboard --prometheus-allow`, the same patterns as `ramp run --prometheus-allow`):

- with an allow-list, an address outside it gets no request at all;
- an Authorization header read from a Secret (with the viewer's RBAC) goes only to an address the
  allow-list matches, so with no allow-list such a Secret is not even read.

Each refusal is the metric's error, shown on its chart, so the viewer knows why it is empty.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ramp.api import RolloutSpec
from ramp.k8s.clients import Clients
from ramp.k8s.secrets import SecretValueError, read_secret_value
from ramp.metrics.allowlist import AllowList
from ramp.metrics.prometheus import PrometheusProvider

FLAG = "ramp dashboard --prometheus-allow"

POINTS = 300
"""Points per chart at most: the step grows with the rollout's age, never below the interval."""


def rollout_span(rollout: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
    """From the Rollout's creation (or its oldest kept transition) to now."""
    stamps = [rollout["metadata"].get("creationTimestamp")]
    stamps += [h.get("time") for h in (rollout.get("status") or {}).get("history") or []]
    moments = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps if s]
    start = min(moments) if moments else now - timedelta(hours=1)
    return start, max(now, start + timedelta(seconds=1))


def refusal(allow: AllowList, spec: RolloutSpec) -> str | None:
    """Why the dashboard sends no query for ``spec`` (the rules above), or None."""
    assert spec.analysis is not None
    source = spec.analysis.prometheus
    if allow and not allow.allows(source.address):
        return (
            f"spec.analysis.prometheus.address: {source.address} is not in this dashboard's "
            f"allow-list ({FLAG}), so it sent no query there; start the dashboard with "
            f"--prometheus-allow naming this address if you trust it with your queries"
        )
    if source.authorization is not None and not allow:
        return (
            "spec.analysis.prometheus.authorization: the dashboard sends credentials read from "
            f"a Secret only to addresses you allowed ({FLAG}), and none is allowed, so it sent "
            f"no query; start the dashboard with --prometheus-allow {source.address} if you "
            "trust that address with the Secret"
        )
    return None


def metric_series(
    clients: Clients,
    rollout: dict[str, Any],
    spec: RolloutSpec,
    allow: AllowList,
    now: datetime | None = None,
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
    problem = refusal(allow, spec)
    if problem is None and source.authorization is not None:
        try:
            value = read_secret_value(
                clients, rollout["metadata"]["namespace"], source.authorization.secret_ref
            )
            headers = {"Authorization": value}
        except SecretValueError as e:
            problem = f"spec.analysis.prometheus.authorization: {e}"
    if problem is not None:
        out = {m.name: {"error": problem} for m in spec.analysis.metrics if m.query}
    else:
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
