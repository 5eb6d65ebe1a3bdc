"""`ramp simulate`: the real engine on simulated time, against scripted or recorded metrics.

Nothing here decides anything: `decide` does, exactly as in the operator. The simulation plays
the shell's part (evaluate when `analysis_due`, sleep until `next_wakeup`, scale the workers it
was asked to) and prints every transition, so thresholds can be designed before they are used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import ValidationError

from ramp.api import RolloutSpec, RolloutStatus, format_duration
from ramp.api.base import field_problems
from ramp.api.spec import Compare
from ramp.api.status import Control, PromoteRequest
from ramp.engine import (
    Decision,
    Observations,
    PublishFlag,
    RestoreWorkers,
    ScaleWorkers,
    WorkerObservation,
    analysis_due,
    decide,
    delivery_key,
    format_percentage,
    next_wakeup,
    pending_deliveries,
    worker_key,
)
from ramp.engine.cohorts import window_start
from ramp.engine.effects import WorkerTarget
from ramp.engine.exposure import describe_exposure
from ramp.engine.observations import MetricSample
from ramp.engine.sequential import WindowCounts, wald_detection_seconds
from ramp.engine.windows import frozen_until
from ramp.metrics.cohorts import differences, totals_query
from ramp.simulate.plot import SampleRecorder, write_plot
from ramp.simulate.timeline import SIMULATION_START, Moment, Sampler, Timeline

if TYPE_CHECKING:
    from ramp.metrics.prometheus import PrometheusProvider
    from ramp.metrics.scripted import ScriptedMetrics

WindowSource = Callable[[str, datetime, datetime, float], WindowCounts | None]
"""A compare metric's counts between two moments with a fraction of units in the treatment."""


def load_spec(text: str) -> RolloutSpec:
    """A Rollout manifest (or a bare spec) as a validated spec; errors name the field."""
    document = yaml.safe_load(text) or {}
    spec = document.get("spec", document) if isinstance(document, dict) else document
    return RolloutSpec.model_validate(spec)


def run(
    spec: RolloutSpec,
    sample: Sampler,
    *,
    start: datetime = SIMULATION_START,
    until: datetime | None = None,
    approve: bool = True,
) -> Timeline:
    """Drive `decide` from ``start`` until the rollout ends or ``until``."""
    horizon = until or start + _default_horizon(spec)
    status = RolloutStatus()
    now = start
    workers = {
        worker_key(w): WorkerObservation(replicas=1, min_replicas=1, max_replicas=1)
        for w in spec.workers or []
    }
    moments: list[Moment] = []
    published: PublishFlag | None = None
    holding: str | None = None
    for _ in range(100_000):
        metrics = sample(now, status) if analysis_due(spec, status, now) else None
        # The shell's part: publish what was decided, deliver what was announced, and decide
        # again at once when that changed what the ConfigMap serves.
        decisions: list[Decision] = []
        while len(decisions) < 2:
            delivered = frozenset(delivery_key(a, t) for a, t in pending_deliveries(status.outbox))
            seen = Observations(
                metrics=None if decisions else metrics,
                workers=workers,
                published=published,
                delivered=delivered,
            )
            decision = decide(spec, status, now, seen)
            decisions.append(decision)
            status = decision.status
            flag = next(e for e in decision.effects if isinstance(e, PublishFlag))
            if flag == published:
                break
            published = flag
        held = _held_for(status)
        if held is not None and held != holding:
            # No transition, but the one thing a person waits for: say when it can go on.
            moments.append(
                Moment(
                    now,
                    status.phase or "Pending",
                    status.current_phase,
                    status.percentage or 0.0,
                    held,
                    status.message or "",
                )
            )
        holding = held
        for decision in decisions:
            s = decision.status
            for told in decision.announced:
                moments.append(
                    Moment(
                        now,
                        s.phase or "Pending",
                        s.current_phase,
                        s.percentage or 0.0,
                        told.reason,
                        told.message,
                        serving(s),
                    )
                )
            for effect in decision.effects:
                if isinstance(effect, ScaleWorkers):
                    workers = {**workers, **_scaled(workers, effect.targets)}
                elif isinstance(effect, RestoreWorkers):
                    workers = {**workers, **_scaled(workers, effect.originals)}
        if status.phase == "AwaitingApproval" and approve:
            index = status.current_phase_index or 0
            status = status.model_copy(
                update={
                    "control": Control(
                        promote=PromoteRequest(phase_index=index, phase=status.current_phase)
                    )
                }
            )
            moments.append(
                Moment(
                    now,
                    "AwaitingApproval",
                    status.current_phase,
                    status.percentage or 0.0,
                    "PromoteRequested",
                    "simulated `ramp promote`",
                    serving(status),
                )
            )
            continue
        wake = next_wakeup(spec, status, now)
        if wake is None or wake > horizon:
            break
        now = max(wake, now + timedelta(milliseconds=1)) if wake <= now else wake
    return Timeline(tuple(moments), status, start)


