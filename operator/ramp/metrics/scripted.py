"""Metric values written by hand, played back on simulated time by `ramp simulate`.

```yaml
metrics:
  error-rate:
    - {at: 0s, value: 0.001}
    - {at: 40m, value: 0.08}     # from 40 minutes on
    - {at: 55m, value: null}     # no data
    - {at: 1h, value: error}     # the provider fails
  failures-vs-control:           # a compare metric: traffic instead of values
    - {at: 0s, units: 200, failureRate: {treatment: 0.01, control: 0.01}}
    - {at: 30m, units: 200, failureRate: {treatment: 0.02, control: 0.01}}
    # or each variant's units and failures per second, whatever the percentage:
    - {at: 1h, treatment: {units: 10, failures: 0.2}, control: {units: 190, failures: 1.9}}
```

Each metric holds its last value from `at` until the next entry; before its first entry it has
no data. A metric the script does not name has no data throughout. For a compare metric,
`units` per second (both cohorts together) are split by the simulated percentage, and each
cohort fails at its `failureRate`: the counts are the expected ones, so a simulation shows the
typical time a regression takes to be caught.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import yaml

from ramp.api.durations import parse_duration
from ramp.engine.observations import MetricSample
from ramp.engine.sequential import WindowCounts

SCRIPTED_ERROR = "scripted provider error"


@dataclass(frozen=True)
class Traffic:
    """Units of work per second and each cohort's failure rate, from one script step on."""

    units: float
    treatment_rate: float
    control_rate: float
    treatment_share: float | None = None
    """The treatment's fixed share of units, for steps that give each variant's units and
    failures per second (recorded traffic); None: the simulated percentage decides."""


@dataclass(frozen=True)
class ScriptedMetrics:
    series: dict[str, tuple[tuple[timedelta, MetricSample], ...]]
    """Per metric name, the (offset from start, sample) steps in time order."""

    traffic: dict[str, tuple[tuple[timedelta, Traffic], ...]] = field(default_factory=dict)
    """Per compare metric name, the (offset from start, traffic) steps in time order."""

    def traffic_at(self, name: str, elapsed: timedelta) -> Traffic | None:
        current = None
        for at, traffic in self.traffic.get(name, ()):
            if at > elapsed:
                break
            current = traffic
        return current

    def counts(
        self, name: str, start: timedelta, end: timedelta, fraction: float
    ) -> WindowCounts | None:
        """Expected units and failures per cohort between ``start`` and ``end`` with
        ``fraction`` of the units in the treatment; None when the script has no traffic then."""
        steps = self.traffic.get(name, ())
        totals = [0.0, 0.0, 0.0, 0.0]
        seen = False
        for i, (at, traffic) in enumerate(steps):
            until = steps[i + 1][0] if i + 1 < len(steps) else end
            lo, hi = max(at, start), min(until, end)
            if hi <= lo:
                continue
            seen = True
            units = traffic.units * (hi - lo).total_seconds()
            if traffic.treatment_share is not None:
                fraction = traffic.treatment_share
            totals[0] += units * fraction
            totals[1] += units * fraction * traffic.treatment_rate
            totals[2] += units * (1 - fraction)
            totals[3] += units * (1 - fraction) * traffic.control_rate
        return WindowCounts(*totals) if seen else None

    @classmethod
    def from_yaml(cls, text: str) -> ScriptedMetrics:
        """Parse a script; errors name the entry (``metrics.error-rate[2].at``) and the fix."""
        document = yaml.safe_load(text)
        if not isinstance(document, dict) or not isinstance(document.get("metrics"), dict):
            raise ValueError("metrics: expected a mapping of metric name to a list of steps")
        series: dict[str, tuple[tuple[timedelta, MetricSample], ...]] = {}
        traffic: dict[str, tuple[tuple[timedelta, Traffic], ...]] = {}
        for name, steps in document["metrics"].items():
            where = f"metrics.{name}"
            if not isinstance(steps, list) or not steps:
                raise ValueError(f"{where}: expected a non-empty list of {{at, value}} steps")
            if isinstance(steps[0], dict) and ("units" in steps[0] or "treatment" in steps[0]):
                flows = [_traffic(step, f"{where}[{i}]") for i, step in enumerate(steps)]
                _in_order(flows, where)
                traffic[str(name)] = tuple(flows)
                continue
            parsed = [_step(step, f"{where}[{i}]") for i, step in enumerate(steps)]
            _in_order(parsed, where)
            series[str(name)] = tuple(parsed)
        return cls(series, traffic)

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


