"""What a simulation yields: the moments a simulated rollout went through, and the metrics fed
to it. Both `run` (which makes a timeline) and `plot` (which draws one) read these."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ramp.api import RolloutStatus
from ramp.engine.observations import MetricSample

SIMULATION_START = datetime(2026, 1, 1, tzinfo=UTC)
"""Scripted time starts here; the timeline prints time elapsed since it."""

Sampler = Callable[[datetime, RolloutStatus], Mapping[str, MetricSample]]
"""The metrics at a moment, given the status so far (compare metrics count from the end of the
last window the status holds, at the percentage it publishes)."""


@dataclass(frozen=True)
class Moment:
    """One transition of the simulated rollout."""

    at: datetime
    phase: str
    step: str | None
    percentage: float
    reason: str
    message: str
    audiences: tuple[str, ...] = ()
    """Audiences served ahead of the percentage (none while the flag is off)."""


@dataclass(frozen=True)
class Timeline:
    moments: tuple[Moment, ...]
    final: RolloutStatus
    start: datetime

    @property
    def outcome(self) -> str:
        return self.final.phase or "Pending"
