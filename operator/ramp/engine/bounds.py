"""A threshold's bounds as values to draw (the dashboard's charts and `simulate --plot`)."""

from __future__ import annotations

from typing import Literal

from ramp.api.spec import Threshold

Bound = tuple[Literal["above", "below"], float]


def bound_lines(threshold: Threshold | None, baseline: float | None) -> list[Bound]:
    """Each bound of ``threshold`` as a value; ratio bounds only once a baseline is known."""
    if threshold is None:
        return []
    lines: list[Bound] = []
    if threshold.above is not None:
        lines.append(("above", threshold.above))
    if threshold.below is not None:
        lines.append(("below", threshold.below))
    if baseline is not None and threshold.above_baseline_ratio is not None:
        lines.append(("above", baseline * threshold.above_baseline_ratio))
    if baseline is not None and threshold.below_baseline_ratio is not None:
        lines.append(("below", baseline * threshold.below_baseline_ratio))
    return lines
