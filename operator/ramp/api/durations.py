"""Go-style duration strings (`90s`, `5m`, `1h30m`), as Kubernetes users write them."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

from ramp.api.base import Rule

DURATION_PATTERN = r"^([0-9]+([.][0-9]+)?(ms|s|m|h))+$"
"""What admission accepts (a CEL rule, so the message is ours, not the pattern); the same
grammar `parse_duration` reads. `[.]`, not `\\.`: the same text is a CEL string literal."""

DURATION_HINT = "write it like 90s, 5m, 1h30m or 500ms; days are not a unit: use hours, e.g. 24h"
"""What to do about a text that is not a duration (`1d`, `1 hour`)."""

_DURATION = re.compile(DURATION_PATTERN)


def is_a_duration(text: str) -> bool:
    return _DURATION.fullmatch(text) is not None


IS_A_DURATION = Rule(
    f"self.matches('{DURATION_PATTERN}')", f"not a duration; {DURATION_HINT}", is_a_duration
)
"""The admission rule of every duration field (see ramp.api.base)."""
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@lru_cache(maxsize=1024)  # every analysis reads its spec's few durations again
def parse_duration(text: str) -> timedelta:
    """`1h30m` -> 90 minutes. Raises ValueError naming the text when it is not a duration."""
    if not isinstance(text, str) or not _DURATION.fullmatch(text):
        raise ValueError(f"{text!r} is not a duration; {DURATION_HINT}")
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta | float, units: int = 3) -> str:
    """The one human form of a time span (seconds or a timedelta), in the units a spec's
    durations take: `1h2m`, `42m`, `7s`; a negative span is `0s`. `units` keeps only that many
    of hours, minutes and seconds from the largest one present (`units=2`: `3h7m`, not
    `3h7m12s`), for an age or a countdown."""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else delta
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, seconds_left = divmod(rest, 60)
    values = [(hours, "h"), (minutes, "m"), (seconds_left, "s")]
    while len(values) > 1 and values[0][0] == 0:
        values.pop(0)
    parts = [f"{value}{unit}" for value, unit in values[:units] if value]
    return "".join(parts) or "0s"