def serving(status: RolloutStatus) -> tuple[str, ...]:
    """The audiences ``status`` publishes (none while the flag is off)."""
    return tuple(status.audiences or ()) if status.enabled is not False else ()


def _scaled(
    workers: Mapping[str, WorkerObservation], targets: Mapping[str, WorkerTarget]
) -> dict[str, WorkerObservation]:
    out = {}
    for key, target in targets.items():
        seen = workers.get(key, WorkerObservation())
        out[key] = WorkerObservation(
            replicas=target.replicas if target.replicas is not None else seen.replicas,
            min_replicas=target.min_replicas or seen.min_replicas,
            max_replicas=target.max_replicas or seen.max_replicas,
        )
    return out


def _held_for(status: RolloutStatus) -> str | None:
    """OutsideWindow or Frozen while only a promotion window or a freeze holds the rollout."""
    reconciling = next((c for c in status.conditions or [] if c.type == "Reconciling"), None)
    if reconciling is not None and reconciling.reason in ("OutsideWindow", "Frozen"):
        return reconciling.reason
    return None


def _default_horizon(spec: RolloutSpec) -> timedelta:
    soak = sum((p.soak for p in spec.phases), timedelta(0))
    interval = spec.analysis.every if spec.analysis else timedelta(0)
    horizon = soak * 2 + interval * (4 * len(spec.phases) + 10) + timedelta(hours=1)
    if spec.promotion_windows:
        horizon += timedelta(days=8) * len(spec.phases)  # each promotion may wait a week
    if spec.freeze is not None and spec.freeze.until is not None:
        horizon += max(spec.freeze.until - SIMULATION_START, timedelta(0))
    return horizon


def release_rules(spec: RolloutSpec) -> list[str]:
    """The promotion windows and the freeze, as the timeline's header says them."""
    lines = []
    for w in spec.promotion_windows or []:
        days = ",".join(w.days) if w.days else "every day"
        lines.append(f"promotion window: {days} {w.start}-{w.end} {w.time_zone}")
    if spec.freeze is not None:
        lines.append(f"freeze {frozen_until(spec.freeze)}: {spec.freeze.reason}")
    return lines


def render(timeline: Timeline, *, title: str, spec: RolloutSpec | None = None) -> str:
    lines = [f"{title}: simulated timeline", ""]
    rules = release_rules(spec) if spec is not None else []
    if rules:
        start = f"{timeline.start:%a %Y-%m-%d %H:%M} UTC"
        lines[1:1] = [*rules, f"(simulated time starts {start})"]
        lines.append("")
    lines.append(f"{'time':>10}  {'phase':<17} {'step':<14} {'percent':>7}  what")
    for m in timeline.moments:
        elapsed = format_duration(m.at - timeline.start)
        # Audiences served ahead of the percentage are counted after it, as kubectl shows it.
        served = f"{format_percentage(m.percentage)}%" + (
            f" +{len(m.audiences)}" if m.audiences else ""
        )
        lines.append(
            f"{'+' + elapsed:>10}  {m.phase:<17} {(m.step or '-'):<14} "
            f"{served:>7}  {m.reason}: {m.message}"
        )
    final = timeline.final
    lines.append("")
    lines.append(
        f"outcome: {timeline.outcome} at "
        f"{describe_exposure(final.percentage or 0, serving(final))}"
        + (f" ({final.message})" if final.message else "")
    )
    done = next((m for m in timeline.moments if m.reason == "Completed"), None)
    if rules and done is not None:
        elapsed = format_duration(done.at - timeline.start)
        lines.append(f"completes after {elapsed}, on {done.at:%a %Y-%m-%d %H:%M} UTC")
    return "\n".join(lines)


def read_spec(path: str) -> RolloutSpec | None:
    """The Rollout at ``path``, or None after printing one line per problem."""
    try:
        return load_spec(Path(path).read_text())
    except ValidationError as e:
        for line in field_problems(e):
            print(f"error: {path}: {line}", file=sys.stderr)
    except OSError as e:
        print(f"error: {path}: {e.strerror or e}", file=sys.stderr)
    except yaml.YAMLError as e:
        print(f"error: {path}: not YAML: {' '.join(str(e).split())}", file=sys.stderr)
    return None


