"""flagd flag definitions for one Ramp-managed boolean flag (the ``flags.json`` Ramp publishes).

The flag always has the variants ``on: true`` / ``off: false`` and ``defaultVariant: off``.

- Enabled at P %: ``targeting: {"fractional": [["on", W], ["off", 10000 - W]]}`` with
  ``W = round(P * 100)``. The total weight is always :data:`ON_WEIGHT_TOTAL`, and "on" is listed
  first, so a targeting key's bucket never moves and raising P only adds users: bucket ``b`` is
  on exactly when ``b < W``. 0 % gives ``["on", 0]`` (nobody), 100 % gives ``["off", 0]``
  (everybody with a targeting key).
- Disabled: no ``targeting`` at all, so flagd serves the static default variant "off" to every
  caller, whatever default value the caller passes. (``state: DISABLED`` would not do: flagd then
  returns the *caller's* default value, which may be true.)

The fractional operation carries no bucketing expression on purpose. flagd's shorthand then
buckets on ``[flagKey, targetingKey]``: the canonical CBOR encoding of that two-element array,
hashed with 32-bit murmur3 (seed 0, unsigned), bucket ``(hash * totalWeight) >> 32``. An explicit
``{"cat": [{"var": "$flagd.flagKey"}, {"var": "targetingKey"}]}`` would hash the CBOR of the
*concatenated string* instead (the pre-CBOR flagd behaviour) and so bucket users differently from
every current flagd provider. ``ramp.flags`` mirrors the shorthand exactly. A caller without a
targeting key gets the default variant, "off", even at 100 %.
"""

from __future__ import annotations

import json
import math
from typing import Any

FLAGD_SCHEMA = "https://flagd.dev/schema/v0/flags.json"
ON_WEIGHT_TOTAL = 10000
ON_VARIANT = "on"
OFF_VARIANT = "off"


def on_weight(percentage: float) -> int:
    """Weight of the "on" variant out of :data:`ON_WEIGHT_TOTAL` (percentages have 2 decimals)."""
    if isinstance(percentage, bool) or not isinstance(percentage, int | float):
        raise TypeError(f"percentage must be a number, not {type(percentage).__name__}")
    if not math.isfinite(percentage) or not 0 <= percentage <= 100:
        raise ValueError(f"percentage must be between 0 and 100, got {percentage!r}")
    return round(percentage * ON_WEIGHT_TOTAL / 100)


def build_flag_definition(key: str, enabled: bool, percentage: float) -> dict[str, Any]:
    """The flagd flag-definition document for flag ``key`` at ``percentage`` (0..100)."""
    if not isinstance(key, str) or not key:
        raise ValueError("flag key must be a non-empty string")
    weight = on_weight(percentage)
    flag: dict[str, Any] = {
        "state": "ENABLED",
        "variants": {ON_VARIANT: True, OFF_VARIANT: False},
        "defaultVariant": OFF_VARIANT,
    }
    if enabled:
        flag["targeting"] = {
            "fractional": [[ON_VARIANT, weight], [OFF_VARIANT, ON_WEIGHT_TOTAL - weight]]
        }
    return {"$schema": FLAGD_SCHEMA, "flags": {key: flag}}


def render_flags_json(key: str, enabled: bool, percentage: float) -> str:
    """:func:`build_flag_definition` as deterministic JSON: sorted keys, indent 2, final newline."""
    return (
        json.dumps(build_flag_definition(key, enabled, percentage), sort_keys=True, indent=2) + "\n"
    )


__all__ = [
    "FLAGD_SCHEMA",
    "OFF_VARIANT",
    "ON_VARIANT",
    "ON_WEIGHT_TOTAL",
    "build_flag_definition",
    "on_weight",
    "render_flags_json",
]
