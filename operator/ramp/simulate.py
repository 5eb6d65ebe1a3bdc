"""`ramp simulate`: the real engine on simulated time, against scripted or recorded metrics.

Nothing here decides anything: `decide` does, exactly as in the operator. The simulation plays
the shell's part (evaluate when `analysis_due`, sleep until `next_wakeup`, scale the workers it
was asked to) and prints every transition, so thresholds can be designed before they are used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ramp.api import RolloutSpec, RolloutStatus, format_duration
from ramp.api.status import Control, PromoteRequest
from ramp.engine import (
    Observations,
    RecordEvent,
    ScaleWorkers,
    WorkerObservation,
    analysis_due,
    decide,
    format_percentage,
    next_wakeup,
    worker_key,
)
from ramp.engine.observations import MetricSample

SIMULATION_START = datetime(2026, 1, 1, tzinfo=UTC)
"""Scripted time starts here; the timeline prints time elapsed since it."""

Sampler = Callable[[datetime], Mapping[str, MetricSample]]


@dataclass(frozen=True)
class Moment:
    """One transition of the simulated rollout."""

    at: datetime
    phase: str
    step: str | None
    percentage: float
    reason: str
    message: str


@dataclass(frozen=True)
class Timeline:
    moments: tuple[Moment, ...]
    final: RolloutStatus
    start: datetime

    @property
    def outcome(self) -> str:
        return self.final.phase or "Pending"


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
    for _ in range(100_000):
        metrics = sample(now) if analysis_due(spec, status, now) else None
        decision = decide(spec, status, now, Observations(metrics=metrics, workers=workers))
        for effect in decision.effects:
            if isinstance(effect, RecordEvent):
                s = decision.status
                moments.append(
                    Moment(
                        now,
                        s.phase or "Pending",
                        s.current_phase,
                        s.percentage or 0.0,
                        effect.reason,
                        effect.message,
                    )
                )
            elif isinstance(effect, ScaleWorkers):
                workers = {**workers, **_scaled(workers, effect)}
        status = decision.status
        if status.phase == "AwaitingApproval" and approve:
            index = status.current_phase_index or 0
            status = status.model_copy(
                update={"control": Control(promote=PromoteRequest(phase_index=index))}
            )
            moments.append(
                Moment(
                    now,
                    "AwaitingApproval",
                    status.current_phase,
                    status.percentage or 0.0,
                    "PromoteRequested",
                    "simulated `ramp promote`",
                )
            )
            continue
        wake = next_wakeup(spec, status, now)
        if wake is None or wake > horizon:
            break
        now = max(wake, now + timedelta(milliseconds=1)) if wake <= now else wake
    return Timeline(tuple(moments), status, start)


def _scaled(
    workers: Mapping[str, WorkerObservation], effect: ScaleWorkers
) -> dict[str, WorkerObservation]:
    out = {}
    for key, target in effect.targets.items():
        seen = workers.get(key, WorkerObservation())
        out[key] = WorkerObservation(
            replicas=target.replicas if target.replicas is not None else seen.replicas,
            min_replicas=target.min_replicas or seen.min_replicas,
            max_replicas=target.max_replicas or seen.max_replicas,
        )
    return out


def _default_horizon(spec: RolloutSpec) -> timedelta:
    soak = sum((p.soak for p in spec.phases), timedelta(0))
    interval = spec.analysis.every if spec.analysis else timedelta(0)
    return soak * 2 + interval * (4 * len(spec.phases) + 10) + timedelta(hours=1)


def render(timeline: Timeline, *, title: str) -> str:
    lines = [f"{title}: simulated timeline", ""]
    lines.append(f"{'time':>10}  {'phase':<17} {'step':<14} {'percent':>7}  what")
    for m in timeline.moments:
        elapsed = format_duration(m.at - timeline.start)
        lines.append(
            f"{'+' + elapsed:>10}  {m.phase:<17} {(m.step or '-'):<14} "
            f"{format_percentage(m.percentage) + '%':>7}  {m.reason}: {m.message}"
        )
    final = timeline.final
    lines.append("")
    lines.append(
        f"outcome: {timeline.outcome} at {format_percentage(final.percentage or 0)} %"
        + (f" ({final.message})" if final.message else "")
    )
    return "\n".join(lines)


def main(rollout_path: str, metrics_path: str) -> int:
    """`ramp simulate ROLLOUT.yaml --metrics SCRIPT.yaml`; returns the exit code."""
    from ramp.metrics.scripted import ScriptedMetrics

    try:
        spec = load_spec(Path(rollout_path).read_text())
    except (OSError, ValidationError, yaml.YAMLError) as e:
        print(f"error: {rollout_path}: {e}", file=sys.stderr)
        return 2
    try:
        script = ScriptedMetrics.from_yaml(Path(metrics_path).read_text())
    except (OSError, ValueError, yaml.YAMLError) as e:
        print(f"error: {metrics_path}: {e}", file=sys.stderr)
        return 2

    def sample(now: datetime) -> Mapping[str, MetricSample]:
        return script.evaluate_at(now - SIMULATION_START)

    timeline = run(spec, sample)
    print(render(timeline, title=Path(rollout_path).name))
    return 0


def backtest_main(
    rollout_path: str,
    prometheus: str,
    start: str | None,
    end: str | None,
    *,
    authorization: str | None = None,
    insecure_skip_verify: bool = False,
) -> int:
    """`ramp simulate ROLLOUT.yaml --prometheus URL --from T1 --to T2`: replay real history."""
    from ramp.metrics.prometheus import PrometheusProvider

    try:
        spec = load_spec(Path(rollout_path).read_text())
    except (OSError, ValidationError, yaml.YAMLError) as e:
        print(f"error: {rollout_path}: {e}", file=sys.stderr)
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
    for metric in spec.analysis.metrics:
        try:
            history[metric.name] = provider.query_range(metric.query, t1, t2, step)
        except Exception as e:  # a backtest reports and stops; nothing to retry
            print(f"error: metric {metric.name}: {e}", file=sys.stderr)
            return 1
    timeline = run(spec, replay(history), start=t1, until=t2)
    print(render(timeline, title=f"{Path(rollout_path).name} replayed on {prometheus}"))
    return 0


def replay(history: Mapping[str, list[tuple[datetime, float | None]]]) -> Sampler:
    """Sample recorded series: the latest point at or before the moment (no data before)."""

    def sample(now: datetime) -> Mapping[str, MetricSample]:
        out = {}
        for name, points in history.items():
            value: float | None = None
            for at, v in points:
                if at > now:
                    break
                value = v
            out[name] = MetricSample(value=value)
        return out

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


def as_dict(timeline: Timeline) -> list[dict[str, Any]]:
    """The timeline as data (tests and tools)."""
    return [
        {
            "elapsed": (m.at - timeline.start).total_seconds(),
            "phase": m.phase,
            "step": m.step,
            "percentage": m.percentage,
            "reason": m.reason,
        }
        for m in timeline.moments
    ]
