"""JSON merge patches (RFC 7386) computed from what is and what should be."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch that turns ``current`` into ``desired``; empty when they are equal.

    Keys missing from ``desired`` are removed (null); nested objects are patched key by key;
    lists are replaced whole, as merge patch semantics demand.
    """
    patch: dict[str, Any] = {key: None for key in current.keys() - desired.keys()}
    for key, value in desired.items():
        old = current.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            nested = merge_patch(old, value)
            if nested:
                patch[key] = nested
        elif key not in current or old != value:
            patch[key] = value
    return patch
