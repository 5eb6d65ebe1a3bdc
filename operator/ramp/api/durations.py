"""Go-style duration strings (`90s`, `5m`, `1h30m`), as Kubernetes users write them."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

DURATION_PATTERN = r"^([0-9]+([.][0-9]+)?(ms|s|m|h))+$"
"""What admission accepts (a CEL rule, so the message is ours, not the pattern); the same
grammar `parse_duration` reads. `[.]`, not `\\.`: the same text is a CEL string literal."""

DURATION_HINT = "write it like 90s, 5m, 1h30m or 500ms; days are not a unit: use hours, e.g. 24h"
"""What to do about a text that is not a duration (`1d`, `1 hour`)."""

_DURATION = re.compile(DURATION_PATTERN)
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@lru_cache(maxsize=1024)  # every analysis reads its spec's few durations again
def parse_duration(text: str) -> timedelta:
    """`1h30m` -> 90 minutes. Raises ValueError naming the text when it is not a duration."""
    if not isinstance(text, str) or not _DURATION.fullmatch(text):
        raise ValueError(f"{text!r} is not a duration; {DURATION_HINT}")
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """A short human form for messages: `1h2m`, `42m`, `7s`."""
    total = max(0, round(delta.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return "".join(parts)
