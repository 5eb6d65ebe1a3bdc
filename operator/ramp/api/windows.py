"""When a rollout may promote: promotion windows and freezes, as a Rollout or a RolloutPolicy
writes them. They hold promotion only (engine/windows.py); soak, analysis and rollback go on."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, Field

from ramp.api.base import Rule, SpecModel, cel, validations

Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEKDAYS: tuple[Weekday, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

START_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
END_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
ZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$"

ZONE_MESSAGE = "must be an IANA time zone, such as Europe/Berlin, America/New_York or UTC"
SAME_TIMES = (
    "a promotion window's start and end must differ (end before start spans midnight; "
    "00:00 to 24:00 is the whole day)"
)


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` from the standard library's tz database (the image ships tzdata)."""
    return ZoneInfo(name)


def _known_zone(name: str) -> str:
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"{name!r} {ZONE_MESSAGE}") from e
    return name


def minutes(clock: str) -> int:
    """Minutes past midnight of an "HH:MM" (24:00 is 1440)."""
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


class PromotionWindow(SpecModel):
    """A weekly stretch of local time in which promotions may happen, e.g. 02:00 to 05:00
    Europe/Berlin on weekdays. A window whose end is before its start spans midnight; `days`
    are the days it starts on. Local time is read from the wall clock of `timeZone`: on the
    night clocks go forward a window loses the skipped hour, on the night they go back it gains
    the repeated one."""

    days: list[Weekday] | None = Field(
        None,
        min_length=1,
        max_length=7,
        description="Days the window starts on (Mon, Tue, Wed, Thu, Fri, Sat, Sun); every day "
        "when absent.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    start: str = Field(
        pattern=START_PATTERN,
        max_length=5,
        description='Local time the window opens, "HH:MM" (24-hour clock).',
    )
    end: str = Field(
        pattern=END_PATTERN,
        max_length=5,
        description='Local time the window closes, "HH:MM" or "24:00"; earlier than start: the '
        "next day.",
    )
    time_zone: Annotated[str, AfterValidator(_known_zone)] = Field(
        "UTC",
        max_length=64,
        description="IANA time zone of start and end (e.g. Europe/Berlin); default UTC.",
        json_schema_extra=validations(
            cel(f"self.matches('{ZONE_PATTERN}')", f"timeZone {ZONE_MESSAGE}")
        ),
    )

    rules = (Rule("self.start != self.end", SAME_TIMES, lambda w: w.start != w.end),)

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.time_zone)

    @property
    def opens(self) -> int:
        return minutes(self.start)

    @property
    def closes(self) -> int:
        return minutes(self.end)


class Freeze(SpecModel):
    """No promotion until `until` (or until the freeze is removed), with the reason people see.
    Analysis and rollbacks go on; `ramp promote --override-freeze` promotes anyway and is
    recorded in status.history."""

    reason: str = Field(
        min_length=1,
        max_length=512,
        description='Why promotion is frozen, shown in status and refusals (e.g. "Black Friday").',
    )
    until: AwareDatetime | None = Field(
        None,
        description="RFC 3339 time the freeze ends (e.g. 2026-12-27T00:00:00Z); absent: until "
        "the freeze is removed.",
    )

    def holds_at(self, now: datetime) -> bool:
        return self.until is None or now < self.until
