"""Which status changes must be stored now, and which a routine analysis may leave unwritten.

An analysis that finds what the last one found changes only when the values were read and what
they were. Writing that every interval is most of an analysing operator's API traffic (3,000
Rollouts at 30 s: 100 status writes a second) and tells nobody anything new. Such a status may
stay in the operator's memory instead, on top of the version it was decided on; a crash loses
it, which is the same as a crash before the write, and the restarted operator analyses again.
Everything else (a verdict, a `for` window, an error count, a transition, a compare metric's
evidence, a request of a person) is written at once, and the stored analysis is never older
than the refresh interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

ROUTINE_METRIC_FIELDS = ("value", "observedAt")
"""What a metric's status says about the reading itself, not about the verdict."""


def _without_routine(document: Mapping[str, Any]) -> dict[str, Any]:
    """The status document without the readings (copied where it differs: the caller's stays)."""
    kept = {k: v for k, v in document.items() if k != "lastAnalysisAt"}
    if "metrics" in kept:
        kept["metrics"] = [
            # A compare metric's evidence carries across windows: stored every time.
            metric
            if "compare" in metric
            else {k: v for k, v in metric.items() if k not in ROUTINE_METRIC_FIELDS}
            for metric in kept["metrics"]
        ]
    return kept


def _analysed_at(document: Mapping[str, Any]) -> datetime | None:
    stamp = document.get("lastAnalysisAt")
    return None if stamp is None else datetime.fromisoformat(stamp)


def may_stay_unwritten(
    stored: Mapping[str, Any], desired: Mapping[str, Any], refresh: timedelta
) -> bool:
    """Whether ``desired`` differs from ``stored`` only by a routine re-analysis. Both are status
    documents as the API server stores them (camelCase JSON, no nulls), as the shell compares
    them anyway.

    True when both have analysed, the stored analysis is younger than ``refresh`` at the new
    one, and nothing but the time and values of the readings changed. A zero ``refresh`` writes
    every analysis."""
    if refresh <= timedelta(0):
        return False
    before, after = _analysed_at(stored), _analysed_at(desired)
    if before is None or after is None or not before <= after < before + refresh:
        return False
    return _without_routine(stored) == _without_routine(desired)


def routine_readings(desired: Mapping[str, Any]) -> dict[str, Any]:
    """What a status that ``may_stay_unwritten`` adds to the stored one: its readings (when it
    analysed, and the metrics with their values). Laid over the stored document, they give
    that status back; keeping only these is a tenth of the memory of the whole status."""
    return {key: desired[key] for key in ("lastAnalysisAt", "metrics") if key in desired}
