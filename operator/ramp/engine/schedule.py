"""When the shell must evaluate metrics and when it must come back: pure functions of status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

import mmh3

from ramp.api.spec import Analysis, RolloutSpec
from ramp.api.status import RolloutStatus
from ramp.engine.draft import analysing
from ramp.engine.exposure import exposes_anyone
from ramp.engine.served import checking
from ramp.engine.windows import next_block_change, promotion_block
from ramp.engine.workers import worker_key

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@lru_cache(maxsize=4096)
def _offset_us(address: str, queries: tuple[str, ...], every_us: int) -> int:
    return mmh3.hash("\n".join((address, *queries)), signed=False) % every_us


def analysis_offset(analysis: Analysis) -> int:
    """Where in each interval this analysis's slot lies (microseconds past the interval's start
    on the epoch's grid): the same for every Rollout asking the same queries of the same
    Prometheus, so their analyses fall due together and each query is sent once; different
    sets spread evenly over the interval instead of all at once."""
    queries = tuple(
        m.compare.model_dump_json() if m.compare is not None else m.query or ""
        for m in analysis.metrics
    )
    return _offset_us(analysis.prometheus.address, queries, analysis.every // _MICROSECOND)


def next_analysis_at(analysis: Analysis, last: datetime) -> datetime:
    """The evaluation after one taken at ``last``: at the analysis's slot, never more than one
    interval after ``last`` (I5, I6) nor less than half of one. Once on its slot an analysis
    stays there (one interval apart); from anywhere else it gets there within two analyses.
    An analysis with a `compare` metric has no slot: one interval after ``last``."""
    if any(m.compare is not None for m in analysis.metrics):
        # A compare metric counts a window from one analysis to the next. Its queries are the
        # Rollout's own (they name its flag), so no other Rollout shares them; and on a fixed
        # slot every window would end at the same moment relative to Prometheus's scrapes, so
        # a scrape that lands between its two queries would do so every time, not once.
        return last + analysis.every
    return next_on_slot(analysis_offset(analysis), analysis.every // _MICROSECOND, last)


def next_on_slot(offset_us: int, every_us: int, last: datetime) -> datetime:
    """`next_analysis_at` for a slot at ``offset_us`` in intervals of ``every_us``."""
    since_epoch = last - (_EPOCH if last.tzinfo is not None else _EPOCH.replace(tzinfo=None))
    # Microseconds from ``last`` to the next slot; 0 means ``last`` is on it: a whole interval.
    ahead = (offset_us - since_epoch // _MICROSECOND) % every_us or every_us
    gap = ahead if 2 * ahead >= every_us else (ahead + every_us) // 2
    return last + gap * _MICROSECOND


def analysis_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """One evaluation per interval (at the analysis's slot, `next_analysis_at`) while the
    rollout is active or rolled back to a previous phase, and one as soon as a soak ends
    (promotion is decided on fresh values)."""
    if spec.analysis is None or not analysing(status) or not spec.enabled:
        return False
    last = status.last_analysis_at
    if last is None or now >= next_analysis_at(spec.analysis, last):
        return True
    due = status.next_promotion_at
    return due is not None and last < due <= now


def drain_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """Whether to read the drain queries of the draining workers (status.drains): at once
    when a drain has no reading yet, then once per analysis interval."""
    if not status.drains or spec.analysis is None:
        return False
    return any(
        d.observed_at is None or now >= d.observed_at + spec.analysis.every
        for d in status.drains.values()
    )


def _drain_moments(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> list[datetime]:
    """The next reading of each drain's query, and its deadline."""
    if not status.drains or spec.analysis is None:
        return []
    every = spec.analysis.every
    moments = []
    for drain in status.drains.values():
        moments.append(now if drain.observed_at is None else drain.observed_at + every)
        moments.append(drain.deadline)
    return moments


def _restoring(spec: RolloutSpec, status: RolloutStatus) -> set[str]:
    """Workers being given back their original scale now (not while they drain)."""
    phase = status.phase or "Pending"
    originals = set(status.worker_originals or {}) - set(status.drains or {})
    if phase == "Completed" or (phase == "RolledBack" and not exposes_anyone(status)):
        return originals
    if phase == "Disabled":  # only workers with a drain are given back while disabled
        return originals & {worker_key(w) for w in spec.workers or [] if w.drain is not None}
    return set()


def served_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> bool:
    """Whether to read what the instances serve: with every analysis, and while they do not
    serve what is published yet (also once metrics are no longer analysed: a rollback, a
    disable)."""
    if spec.analysis is None or spec.analysis.served is None:
        return False
    return analysis_due(spec, status, now) or (not analysing(status) and checking(status))


RESTORE_CHECK = timedelta(seconds=1)
"""How soon to confirm that workers got their original scale back."""

MISSING_WORKER_CHECK = timedelta(seconds=5)
"""How often to look for a worker that does not exist yet (its creation sends Ramp no event)."""

PUBLISH_CHECK = timedelta(seconds=1)
"""How soon to confirm that the ConfigMap serves what the status says (its watch event usually
comes first)."""

OUTBOX_RETRY = timedelta(seconds=10)
"""How often undelivered announcements are tried again."""


def next_wakeup(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> datetime | None:
    """The earliest moment something can change without an outside event; None: nothing will."""
    moments = []
    if status.outbox:
        moments.append(now + OUTBOX_RETRY)
    if status.awaiting_publish_since is not None:
        moments.append(now + PUBLISH_CHECK)
    if spec.analysis is not None and spec.analysis.served is not None and checking(status):
        # I10b: the instances are read each interval until they serve what is published,
        # also after a rollback or a disable.
        moments.append(now + spec.analysis.every)
    if _restoring(spec, status):
        # Workers are being given back their own scale: look again to confirm and forget them.
        moments.append(now + RESTORE_CHECK)
    moments += _drain_moments(spec, status, now)
    if not analysing(status) or not spec.enabled:
        return max(min(moments), now) if moments else None
    if spec.analysis is not None:
        last = status.last_analysis_at
        moments.append(now if last is None else next_analysis_at(spec.analysis, last))
    if status.next_promotion_at is not None:
        moments.append(status.next_promotion_at)
    changes = next_block_change(spec, now)
    if changes is not None:
        moments.append(changes)  # the PromotionAllowed condition says so then
    if status.phase == "Pending" and spec.analysis is None:
        block = promotion_block(spec, now)
        if block is None:
            moments.append(now)
        elif block.until is not None:
            moments.append(block.until)  # the start waits for a window: I15
    if any(c.type == "WorkersReady" and c.status == "False" for c in status.conditions or []):
        moments.append(now + MISSING_WORKER_CHECK)
    if not moments:
        return None
    return max(min(moments), now)
