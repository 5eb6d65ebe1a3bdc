"""Rollouts analysed by the testbed's Prometheus against a test-controlled exporter."""

from __future__ import annotations

from typing import Any

from tests.support.cluster import Cluster
from tests.support.rollouts import rollout_manifest


def analysed_rollout(
    cluster: Cluster,
    name: str,
    exporter: str,
    metrics: list[dict[str, Any]],
    *,
    phases: list[dict[str, Any]] | None = None,
    address: str | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A three-phase rollout with second-scale soaks, analysed every second."""
    for metric in metrics:
        metric["query"] = metric["query"].replace("EXPORTER", exporter)
    return rollout_manifest(
        name,
        phases
        or [
            {"name": "canary", "percentage": 10, "duration": "4s"},
            {"name": "half", "percentage": 50, "duration": "6s"},
            {"name": "everyone", "percentage": 100},
        ],
        analysis={
            "interval": "1s",
            "prometheus": {"address": address or cluster.prometheus_url, "timeout": "2s"},
            "metrics": metrics,
        },
        **spec,
    )


def error_rate(**extra: Any) -> dict[str, Any]:
    return {
        "name": "error-rate",
        "query": 'max(ramp_test_error_rate{exporter="EXPORTER"})',
        "critical": {"above": 0.05, "for": "2s"},
        **extra,
    }
