"""Count units of work per flag variant, the way Ramp's ``compare`` metrics read them.

Apps label their own outcome counters with the flag and the variant each unit of work got,
using the OpenTelemetry feature-flag attribute names as Prometheus label names:
``feature_flag_key`` and ``feature_flag_result_variant`` (``on`` / ``off``). The labels need
nothing but :meth:`ramp.flags.FlagFile.labels`; :class:`OutcomeCounter` adds "count each unit
once" for work that may be retried, and needs ``prometheus-client``
(``pip install 'ramp-flags[prometheus]'``) only for the counters the app passes in.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Protocol

FLAG_KEY_LABEL = "feature_flag_key"
"""Prometheus label for the flag key (OpenTelemetry ``feature_flag.key``)."""

VARIANT_LABEL = "feature_flag_result_variant"
"""Prometheus label for the variant a unit got (OpenTelemetry ``feature_flag.result.variant``)."""

VARIANT_LABELS = (FLAG_KEY_LABEL, VARIANT_LABEL)
"""The two label names, for ``Counter(name, doc, [*other_labels, *VARIANT_LABELS])``."""


class _Incrementable(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class LabelledCounter(Protocol):
    """What :class:`OutcomeCounter` needs of a ``prometheus_client.Counter``."""

    def labels(self, *args: str, **kwargs: str) -> _Incrementable: ...


def variant_labels(flag_key: str, variant: str) -> dict[str, str]:
    """``{"feature_flag_key": flag_key, "feature_flag_result_variant": variant}``."""
    return {FLAG_KEY_LABEL: flag_key, VARIANT_LABEL: variant}


class OutcomeCounter:
    """Units and failed units per variant, each unit id counted once.

    ``total`` and ``failures`` are counters whose label names include :data:`VARIANT_LABELS`
    (plus any in ``labels``). Call :meth:`record` when a unit reaches its final outcome; a unit
    id seen again (a redelivered message that ran twice) is not counted again. The memory of
    ids is bounded (``remember`` most recent), and per process: count where the outcome is
    final, not on each attempt, and a retry on another worker cannot double count.
    """

    def __init__(
        self,
        total: LabelledCounter,
        failures: LabelledCounter,
        *,
        labels: Mapping[str, str] | None = None,
        remember: int = 100_000,
    ) -> None:
        if remember < 1:
            raise ValueError(f"remember must be at least 1, got {remember}")
        self.total = total
        self.failures = failures
        self.labels = dict(labels or {})
        self.remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, unit_id: str, flag_key: str, variant: str, *, failed: bool) -> bool:
        """Count one finished unit; False (and nothing counted) if ``unit_id`` was counted."""
        with self._lock:
            if unit_id in self._seen:
                self._seen.move_to_end(unit_id)
                return False
            self._seen[unit_id] = None
            if len(self._seen) > self.remember:
                self._seen.popitem(last=False)
        labels = {**self.labels, **variant_labels(flag_key, variant)}
        self.total.labels(**labels).inc()
        if failed:
            self.failures.labels(**labels).inc()
        return True


__all__ = [
    "FLAG_KEY_LABEL",
    "VARIANT_LABEL",
    "VARIANT_LABELS",
    "LabelledCounter",
    "OutcomeCounter",
    "variant_labels",
]