def unknown_metrics(spec: RolloutSpec, script: ScriptedMetrics, where: str) -> list[str]:
    """A scripted metric the Rollout does not have is never read: say so, not nothing."""
    known = [m.name for m in spec.analysis.metrics] if spec.analysis else []
    has = f"it has {', '.join(known)}" if known else "it has no spec.analysis.metrics"
    return [
        f"{where}: metrics.{name}: the Rollout has no metric {name} ({has}); its values are ignored"
        for name in [*script.series, *script.traffic]
        if name not in known
    ]


def main(rollout_path: str, metrics_path: str, plot: str | None = None) -> int:
    """`ramp simulate ROLLOUT.yaml --metrics SCRIPT.yaml [--plot FILE]`; returns the exit code."""
    from ramp.metrics.scripted import ScriptedMetrics

    spec = read_spec(rollout_path)
    if spec is None:
        return 2
    try:
        script = ScriptedMetrics.from_yaml(Path(metrics_path).read_text())
    except (OSError, ValueError, yaml.YAMLError) as e:
        print(f"error: {metrics_path}: {e}", file=sys.stderr)
        return 2
    for warning in unknown_metrics(spec, script, metrics_path):
        print(f"warning: {warning}", file=sys.stderr)

    def window(name: str, start: datetime, end: datetime, fraction: float) -> WindowCounts | None:
        return script.counts(name, start - SIMULATION_START, end - SIMULATION_START, fraction)

    def sample(now: datetime, status: RolloutStatus) -> Mapping[str, MetricSample]:
        return {
            **script.evaluate_at(now - SIMULATION_START),
            **compare_samples(spec, status, now, window),
        }

    def traffic(name: str, at: datetime) -> tuple[float, float] | None:
        flow = script.traffic_at(name, at - SIMULATION_START)
        return (flow.units, flow.control_rate) if flow else None

    recorder = SampleRecorder(spec, sample) if plot else None
    timeline = run(spec, recorder or sample)
    timeline = warn_short_soaks(spec, timeline, traffic)
    print(render(timeline, title=Path(rollout_path).name, spec=spec))
    if plot and recorder:
        return write_plot(timeline, recorder, plot, title=Path(rollout_path).name)
    return 0


def compare_samples(
    spec: RolloutSpec, status: RolloutStatus, now: datetime, window: WindowSource
) -> dict[str, MetricSample]:
    """The shell's part for compare metrics: count from the end of the last window in status."""
    if spec.analysis is None:
        return {}
    before = {m.name: m.compare for m in status.metrics or []}
    fraction = (status.percentage or 0.0) / 100 if status.enabled is not False else 0.0
    out = {}
    for metric in spec.analysis.metrics:
        if metric.compare is None:
            continue
        start = window_start(before.get(metric.name), metric.compare)
        if start is None:
            out[metric.name] = MetricSample(until=now)
            continue
        counts = window(metric.name, start, now, fraction)
        out[metric.name] = MetricSample(counts=counts, until=now) if counts else MetricSample()
    return out


DETECTED_RATIO = 2.0
"""The regression size a phase's soak is checked against: a 2x failure rate."""


def warn_short_soaks(
    spec: RolloutSpec,
    timeline: Timeline,
    traffic: Callable[[str, datetime], tuple[float, float] | None],
) -> Timeline:
    """Add a warning where a phase starts whose soak is shorter than the expected time to detect
    a 2x regression of a compare metric at that phase's traffic (units/s, control rate)."""
    if spec.analysis is None:
        return timeline
    compared = [m for m in spec.analysis.metrics if m.compare is not None]
    moments: list[Moment] = []
    for moment in timeline.moments:
        moments.append(moment)
        if moment.reason not in ("Started", "Promoted", "Retried") or moment.step is None:
            continue
        phase = next((p for p in spec.phases if p.name == moment.step), None)
        if phase is None or phase.percentage >= 100:
            continue
        for metric in compared:
            assert metric.compare is not None
            seen = traffic(metric.name, moment.at)
            if seen is None:
                continue
            expected = wald_detection_seconds(
                phase.percentage / 100,
                seen[0],
                seen[1],
                DETECTED_RATIO,
                1 - metric.compare.confidence,
            )
            if expected is None or phase.soak.total_seconds() >= expected:
                continue
            moments.append(
                Moment(
                    moment.at,
                    moment.phase,
                    moment.step,
                    moment.percentage,
                    "SoakShorterThanDetection",
                    f"{metric.name}: a 2x regression takes about "
                    f"{format_duration(timedelta(seconds=round(expected)))} to detect at "
                    f"{format_percentage(phase.percentage)} % of {seen[0]:g} units/s with "
                    f"{seen[1]:.2%} control failures; the soak is {phase.duration}",
                )
            )
    return Timeline(tuple(moments), timeline.final, timeline.start)


