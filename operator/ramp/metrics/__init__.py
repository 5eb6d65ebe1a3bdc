"""Metric providers: where the values the engine judges come from.

`prometheus.PrometheusProvider` queries a real Prometheus; `scripted.ScriptedMetrics` plays back
values written by hand for `ramp simulate`. Both return `engine.MetricSample`s.
"""

from ramp.metrics.prometheus import PrometheusProvider
from ramp.metrics.scripted import ScriptedMetrics

__all__ = ["PrometheusProvider", "ScriptedMetrics"]