def _in_order(steps: list[tuple[timedelta, Any]], where: str) -> None:
    for i in range(1, len(steps)):
        if steps[i][0] <= steps[i - 1][0]:
            raise ValueError(f"{where}[{i}].at: steps must be in increasing time order")


def _at(step: Any, where: str) -> timedelta:
    try:
        return parse_duration(str(step["at"]))
    except ValueError as e:
        raise ValueError(f"{where}.at: {e}") from e


def _rate(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{where}: {value!r} is not a failure rate between 0 and 1")
    return float(value)


def _per_second(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, dict) or set(value) != {"units", "failures"}:
        raise ValueError(f"{where}: expected {{units: <per second>, failures: <per second>}}")
    units, failures = value["units"], value["failures"]
    for key, number in (("units", units), ("failures", failures)):
        if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
            raise ValueError(f"{where}.{key}: {number!r} is not a number per second")
    if failures > units:
        raise ValueError(f"{where}.failures: more failures ({failures}) than units ({units})")
    return float(units), float(failures)


def _counts(step: Any, where: str) -> tuple[timedelta, Traffic]:
    """A step giving each variant's units and failures per second."""
    if set(step) != {"at", "treatment", "control"}:
        shape = "{at, treatment: {units, failures}, control: {units, failures}}"
        raise ValueError(f"{where}: expected {shape}")
    t_units, t_failures = _per_second(step["treatment"], f"{where}.treatment")
    c_units, c_failures = _per_second(step["control"], f"{where}.control")
    units = t_units + c_units
    return _at(step, where), Traffic(
        units,
        t_failures / t_units if t_units else 0.0,
        c_failures / c_units if c_units else 0.0,
        t_units / units if units else 0.0,
    )


def _traffic(step: Any, where: str) -> tuple[timedelta, Traffic]:
    if isinstance(step, dict) and "treatment" in step:
        return _counts(step, where)
    shape = "{at: <duration>, units: <per second>, failureRate: {treatment: r, control: r}}"
    if not isinstance(step, dict) or set(step) != {"at", "units", "failureRate"}:
        raise ValueError(f"{where}: expected {shape}")
    rates = step["failureRate"]
    if not isinstance(rates, dict) or set(rates) != {"treatment", "control"}:
        raise ValueError(f"{where}.failureRate: expected {{treatment: <rate>, control: <rate>}}")
    units = step["units"]
    if isinstance(units, bool) or not isinstance(units, int | float) or units < 0:
        raise ValueError(f"{where}.units: {units!r} is not a number of units per second")
    return _at(step, where), Traffic(
        float(units),
        _rate(rates["treatment"], f"{where}.failureRate.treatment"),
        _rate(rates["control"], f"{where}.failureRate.control"),
    )


def _step(step: Any, where: str) -> tuple[timedelta, MetricSample]:
    if not isinstance(step, dict) or set(step) - {"at", "value"} or "at" not in step:
        raise ValueError(f"{where}: expected {{at: <duration>, value: <number|null|error>}}")
    at = _at(step, where)
    value = step.get("value")
    if value is None:
        return at, MetricSample()
    if value == "error":
        return at, MetricSample(error=SCRIPTED_ERROR)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}.value: {value!r} is not a number, null or 'error'")
    return at, MetricSample(value=float(value))
