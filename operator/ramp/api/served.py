"""`spec.analysis.served`: whether the apps' instances serve what Ramp published, from the
gauge `ramp_flag_served_percentage{feature_flag_key}` that `ramp.flags` exports (docs/flags.md),
and what Ramp remembers of it in `status.instances`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field

from ramp.api.base import Rule, SpecModel, StatusModel
from ramp.api.durations import DURATION_PATTERN, IS_A_DURATION, is_a_duration, parse_duration

SERVED_SERIES = "ramp_flag_served_percentage"
"""The gauge each app process exports per flag: the share of users it serves now."""

FLAG_KEY_LABEL = "feature_flag_key"
"""The label naming the flag; Ramp sets its matcher itself."""

MATCHER_LABEL_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
MATCHERS_MESSAGE = (
    "spec.analysis.served.matchers: keys are Prometheus label names (letters, digits and _, "
    f"not starting with a digit) other than {FLAG_KEY_LABEL}, which Ramp matches itself; values "
    'are a label value ("checkout") or ~ and a regular expression ("~checkout-.*")'
)
WITHIN_MAX = "24h"


def _within_bounds(text: str) -> bool:
    if not is_a_duration(text):
        return True  # IS_A_DURATION says what is wrong
    return timedelta(seconds=1) <= parse_duration(text) <= parse_duration(WITHIN_MAX)


WITHIN_BOUNDS = Rule(
    f"!self.matches('{DURATION_PATTERN}') || (duration(self) >= duration('1s')"
    f" && duration(self) <= duration('{WITHIN_MAX}'))",
    f"spec.analysis.served.within must be between 1s and {WITHIN_MAX}",
    _within_bounds,
)


def _labels_allowed(matchers: dict[str, str]) -> bool:
    return all(
        re.fullmatch(MATCHER_LABEL_PATTERN, label) and label != FLAG_KEY_LABEL for label in matchers
    )


MatcherValue = Annotated[str, Field(min_length=1, max_length=256)]


MATCHERS_RULE = Rule(
    f"self.all(k, k.matches('{MATCHER_LABEL_PATTERN}') && k != '{FLAG_KEY_LABEL}')",
    MATCHERS_MESSAGE,
    _labels_allowed,
)


class Served(SpecModel):
    """Check that the apps serve what is published: a phase soaks only once every instance
    reporting `ramp_flag_served_percentage` for this flag serves the published percentage."""

    within: Annotated[str, IS_A_DURATION, WITHIN_BOUNDS] = Field(
        "5m",
        max_length=32,
        description="How long instances may take to serve a published change (Go duration, "
        f"1s to {WITHIN_MAX}); past it Ramp keeps holding, records a Warning Event and "
        "notifies `Warning` subscribers.",
    )
    matchers: Annotated[dict[str, MatcherValue], Field(max_length=10), MATCHERS_RULE] | None = (
        Field(
            None,
            description="Label matchers scoping the series to this Rollout's apps, by label name: "
            'a value matches exactly (namespace: "shop"), a value starting with ~ is a regular '
            'expression (pod: "~checkout-.*"). Ramp adds feature_flag_key itself.',
        )
    )

    @property
    def grace(self) -> timedelta:
        return parse_duration(self.within)

    def selector(self, flag_key: str) -> str:
        """The series queried: `ramp_flag_served_percentage{feature_flag_key="k", ...}`."""
        matchers = [f"{FLAG_KEY_LABEL}={_quote(flag_key)}"]
        for label, value in sorted((self.matchers or {}).items()):
            if value.startswith("~"):
                matchers.append(f"{label}=~{_quote(value[1:])}")
            else:
                matchers.append(f"{label}={_quote(value)}")
        return f"{SERVED_SERIES}{{{', '.join(matchers)}}}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ServedStatus(StatusModel):
    """What the instances served at the last read, for the percentage Ramp publishes now."""

    percentage: float = Field(description="The percentage every instance should serve.")
    since: datetime = Field(description="When Ramp published it.")
    lowered: bool = Field(
        False, description="It is lower than the one before (a rollback, a disable, an abort)."
    )
    instances: int | None = Field(None, description="Instances reporting at the last read.")
    behind: int | None = Field(
        None,
        description="Of those, how many do not serve it (after a decrease: serve more than it).",
    )
    served_at: datetime | None = Field(
        None, description="When every reporting instance first served it."
    )
    overdue: bool = Field(False, description="Not served within spec.analysis.served.within.")
    message: str = Field("", description="What the instances serve, in words.")
