"""`ramp simulate --plot FILE.png|.svg`: a simulated or backtested timeline as a picture.

The top panel is the published percentage as steps with the moments of promotion, pause and
rollback marked, and the audiences served besides it written where they change; below it, one
panel per metric with the values the engine was given and the warning and critical bounds in
force at each moment (phase overrides and baselines resolved by the engine's own
`effective_metrics`). A compare metric is drawn as the ratio of the cohorts' failure rates in
each window against its maxRatio.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ramp.api import RolloutSpec, RolloutStatus
from ramp.engine.bounds import bound_lines
from ramp.engine.observations import MetricSample
from ramp.engine.thresholds import effective_metrics

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ramp.simulate.timeline import Sampler, Timeline

FORMATS = (".png", ".svg")

MARKS = {
    "Promoted": "#16a34a",
    "Completed": "#16a34a",
    "AwaitingApproval": "#d97706",
    "Paused": "#d97706",
    "RolledBack": "#dc2626",
    "Aborted": "#dc2626",
    "Failed": "#dc2626",
}
"""Transitions marked on every panel, by the colour they are drawn in."""

Point = tuple[datetime, float | None]


@dataclass
class MetricTrace:
    values: list[Point] = field(default_factory=list)
    warning: dict[str, list[Point]] = field(default_factory=dict)
    """Per bound ("above"/"below"): its value at each sample (None while not in force)."""
    critical: dict[str, list[Point]] = field(default_factory=dict)
    ratio: bool = False
    """A compare metric: values are treatment/control failure-rate ratios per window."""


class SampleRecorder:
    """A sampler that keeps what it gave the engine, with the bounds in force at that moment."""

    def __init__(self, spec: RolloutSpec, sample: Sampler) -> None:
        self.spec = spec
        self.sample = sample
        self.traces: dict[str, MetricTrace] = {}

    def __call__(self, now: datetime, status: RolloutStatus) -> Mapping[str, MetricSample]:
        samples = self.sample(now, status)
        ratios = {
            m.name: m.compare.max_ratio
            for m in (self.spec.analysis.metrics if self.spec.analysis else [])
            if m.compare is not None
        }
        baselines = status.baseline or {}
        # Before the first decision there is no phase yet: the first phase's bounds apply.
        for metric in effective_metrics(self.spec, status.current_phase_index or 0):
            seen = samples.get(metric.name)
            if seen is None:
                continue
            trace = self.traces.setdefault(metric.name, MetricTrace(ratio=metric.name in ratios))
            if trace.ratio:
                trace.values.append((now, _ratio(seen)))
                _bound(trace.critical, "maxRatio", now, ratios[metric.name])
                continue
            trace.values.append((now, seen.value))
            baseline = baselines.get(metric.name)
            for kind, threshold in (("warning", metric.warning), ("critical", metric.critical)):
                bounds = dict(bound_lines(threshold, baseline))
                for bound in ("above", "below"):
                    _bound(getattr(trace, kind), bound, now, bounds.get(bound))
        return samples


def _bound(lines: dict[str, list[Point]], bound: str, now: datetime, value: float | None) -> None:
    if value is not None or bound in lines:
        lines.setdefault(bound, []).append((now, value))


def _ratio(sample: MetricSample) -> float | None:
    """Treatment failure rate / control's in one window; None when it says nothing."""
    c = sample.counts
    if c is None or not c.treatment_units or not c.control_units or not c.control_failures:
        return None
    return (c.treatment_failures / c.treatment_units) / (c.control_failures / c.control_units)


class PlotError(Exception):
    """The plot cannot be written; the message says why and what to do."""


HOLDS = ("OutsideWindow", "Frozen")
"""Moments at which the simulated rollout began waiting for a window or a freeze's end."""


def held_spans(timeline: Timeline, end: datetime) -> list[tuple[datetime, datetime, str]]:
    """Each stretch during which a promotion window or a freeze held the rollout: from the
    moment the timeline says so to the next moment (the promotion, or whatever came first)."""
    spans = []
    moments = timeline.moments
    for i, moment in enumerate(moments):
        if moment.reason in HOLDS:
            stop = next((m.at for m in moments[i + 1 :] if m.at > moment.at), end)
            spans.append((moment.at, stop, moment.reason))
    return spans


