"""Metric values written by hand, played back on simulated time by `ramp simulate`.

```yaml
metrics:
  error-rate:
    - {at: 0s, value: 0.001}
    - {at: 40m, value: 0.08}     # from 40 minutes on
    - {at: 55m, value: null}     # no data
    - {at: 1h, value: error}     # the provider fails
```

Each metric holds its last value from `at` until the next entry; before its first entry it has
no data. A metric the script does not name has no data throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml

from ramp.api.durations import parse_duration
from ramp.engine.observations import MetricSample

SCRIPTED_ERROR = "scripted provider error"


@dataclass(frozen=True)
class ScriptedMetrics:
    series: dict[str, tuple[tuple[timedelta, MetricSample], ...]]
    """Per metric name, the (offset from start, sample) steps in time order."""

    @classmethod
    def from_yaml(cls, text: str) -> ScriptedMetrics:
        """Parse a script; errors name the entry (``metrics.error-rate[2].at``) and the fix."""
        document = yaml.safe_load(text)
        if not isinstance(document, dict) or not isinstance(document.get("metrics"), dict):
            raise ValueError("metrics: expected a mapping of metric name to a list of steps")
        series: dict[str, tuple[tuple[timedelta, MetricSample], ...]] = {}
        for name, steps in document["metrics"].items():
            where = f"metrics.{name}"
            if not isinstance(steps, list) or not steps:
                raise ValueError(f"{where}: expected a non-empty list of {{at, value}} steps")
            parsed = [_step(step, f"{where}[{i}]") for i, step in enumerate(steps)]
            for i in range(1, len(parsed)):
                if parsed[i][0] <= parsed[i - 1][0]:
                    raise ValueError(f"{where}[{i}].at: steps must be in increasing time order")
            series[str(name)] = tuple(parsed)
        return cls(series)

    def evaluate_at(self, elapsed: timedelta) -> dict[str, MetricSample]:
        """Every scripted metric's sample at ``elapsed`` since the simulation started."""
        out: dict[str, MetricSample] = {}
        for name, steps in self.series.items():
            current = MetricSample()
            for at, sample in steps:
                if at > elapsed:
                    break
                current = sample
            out[name] = current
        return out


def _step(step: Any, where: str) -> tuple[timedelta, MetricSample]:
    if not isinstance(step, dict) or set(step) - {"at", "value"} or "at" not in step:
        raise ValueError(f"{where}: expected {{at: <duration>, value: <number|null|error>}}")
    try:
        at = parse_duration(str(step["at"]))
    except ValueError as e:
        raise ValueError(f"{where}.at: {e}") from e
    value = step.get("value")
    if value is None:
        return at, MetricSample()
    if value == "error":
        return at, MetricSample(error=SCRIPTED_ERROR)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}.value: {value!r} is not a number, null or 'error'")
    return at, MetricSample(value=float(value))
