"""Metric providers: where the values the engine judges come from.

`provider.MetricProvider` is what the operator asks of one; `prometheus.PrometheusProvider`
queries a real Prometheus (each address checked by `allowlist`, one answer shared by `sharing`;
the operator keeps them in `runtime.provider_pool`); `cohorts` reads a compare metric's counts
through any provider;
`scripted.ScriptedMetrics` plays back values written by hand for `ramp simulate`. All return
`engine.MetricSample`s.
"""

from ramp.metrics.prometheus import PrometheusProvider
from ramp.metrics.provider import MetricProvider
from ramp.metrics.scripted import ScriptedMetrics

__all__ = ["MetricProvider", "PrometheusProvider", "ScriptedMetrics"]