def backtest_main(
    rollout_path: str,
    prometheus: str,
    start: str | None,
    end: str | None,
    *,
    authorization: str | None = None,
    insecure_skip_verify: bool = False,
    plot: str | None = None,
) -> int:
    """`ramp simulate ROLLOUT.yaml --prometheus URL --from T1 --to T2`: replay real history."""
    from ramp.metrics.prometheus import PrometheusProvider

    spec = read_spec(rollout_path)
    if spec is None:
        return 2
    if spec.analysis is None:
        print("error: spec.analysis: a backtest needs metrics to replay", file=sys.stderr)
        return 2
    try:
        t1 = _instant(start, "--from")
        t2 = _instant(end, "--to") if end else datetime.now(UTC)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if t2 <= t1:
        print("error: --to must be after --from", file=sys.stderr)
        return 2
    provider = PrometheusProvider(
        prometheus,
        timeout=spec.analysis.prometheus.timeout_seconds,
        headers={"Authorization": authorization} if authorization else None,
        insecure_skip_verify=insecure_skip_verify,
    )
    step = spec.analysis.every.total_seconds()
    history: dict[str, list[tuple[datetime, float | None]]] = {}
    increases: dict[str, Increases] = {}
    for metric in spec.analysis.metrics:
        try:
            if metric.compare is not None:
                increases[metric.name] = recorded_increases(
                    provider, metric.compare, spec.flag.key, t1, t2, step
                )
            elif metric.query is not None:
                history[metric.name] = provider.query_range(metric.query, t1, t2, step)
        except Exception as e:  # a backtest reports and stops; nothing to retry
            print(f"error: metric {metric.name}: {e}", file=sys.stderr)
            return 1
    sample = replay(spec, history, increases)
    recorder = SampleRecorder(spec, sample) if plot else None
    timeline = run(spec, recorder or sample, start=t1, until=t2)
    title = f"{Path(rollout_path).name} replayed on {prometheus}"
    print(render(timeline, title=title))
    return write_plot(timeline, recorder, plot, title=title) if plot and recorder else 0


Increases = dict[str, dict[str, list[tuple[datetime, float]]]]
"""For a compare metric: per counter (failures, total), per variant, each step's increase."""


def recorded_increases(
    provider: PrometheusProvider,
    compare: Compare,
    flag_key: str,
    start: datetime,
    end: datetime,
    step: float,
) -> Increases:
    """Each variant's per-step increase of both counters over the backtest's range, as
    differences of the recorded totals: exact counts, where short `increase` windows would
    extrapolate (and lose what falls between two samples of different windows)."""
    out: Increases = {}
    for counter, selector in (("failures", compare.failures), ("total", compare.total)):
        series = provider.range_by(
            totals_query(selector, compare, flag_key), compare.variant_label, start, end, step
        )
        out[counter] = {variant: differences(points) for variant, points in series.items()}
    return out


def replay(
    spec: RolloutSpec,
    history: Mapping[str, list[tuple[datetime, float | None]]],
    increases: Mapping[str, Increases] | None = None,
) -> Sampler:
    """Sample recorded series: the latest point at or before the moment (no data before); for
    compare metrics, the recorded increases between the last window and the moment (the
    recorded split of units between the cohorts, not the simulated percentage)."""
    recorded = increases or {}
    variants = {
        m.name: (m.compare.treatment, m.compare.control)
        for m in (spec.analysis.metrics if spec.analysis else [])
        if m.compare is not None
    }

    def window(name: str, start: datetime, end: datetime, _fraction: float) -> WindowCounts | None:
        counters = recorded.get(name)
        if not counters or not any(counters.get("total", {}).values()):
            return None
        treatment, control = variants[name]

        def total(counter: str, variant: str) -> float:
            points = counters.get(counter, {}).get(variant, [])
            return sum(v for at, v in points if start < at <= end)

        return WindowCounts(
            total("total", treatment),
            total("failures", treatment),
            total("total", control),
            total("failures", control),
        )

    def sample(now: datetime, status: RolloutStatus) -> Mapping[str, MetricSample]:
        out: dict[str, MetricSample] = {}
        for name, points in history.items():
            value: float | None = None
            for at, v in points:
                if at > now:
                    break
                value = v
            out[name] = MetricSample(value=value)
        return {**out, **compare_samples(spec, status, now, window)}

    return sample


def _instant(text: str | None, option: str) -> datetime:
    if text is None:
        raise ValueError(
            f"{option} is required for a backtest (RFC 3339, e.g. 2026-11-01T10:00:00Z)"
        )
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{option} {text!r} is not an RFC 3339 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
