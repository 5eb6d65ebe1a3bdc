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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from ramp.engine.effects import PublishFlag
from ramp.engine.published import lowers

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


StatusWrite = Literal["unchanged", "unwritten", "write"]
"""What becomes of the decided status: nothing changed; only readings moved (kept in memory,
`may_stay_unwritten`); or it is written over the version it was decided on."""


@dataclass(frozen=True)
class WritePlan:
    """How the shell applies one decision, in this order."""

    publish_first: PublishFlag | None
    """A decrease to serve before the status records it (I1): fewer users is always allowed,
    and a crash between the two must not leave more users exposed than the status records.
    A raise is the other way round: recorded first, served after (the decision's effects)."""

    status: StatusWrite
    readings: dict[str, Any] | None = None
    """For ``unwritten``: what to keep in memory over the stored status (`routine_readings`)."""


def plan_writes(
    stored: Mapping[str, Any],
    desired: Mapping[str, Any],
    published: PublishFlag | None,
    wanted: PublishFlag | None,
    refresh: timedelta,
) -> WritePlan:
    """The order of work for a decision whose status document is ``desired`` over ``stored``
    (both as the API server stores them), with ``published`` served now and ``wanted`` the
    decision's publish."""
    first = wanted if wanted is not None and lowers(published, wanted) else None
    if desired == stored:
        return WritePlan(first, "unchanged")
    if may_stay_unwritten(stored, desired, refresh):
        return WritePlan(first, "unwritten", routine_readings(desired))
    return WritePlan(first, "write")


def invalid_spec_status(
    stored: Mapping[str, Any], problems: str, generation: int | None
) -> dict[str, Any] | None:
    """The status patch of a spec the engine cannot read (admission should have refused it: an
    older CRD): `Failed`, naming the fields; None when that is recorded already. Nothing else
    changes: what is published stays as it is until a person fixes the spec."""
    if stored.get("phase") == "Failed" and stored.get("message") == problems:
        return None
    return {"phase": "Failed", "message": problems, "observedGeneration": generation}
