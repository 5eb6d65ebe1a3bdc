"""Threshold evaluation: from one sample per metric to verdicts, sustained breaches and holds.

A breach is sustained "for" a window when the first breaching sample and the current one are at
least `for` apart with no passing sample in between. No data and query errors neither start nor
end a window; they have their own rules (`onNoData`, `errorLimit`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ramp.api.durations import format_duration
from ramp.api.spec import Compare, Metric, NoDataPolicy, RolloutSpec, Threshold
from ramp.api.status import MetricStatus, Verdict
from ramp.engine import cohorts
from ramp.engine.observations import MetricSample, show_value

WITHIN_THRESHOLDS = "within thresholds"
"""The message of a metric that passed on a value."""

NO_DATA_IGNORED = "no data (ignored: onNoData is Ignore)"
"""The message of a metric that passed without data."""

NO_BASELINE = (
    "cannot be judged: no baseline was captured (baselines are captured at 0 % before the "
    "first phase, and this baseline bound came later); promotion waits. Remove the bound, or "
    "`ramp abort` and then `ramp retry`, which captures the baseline at 0 % before the first "
    "phase starts again"
)
"""The message of a metric whose baseline bound has no baseline to be judged against."""


@dataclass(frozen=True)
class EffectiveMetric:
    """A metric with the thresholds that apply in the current phase (overrides resolved)."""

    name: str
    warning: Threshold | None
    critical: Threshold | None
    on_no_data: NoDataPolicy
    compare: Compare | None = None


@dataclass(frozen=True)
class Breach:
    """A metric that makes the failure policy apply."""

    metric: str
    reason: str
    """CriticalBreach, NoData (onNoData: Fail) or ErrorLimit."""

    message: str


@dataclass(frozen=True)
class Assessment:
    metrics: tuple[MetricStatus, ...]
    breach: Breach | None = None
    holds: tuple[str, ...] = ()
    """Why promotion must wait (a critical value inside its `for` window, query errors)."""

    no_data: tuple[str, ...] = ()
    """Metrics without data under onNoData: Pause; the rollout holds as Paused."""

    new_warnings: tuple[MetricStatus, ...] = field(default_factory=tuple)
    """Metrics whose warning became sustained with this evaluation."""


def effective_metrics(spec: RolloutSpec, phase_index: int | None) -> list[EffectiveMetric]:
    if spec.analysis is None:
        return []
    overrides = {}
    if phase_index is not None and 0 <= phase_index < len(spec.phases):
        overrides = {o.name: o for o in spec.phases[phase_index].metrics or []}
    result = []
    for metric in spec.analysis.metrics:
        o = overrides.get(metric.name)
        result.append(
            EffectiveMetric(
                name=metric.name,
                warning=(o.warning if o and o.warning else metric.warning),
                critical=(o.critical if o and o.critical else metric.critical),
                on_no_data=(o.on_no_data if o and o.on_no_data else metric.on_no_data) or "Pause",
                compare=metric.compare,
            )
        )
    return result


def describe(threshold: Threshold, baseline: float | None) -> str:
    parts = []
    if threshold.above is not None:
        parts.append(f"above {threshold.above:g}")
    if threshold.below is not None:
        parts.append(f"below {threshold.below:g}")
    if threshold.above_baseline_ratio is not None:
        parts.append(f"above {threshold.above_baseline_ratio:g}x baseline{_of(baseline)}")
    if threshold.below_baseline_ratio is not None:
        parts.append(f"below {threshold.below_baseline_ratio:g}x baseline{_of(baseline)}")
    return " or ".join(parts)


def _needs_baseline(threshold: Threshold) -> bool:
    return threshold.above_baseline_ratio is not None or threshold.below_baseline_ratio is not None


def _of(baseline: float | None) -> str:
    return "" if baseline is None else f" {baseline:g}"


def crossed(threshold: Threshold | None, value: float, baseline: float | None) -> bool:
    """Whether ``value`` breaches any bound of ``threshold``."""
    if threshold is None:
        return False
    if threshold.above is not None and value > threshold.above:
        return True
    if threshold.below is not None and value < threshold.below:
        return True
    if baseline is None:
        return False
    above, below = threshold.above_baseline_ratio, threshold.below_baseline_ratio
    return (above is not None and value > baseline * above) or (
        below is not None and value < baseline * below
    )


def _previous(previous: Sequence[MetricStatus], name: str) -> MetricStatus | None:
    return next((m for m in previous if m.name == name), None)


def evaluate(
    metric: EffectiveMetric,
    sample: MetricSample,
    before: MetricStatus | None,
    now: datetime,
    baseline: float | None,
    error_limit: int,
    exposed: bool = False,
) -> tuple[MetricStatus, Breach | None, str | None]:
    """One metric's new status, the breach it causes (if any), and why it holds promotion.
    ``exposed``: the flag serves the feature to some users now (compare metrics)."""
    critical_since = before.critical_since if before else None
    warning_since = before.warning_since if before else None
    errors = 0
    value = sample.value
    breach: Breach | None = None
    hold: str | None = None
    verdict: Verdict
    if sample.error is not None:
        errors = (before.consecutive_errors if before else 0) + 1
        verdict = "Error"
        value = None
        message = f"query failed ({errors}/{error_limit}): {sample.error}"
        if errors >= error_limit:
            breach = Breach(metric.name, "ErrorLimit", f"{metric.name}: {message}")
        else:
            hold = f"{metric.name} query failed ({errors}/{error_limit})"
    elif metric.compare is not None:
        judged = cohorts.judge(
            metric.name,
            metric.compare,
            metric.on_no_data,
            sample,
            before.compare if before else None,
            exposed,
            now,
        )
        since = before.since if before is not None and before.verdict == judged.verdict else now
        status = MetricStatus(
            name=metric.name,
            verdict=judged.verdict,
            since=since,
            observed_at=now,
            message=judged.message,
            compare=judged.compare,
        )
        if judged.breach is not None:
            breach = Breach(metric.name, *judged.breach)
        return status, breach, judged.hold
    elif value is None:
        if critical_since is not None:
            # A gap neither starts nor ends a `for` window; a breach in progress still holds.
            hold = f"{metric.name} was crossing its critical threshold before its data stopped"
        if metric.on_no_data == "Ignore":
            verdict, message = "Pass", NO_DATA_IGNORED
        else:
            verdict, message = "NoData", "the query returned no data"
            if metric.on_no_data == "Fail":
                breach = Breach(metric.name, "NoData", f"{metric.name} returned no data")
    else:
        verdict, message = "Pass", WITHIN_THRESHOLDS
        if crossed(metric.critical, value, baseline):
            assert metric.critical is not None
            critical_since = critical_since or now
            bound = describe(metric.critical, baseline)
            lasted = now - critical_since
            if lasted >= metric.critical.sustain:
                verdict = "Critical"
                message = f"{show_value(value)} is {bound} (for {format_duration(lasted)})"
                breach = Breach(metric.name, "CriticalBreach", f"{metric.name} {message}")
            else:
                verdict = "Warning"
                message = (
                    f"{show_value(value)} is {bound} since {format_duration(lasted)} ago; "
                    "critical once "
                    f"it lasts {format_duration(metric.critical.sustain)}"
                )
                hold = f"{metric.name} is {bound}"
        else:
            critical_since = None
        if crossed(metric.warning, value, baseline):
            assert metric.warning is not None
            warning_since = warning_since or now
            if now - warning_since >= metric.warning.sustain and verdict == "Pass":
                verdict = "Warning"
                message = f"{show_value(value)} is {describe(metric.warning, baseline)} (warning)"
        else:
            warning_since = None
        unjudged = [
            t for t in (metric.critical, metric.warning) if t is not None and _needs_baseline(t)
        ]
        if unjudged and baseline is None:
            # A bound that cannot be judged is never a pass: the bound was added after the
            # start, and a baseline taken now would be the treatment's own value.
            hold = f"{metric.name} has no baseline for its {describe(unjudged[0], None)} bound"
            if verdict == "Pass":
                verdict, message = "Warning", NO_BASELINE
    since = before.since if before is not None and before.verdict == verdict else now
    status = MetricStatus(
        name=metric.name,
        value=value,
        verdict=verdict,
        since=since,
        observed_at=now,
        message=message,
        critical_since=critical_since,
        warning_since=warning_since,
        consecutive_errors=errors,
        compare=before.compare if before is not None and metric.compare is not None else None,
    )
    return status, breach, hold


def warning_sustained(status: MetricStatus, metric: EffectiveMetric) -> bool:
    """Whether the warning window was satisfied when ``status`` was observed."""
    return (
        metric.warning is not None
        and status.warning_since is not None
        and status.observed_at - status.warning_since >= metric.warning.sustain
    )


def assess(
    metrics: Sequence[EffectiveMetric],
    previous: Sequence[MetricStatus],
    samples: Mapping[str, MetricSample] | None,
    now: datetime,
    baseline: Mapping[str, float],
    error_limit: int,
    exposed: bool = False,
) -> Assessment:
    """Fold a fresh evaluation into the metric statuses; without one, re-read the holds.
    ``exposed``: the flag serves the feature to some users now (compare metrics)."""
    if samples is None:
        holds = []
        no_data = []
        for metric in metrics:
            before = _previous(previous, metric.name)
            if metric.compare is not None and (before is None or before.verdict == "Pass"):
                waits = cohorts.waiting(
                    metric.name, before.compare if before else None, metric.compare, exposed
                )
                if waits is not None:
                    holds.append(waits)
                continue
            if before is None:
                continue
            if before.verdict == "NoData" and metric.on_no_data == "Pause":
                no_data.append(metric.name)
            elif before.verdict == "Error":
                holds.append(
                    f"{metric.name} query failed ({before.consecutive_errors}/{error_limit})"
                )
            elif before.verdict == "Critical":
                # Until a fresh evaluation says otherwise (after `ramp resume`, say): I5.
                holds.append(f"{metric.name} was critical at its last evaluation")
            elif before.critical_since is not None:
                holds.append(f"{metric.name} is crossing its critical threshold")
        return Assessment(tuple(previous), holds=tuple(holds), no_data=tuple(no_data))
    statuses: list[MetricStatus] = []
    breach: Breach | None = None
    holds = []
    no_data = []
    new_warnings = []
    for metric in metrics:
        before = _previous(previous, metric.name)
        sample = samples.get(metric.name, MetricSample(error="not evaluated"))
        status, metric_breach, hold = evaluate(
            metric, sample, before, now, baseline.get(metric.name), error_limit, exposed
        )
        statuses.append(status)
        if metric_breach is not None and breach is None:
            breach = metric_breach
        if hold is not None:
            holds.append(hold)
        if status.verdict == "NoData" and metric.on_no_data == "Pause":
            no_data.append(metric.name)
        was_warning = before is not None and warning_sustained(before, metric)
        if warning_sustained(status, metric) and not was_warning:
            new_warnings.append(status)
    return Assessment(
        tuple(statuses),
        breach=breach,
        holds=tuple(holds),
        no_data=tuple(no_data),
        new_warnings=tuple(new_warnings),
    )


def health_of(metrics: Sequence[MetricStatus] | None) -> str:
    """The HEALTH column: the worst verdict, in words."""
    if not metrics:
        return "Unknown"
    verdicts = {m.verdict for m in metrics}
    for verdict, word in (
        ("Critical", "Critical"),
        ("Error", "Error"),
        ("NoData", "NoData"),
        ("Warning", "Warning"),
    ):
        if verdict in verdicts:
            return word
    return "Healthy"


def baseline_metrics(spec: RolloutSpec) -> list[Metric]:
    return [m for m in spec.analysis.metrics if m.baseline is not None] if spec.analysis else []
