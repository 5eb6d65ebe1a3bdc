"""Strategies for promotion windows and freezes near a test's clock, shared by the engine's
property and model-based tests (where windows and freezes meet every other rule)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from tests.support.engine import T0


@st.composite
def promotion_windows(draw: st.DrawFn, around: datetime = T0) -> list[dict[str, Any]] | None:
    """Short windows near ``around`` (at first T0, a Sunday noon UTC), some across midnight in
    another zone; mostly none."""
    if draw(st.sampled_from((False, False, True))):
        return None
    windows = []
    for _ in range(draw(st.integers(1, 2))):
        zone = draw(st.sampled_from(("UTC", "Europe/Berlin", "Pacific/Kiritimati")))
        opens = around.astimezone(ZoneInfo(zone)) + timedelta(minutes=draw(st.integers(-5, 40)))
        closes = opens + timedelta(minutes=draw(st.sampled_from((2, 5, 15, 60))))
        window: dict[str, Any] = {
            "start": f"{opens:%H:%M}",
            "end": f"{closes:%H:%M}",
            "timeZone": zone,
        }
        if draw(st.booleans()):
            window["days"] = draw(st.sampled_from((["Sun"], ["Mon"], ["Sun", "Mon"])))
        if window["start"] != window["end"]:
            windows.append(window)
    return windows


def freezes(after: datetime) -> st.SearchStrategy[dict[str, Any] | None]:
    """None mostly; else a freeze until a moment near ``after``, or until removed."""
    return st.sampled_from((None, None, None, 0, 3, 10, "removed")).map(
        lambda until: (
            None
            if until is None
            else {"reason": "release train"}
            if until == "removed"
            else {
                "reason": "release train",
                "until": (after + timedelta(minutes=until)).isoformat(),
            }
        )
    )
