"""A promotion window is read from the wall clock of its zone: across midnight, on the days it
starts on, and across daylight-saving changes (the clock the test controls)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ramp.api.windows import WEEKDAYS, PromotionWindow
from ramp.engine.windows import (
    describe_opening,
    in_a_window,
    inside,
    next_closing,
    next_opening,
)

BERLIN = "Europe/Berlin"


def window(
    start: str, end: str, days: list[str] | None = None, zone: str = BERLIN
) -> PromotionWindow:
    return PromotionWindow.model_validate(
        {"start": start, "end": end, "timeZone": zone, **({"days": days} if days else {})}
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_window_across_midnight_belongs_to_the_day_it_starts_on() -> None:
    night = window("22:00", "03:00", ["Fri"])  # 2026-01-09 is a Friday; Berlin is UTC+1
    assert inside(night, utc(2026, 1, 9, 21, 0))  # Fri 22:00
    assert inside(night, utc(2026, 1, 10, 1, 59))  # Sat 02:59
    assert not inside(night, utc(2026, 1, 10, 2, 0))  # Sat 03:00
    assert not inside(night, utc(2026, 1, 10, 21, 30))  # Sat 22:30: Saturday is not listed
    assert not inside(night, utc(2026, 1, 9, 1, 0))  # Fri 02:00: Thursday's night is not


def test_the_next_opening_is_said_in_the_windows_own_zone() -> None:
    low_traffic = window("02:00", "05:00", ["Tue"])
    opening, which = next_opening([low_traffic], utc(2026, 1, 9, 12, 0)) or (None, None)
    assert opening == utc(2026, 1, 13, 1, 0)
    assert which is low_traffic
    assert describe_opening(opening, low_traffic) == "Tue 02:00 Europe/Berlin"


def test_spring_forward_shortens_a_window_and_opens_a_skipped_start_at_the_jump() -> None:
    # 2026-03-29: Berlin's clocks go from 02:00 CET to 03:00 CEST at 01:00 UTC.
    night = window("02:00", "05:00", ["Sun"])
    assert not inside(night, utc(2026, 3, 29, 0, 59))  # 01:59 CET
    assert inside(night, utc(2026, 3, 29, 1, 0))  # 03:00 CEST
    assert inside(night, utc(2026, 3, 29, 2, 59))  # 04:59 CEST
    assert not inside(night, utc(2026, 3, 29, 3, 0))  # 05:00 CEST: two hours of wall clock
    skipped = window("02:30", "04:00", ["Sun"])
    assert next_opening([skipped], utc(2026, 3, 28, 12, 0)) == (utc(2026, 3, 29, 1, 0), skipped)


def test_fall_back_lengthens_a_window_by_the_repeated_hour() -> None:
    # 2026-10-25: Berlin's clocks go from 03:00 CEST back to 02:00 CET at 01:00 UTC.
    night = window("02:00", "04:00", ["Sun"])
    opening = next_opening([night], utc(2026, 10, 24, 12, 0))
    assert opening == (utc(2026, 10, 25, 0, 0), night)  # 02:00 CEST, the first 02:00
    assert inside(night, utc(2026, 10, 25, 1, 30))  # 02:30 CET, the second time round
    assert inside(night, utc(2026, 10, 25, 2, 59))  # 03:59 CET
    assert not inside(night, utc(2026, 10, 25, 3, 0))  # three hours after it opened
    short = window("02:00", "02:30", ["Sun"])
    # Out at 02:45 CEST, and in again when the clock shows 02:00 a second time.
    assert not inside(short, utc(2026, 10, 25, 0, 45))
    assert next_opening([short], utc(2026, 10, 25, 0, 45)) == (utc(2026, 10, 25, 1, 0), short)


def test_a_whole_day_window() -> None:
    day = window("00:00", "24:00", ["Wed"], zone="UTC")
    assert inside(day, utc(2026, 1, 7, 0, 0)) and inside(day, utc(2026, 1, 7, 23, 59))
    assert not inside(day, utc(2026, 1, 8, 0, 0))


ZONES = ("UTC", BERLIN, "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu")
"""A fixed offset, two usual DST rules, a half-hour DST shift, and a 45-minute offset."""

clocks = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from((0, 15, 30, 45, 59))
)
windows = st.builds(
    lambda times, days, zone: window(*times, days, zone),
    st.tuples(clocks, clocks).filter(lambda t: t[0] != t[1]),
    st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True),
    st.sampled_from(ZONES),
)
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(st.lists(windows, min_size=1, max_size=3), instants)
def test_the_next_change_is_the_first_instant_the_windows_say_otherwise(
    rules: list[PromotionWindow], now: datetime
) -> None:
    """Where rules meet (midnight, DST, overlapping windows): scanning every minute agrees
    with the next opening (outside) or the next closing (inside)."""
    inside_now = in_a_window(rules, now)
    if inside_now:
        change = next_closing(rules, now)
        if change is None:  # windows that cover the whole week never close
            assert all(in_a_window(rules, now + timedelta(hours=h)) for h in range(24 * 8))
            return
    else:
        found = next_opening(rules, now)
        assert found is not None, "a weekly window opens within a week"
        change = found[0]
    assert change > now and in_a_window(rules, change) != inside_now
    assert in_a_window(rules, change - timedelta(seconds=1)) == inside_now
    # Every zone's offset is whole minutes: membership is constant within a UTC minute.
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute < change:
        assert in_a_window(rules, minute) == inside_now, f"{minute} differs before {change}"
        minute += timedelta(minutes=1)