def plot_timeline(
    timeline: Timeline, traces: Mapping[str, MetricTrace], path: Path, *, title: str
) -> None:
    """Draw ``timeline`` and the metric ``traces`` into ``path`` (.png or .svg)."""
    if path.suffix.lower() not in FORMATS:
        raise PlotError(f"--plot {path}: the file name must end in .png or .svg")
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise PlotError("--plot needs matplotlib: pip install 'ramp-operator[plot]'") from e

    end = max([m.at for m in timeline.moments] + [t.values[-1][0] for t in traces.values()])
    hours = (end - timeline.start).total_seconds() / 3600
    unit, scale = ("h", 3600.0) if hours >= 2 else ("min", 60.0)

    def x(at: datetime) -> float:
        return (at - timeline.start).total_seconds() / scale

    panels = 1 + len(traces)
    figure = Figure(figsize=(10, 2.6 + 2.1 * len(traces)), layout="constrained")
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    top = axes[0]
    xs = [0.0] + [x(m.at) for m in timeline.moments] + [x(end)]
    ys = [0.0] + [m.percentage for m in timeline.moments]
    ys.append(ys[-1])
    top.step(xs, ys, where="post", color="#2563eb", linewidth=2, label="published %")
    top.fill_between(xs, ys, step="post", color="#2563eb", alpha=0.08)
    # Who is served besides the percentage: each change of audiences is written on the step.
    shown: tuple[str, ...] = ()
    for moment in timeline.moments:
        if moment.audiences != shown:
            label = "+ " + ", ".join(moment.audiences) if moment.audiences else "no audience"
            top.annotate(
                label,
                (x(moment.at), moment.percentage),
                xytext=(3, 6),
                textcoords="offset points",
                fontsize=8,
                color="#7c3aed",
            )
            shown = moment.audiences
    top.set_ylim(-2, 105)
    top.set_ylabel("published %")
    top.set_title(f"{title}: {timeline.outcome}", loc="left", fontsize=11)
    labelled: set[str] = set()
    for moment in timeline.moments:
        color = MARKS.get(moment.reason)
        if color is None:
            continue
        for ax in axes:
            ax.axvline(x(moment.at), color=color, linestyle=":", linewidth=1.2)
        if moment.reason not in labelled:
            top.plot([], [], color=color, linestyle=":", label=moment.reason)
            labelled.add(moment.reason)
    for start, stop, reason in held_spans(timeline, end):
        # Waiting for a promotion window or the end of a freeze: shaded, so the plot shows
        # where the rollout was held by the calendar, not by its health.
        top.axvspan(x(start), x(stop), color="#a3a3a3", alpha=0.25, linewidth=0)
        if reason not in labelled:
            top.fill_between([], [], color="#a3a3a3", alpha=0.25, label=f"held: {reason}")
            labelled.add(reason)
    top.legend(loc="upper left", fontsize=8, ncols=min(4, 1 + len(labelled)))
    for ax, (name, trace) in zip(axes[1:], traces.items(), strict=True):
        _metric_panel(ax, name, trace, x)
    axes[-1].set_xlabel(f"time since start ({unit})")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    try:
        figure.savefig(path, dpi=110)
    except OSError as e:
        raise PlotError(f"--plot {path}: cannot write it: {e.strerror or e}") from e


def _metric_panel(ax: Axes, name: str, trace: MetricTrace, x: Callable[[datetime], float]) -> None:
    points = [(x(at), v) for at, v in trace.values if v is not None]
    if points:
        ax.step(
            *zip(*points, strict=True), where="post", color="#0f766e", linewidth=1.8, label=name
        )
    for kind, color in (("warning", "#d97706"), ("critical", "#dc2626")):
        for bound, line in getattr(trace, kind).items():
            drawn = [(x(at), v) for at, v in line]
            ax.step(
                *zip(*drawn, strict=True),
                where="post",
                color=color,
                linestyle="--",
                linewidth=1.2,
                label=f"{kind} {bound}",
            )
    ax.set_ylabel(f"{name}\n(failure-rate ratio)" if trace.ratio else name)
    ax.legend(loc="upper left", fontsize=8)


def write_plot(timeline: Timeline, recorder: SampleRecorder, path: str, *, title: str) -> int:
    """The CLI's part: draw, say where, and turn a failure into exit code 2 with its reason."""
    try:
        plot_timeline(timeline, recorder.traces, Path(path), title=title)
    except PlotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"plot: {path}")
    return 0
