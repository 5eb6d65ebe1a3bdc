"""Promotion windows and freezes: whether a rollout may promote now, and when it next may.

Pure: the clock comes in, time zones come from the standard library's `zoneinfo`. A window is
the set of instants whose wall-clock time in its zone lies between `start` and `end` on one of
its `days` (a window that spans midnight belongs to the day it starts on). So a window keeps to
the wall clock across daylight-saving changes: on the night clocks go forward it is shorter by
the skipped hour (one that starts in the skipped hour opens when the clocks have jumped), on
the night they go back it is longer by the repeated hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from ramp.api.spec import RolloutSpec
from ramp.api.windows import WEEKDAYS, Freeze, PromotionWindow

HORIZON_DAYS = 8
"""A weekly window opens within a week; one day more covers the day `now` is in."""

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class PromotionBlock:
    """Why a rollout may not promote now, and from when it may (as far as it can be known)."""

    reason: Literal["Frozen", "OutsideWindow"]
    """The condition reason: a freeze holds it, or no promotion window is open."""

    message: str
    """What a person reads: the freeze's reason, or the next window in its own zone."""

    until: datetime | None
    """When promotion may next happen; None: not before the freeze is removed."""


def inside(window: PromotionWindow, at: datetime) -> bool:
    """Whether ``at`` lies in ``window``, by the wall clock of its zone."""
    local = at.astimezone(window.zone)
    clock = local.hour * 60 + local.minute
    days = window.days or WEEKDAYS
    today = WEEKDAYS[local.weekday()]
    if window.opens < window.closes:
        return today in days and window.opens <= clock < window.closes
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    return (today in days and clock >= window.opens) or (
        yesterday in days and clock < window.closes
    )


def in_a_window(windows: Sequence[PromotionWindow], at: datetime) -> bool:
    return any(inside(w, at) for w in windows)


def next_opening(
    windows: Sequence[PromotionWindow], after: datetime
) -> tuple[datetime, PromotionWindow] | None:
    """The first instant later than ``after`` that lies in a window, with that window."""
    return _next_change(windows, after, inside_after=True)


def next_closing(windows: Sequence[PromotionWindow], after: datetime) -> datetime | None:
    """The first instant later than ``after`` that lies in no window."""
    found = _next_change(windows, after, inside_after=False)
    return found[0] if found else None


_Found = tuple[datetime, PromotionWindow] | None
_LAST: dict[tuple[object, ...], tuple[datetime, _Found]] = {}
"""The last change found per set of windows: a rollout asks every analysis, and the answer
holds until that change (nothing changes between the moment asked and it)."""


def _next_change(
    windows: Sequence[PromotionWindow], after: datetime, *, inside_after: bool
) -> tuple[datetime, PromotionWindow] | None:
    """The first instant later than ``after`` whose membership of the windows is
    ``inside_after``, with the window whose boundary it is."""
    key = (inside_after, *((tuple(w.days or ()), w.start, w.end, w.time_zone) for w in windows))
    kept = _LAST.get(key)
    if (
        kept is not None
        and kept[1] is not None
        and kept[0] <= after < kept[1][0]
        and kept[1][1] in windows
    ):
        return kept[1]
    found = _search_change(windows, after, inside_after=inside_after)
    if len(_LAST) > 4096:
        _LAST.clear()
    _LAST[key] = (after, found)
    return found


def _search_change(
    windows: Sequence[PromotionWindow], after: datetime, *, inside_after: bool
) -> tuple[datetime, PromotionWindow] | None:
    candidates: list[tuple[datetime, PromotionWindow]] = []
    for window in windows:
        candidates += [(c, window) for c in _boundaries(window, after)]
    found = [(c, w) for c, w in candidates if c > after and in_a_window(windows, c) == inside_after]
    return min(found, key=lambda found: found[0]) if found else None


def _boundaries(window: PromotionWindow, after: datetime) -> list[datetime]:
    """Where membership of ``window`` can change within the horizon: its start and end on every
    day (both instants of a time the clocks go back over; the jump itself for one they skip),
    and every offset change of its zone (going back can return into a window)."""
    zone = window.zone
    first = after.astimezone(zone).date()
    found: list[datetime] = []
    for offset in range(HORIZON_DAYS + 1):
        for clock in (window.opens, window.closes):
            day = first + timedelta(days=offset + clock // 1440)
            wall = datetime.combine(day, time(clock % 1440 // 60, clock % 60))
            early, late = (wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
            if early == late:
                found.append(early)
            elif early.astimezone(zone).replace(tzinfo=None) == wall:
                found += [early, late]  # the wall clock shows this time twice
            else:
                found.append(_offset_change(zone, min(early, late), max(early, late)))
    found += _offset_changes(zone, after)
    return found


def _offset_changes(zone: ZoneInfo, after: datetime) -> list[datetime]:
    """The instants within the horizon at which ``zone``'s UTC offset changes."""
    changes = []
    day = timedelta(days=1)
    at = after.astimezone(UTC)
    for _ in range(HORIZON_DAYS + 1):
        if at.astimezone(zone).utcoffset() != (at + day).astimezone(zone).utcoffset():
            changes.append(_offset_change(zone, at, at + day))
        at += day
    return changes


def _offset_change(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first second in (low, high] with ``high``'s offset (one change lies in between)."""
    wanted = high.astimezone(zone).utcoffset()
    while high - low > _SECOND:
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            middle = low + _SECOND
        if middle.astimezone(zone).utcoffset() == wanted:
            high = middle
        else:
            low = middle
    return high


def describe_opening(opening: datetime, window: PromotionWindow) -> str:
    """ "Tue 02:00 Europe/Berlin": the opening in the window's own zone."""
    return f"{opening.astimezone(window.zone):%a %H:%M} {window.time_zone}"


def frozen_until(freeze: Freeze) -> str:
    if freeze.until is None:
        return "until the freeze is removed"
    return f"until {freeze.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def next_block_change(spec: RolloutSpec, now: datetime) -> datetime | None:
    """When `promotion_block` may next say something else (a window opens or closes, a freeze
    ends); None: not without an edit."""
    windows = spec.promotion_windows or []
    moments = []
    if spec.freeze is not None and spec.freeze.until is not None and now < spec.freeze.until:
        moments.append(spec.freeze.until)
    if windows:
        if in_a_window(windows, now):
            closing = next_closing(windows, now)
            if closing is not None:
                moments.append(closing)
        else:
            opening = next_opening(windows, now)
            if opening is not None:
                moments.append(opening[0])
    return min(moments) if moments else None


def promotion_block(spec: RolloutSpec, now: datetime) -> PromotionBlock | None:
    """What keeps the rollout from promoting at ``now`` (a freeze, or no open window); None
    when it may. Only promotion (a start at 0 % included) waits: nothing else does."""
    windows = spec.promotion_windows or []
    freeze = spec.freeze
    if freeze is not None and freeze.holds_at(now):
        until = freeze.until
        if until is not None and windows and not in_a_window(windows, until):
            opening = next_opening(windows, until)
            until = opening[0] if opening else None
        return PromotionBlock(
            "Frozen", f"promotion frozen {frozen_until(freeze)}: {freeze.reason}", until
        )
    if windows and not in_a_window(windows, now):
        opening = next_opening(windows, now)
        if opening is None:
            return PromotionBlock("OutsideWindow", "outside every promotion window", None)
        return PromotionBlock(
            "OutsideWindow",
            f"outside the promotion windows; next window {describe_opening(*opening)}",
            opening[0],
        )
    return None
