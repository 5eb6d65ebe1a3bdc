"""The PromQL of a `compare` metric, built by Ramp so users cannot get it wrong.

One window is the counters' increase per variant between the end of the last window counted
(kept in status) and now, evaluated at now: `increase` handles counter resets, and the cost of a
query does not grow with the soak. After an operator restart the first window covers the whole
gap in one query.

    sum by (feature_flag_result_variant) (increase(
      jobs_total{queue="reports", feature_flag_key="reports-v2",
                 feature_flag_result_variant=~"on|off"}[30000ms]))
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from ramp.api import RolloutSpec, RolloutStatus
from ramp.api.spec import Compare
from ramp.engine.cohorts import window_start
from ramp.engine.observations import MetricSample
from ramp.engine.sequential import WindowCounts
from ramp.metrics.provider import MetricProvider

FLAG_KEY_LABEL = "feature_flag_key"
"""The OpenTelemetry feature-flag attribute apps label their counters with (docs/flags.md)."""

SHORTEST_WINDOW = timedelta(seconds=1)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def with_matchers(selector: str, matchers: list[str]) -> str:
    """``selector`` with extra label matchers appended."""
    name, brace, inner = selector.partition("{")
    inner = inner.rstrip().removesuffix("}").strip().rstrip(",").strip() if brace else ""
    return f"{name.strip()}{{{', '.join([m for m in [inner] if m] + matchers)}}}"


def _cohort_selector(selector: str, spec: Compare, flag_key: str) -> str:
    matchers = []
    if not re.search(rf"[{{,]\s*{FLAG_KEY_LABEL}\s*[=!]", selector):
        matchers.append(f"{FLAG_KEY_LABEL}={_quote(flag_key)}")
    variants = "|".join(re.escape(v) for v in (spec.treatment, spec.control))
    matchers.append(f"{spec.variant_label}=~{_quote(variants)}")
    return with_matchers(selector, matchers)


def window_query(selector: str, spec: Compare, flag_key: str, window: timedelta) -> str:
    """Each variant's increase of one counter over ``window``, ending at the query's time."""
    ms = max(int(window.total_seconds() * 1000), 1)
    inner = _cohort_selector(selector, spec, flag_key)
    return f"sum by ({spec.variant_label}) (increase({inner}[{ms}ms]))"


def totals_query(selector: str, spec: Compare, flag_key: str) -> str:
    """Each variant's counter total (for backtests, which take differences of a range)."""
    return f"sum by ({spec.variant_label}) ({_cohort_selector(selector, spec, flag_key)})"


def differences(points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    """A counter total's increase at each point since the one before; a drop is a reset, after
    which the new total is what was counted."""
    out = []
    for (_, before), (at, value) in pairwise(points):
        out.append((at, value - before if value >= before else value))
    return out


@dataclass(frozen=True)
class Window:
    """What to ask Prometheus for one compare metric this evaluation."""

    start: datetime | None
    """End of the last window counted; None when the comparison starts at ``end``."""

    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start if self.start is not None else timedelta(0)

    @property
    def countable(self) -> bool:
        return self.start is not None and self.length >= SHORTEST_WINDOW


def counts(
    failures: dict[str, float], total: dict[str, float], spec: Compare, end: datetime
) -> MetricSample:
    """A compare sample from each variant's increases; no series at all is no data."""
    if not total and not failures:
        return MetricSample()
    return MetricSample(
        counts=WindowCounts(
            treatment_units=max(total.get(spec.treatment, 0.0), 0.0),
            treatment_failures=max(failures.get(spec.treatment, 0.0), 0.0),
            control_units=max(total.get(spec.control, 0.0), 0.0),
            control_failures=max(failures.get(spec.control, 0.0), 0.0),
        ),
        until=end,
    )


def sample(provider: MetricProvider, spec: Compare, flag_key: str, window: Window) -> MetricSample:
    """One window's counts from Prometheus (blocking: run it in a worker thread)."""
    if window.start is None:
        return MetricSample(until=window.end)
    if not window.countable:
        return MetricSample(counts=WindowCounts(0, 0, 0, 0), until=window.start)
    try:
        failures = provider.by_label(
            window_query(spec.failures, spec, flag_key, window.length),
            spec.variant_label,
            window.end,
        )
        total = provider.by_label(
            window_query(spec.total, spec, flag_key, window.length), spec.variant_label, window.end
        )
    except RuntimeError as e:
        return MetricSample(error=str(e))
    return counts(failures, total, spec, window.end)


async def evaluate(
    provider: MetricProvider, spec: RolloutSpec, status: RolloutStatus, now: datetime
) -> dict[str, MetricSample]:
    """Every compare metric's window, from the end of the last one counted to ``now``."""
    if spec.analysis is None:
        return {}
    before = {m.name: m.compare for m in status.metrics or []}
    compared = [(m.name, m.compare) for m in spec.analysis.metrics if m.compare is not None]
    answers = await asyncio.gather(
        *(
            asyncio.to_thread(
                sample,
                provider,
                compare,
                spec.flag.key,
                Window(window_start(before.get(name), compare), now),
            )
            for name, compare in compared
        )
    )
    return {name: answer for (name, _), answer in zip(compared, answers, strict=True)}
