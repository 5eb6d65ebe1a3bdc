"""What this process serves now: the gauge ``ramp_flag_served_percentage{feature_flag_key}``.

Ramp publishes a percentage in a ConfigMap; an app serves it only once it has read the new
``flags.json``. The gauge says, per flag, the share (0..100) of targeting keys this process
would put in the "on" variant right now, from the ``flags.json`` its :class:`FlagFile` has
loaded: 0 when the flag is disabled, absent, or the file is missing or unreadable (what
:class:`FlagFile` then serves). It is computed when Prometheus scrapes, so it cannot go stale,
and the scrape is also a reload check (at most every ``reload_interval``, as any decision is):
the value is what the next decision uses.

``prometheus-client`` stays optional. :func:`served_percentage` needs nothing; the collector
that :func:`export_served_percentage` registers needs ``prometheus-client``
(``pip install 'ramp-flags[prometheus]'``) and raises ImportError naming it otherwise. An app
that exports metrics another way (OpenTelemetry, StatsD) reports :func:`served_percentage`
under the same name and label (docs/flags.md, "What this instance serves").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ramp.flags.file import FlagFile
from ramp.flags.metrics import FLAG_KEY_LABEL
from ramp.flags.prometheus import PerRegistry, default_registry, require_prometheus

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

SERVED_PERCENTAGE = "ramp_flag_served_percentage"
"""The gauge's name; its one label is ``feature_flag_key``."""

_DOC = (
    "Share (0-100) of targeting keys this process serves the flag's on variant, from the "
    "flags.json it has loaded; 0 when the flag is disabled, absent or the file unreadable."
)


def served_percentage(flags: FlagFile, flag_key: str) -> float:
    """The share (0..100) of targeting keys ``flags`` serves ``flag_key`` to now; 0 when off,
    unknown or unreadable. Percentages from fractional targeting only (see docs/flags.md)."""
    share = flags.percentage(flag_key)
    return 0.0 if share is None else share


class ServedPercentageCollector:
    """A ``prometheus_client`` collector: one ``ramp_flag_served_percentage`` sample per
    exported flag key, computed at each scrape. One per registry, shared by every
    :func:`export_served_percentage` call on it."""

    def __init__(self) -> None:
        self._sources: dict[str, FlagFile] = {}
        self._lock = threading.Lock()

    def add(self, flags: FlagFile, flag_keys: tuple[str, ...]) -> None:
        with self._lock:
            for key in flag_keys:
                other = self._sources.get(key)
                if other is not None and other is not flags:
                    raise ValueError(
                        f"{SERVED_PERCENTAGE}: flag {key!r} is already exported from "
                        f"{other.path}; export each flag key from one FlagFile"
                    )
            for key in flag_keys:
                self._sources[key] = flags

    def describe(self) -> Iterator[Any]:
        # Declared without reading any file: registering must not block on a slow volume.
        yield self._family()

    def collect(self) -> Iterator[Any]:
        family = self._family()
        with self._lock:
            sources = sorted(self._sources.items())
        for key, flags in sources:
            family.add_metric([key], served_percentage(flags, key))
        yield family

    @staticmethod
    def _family() -> Any:
        core = require_prometheus("ramp_flag_served_percentage").core
        return core.GaugeMetricFamily(SERVED_PERCENTAGE, _DOC, labels=[FLAG_KEY_LABEL])


def _register(registry: CollectorRegistry) -> ServedPercentageCollector:
    collector = ServedPercentageCollector()
    registry.register(collector)
    return collector


_collectors = PerRegistry()


def export_served_percentage(
    flags: FlagFile, *flag_keys: str, registry: CollectorRegistry | None = None
) -> ServedPercentageCollector:
    """Export ``ramp_flag_served_percentage`` for each of ``flag_keys`` as ``flags`` serves it.

    Name every flag this process decides with (Ramp checks the flags it rolls out); call once
    per :class:`FlagFile`. ``registry`` defaults to ``prometheus_client.REGISTRY``. A flag key
    may be exported from one FlagFile only (ValueError otherwise); exporting it again from the
    same one is a no-op. Needs ``prometheus-client``.
    """
    if not flag_keys:
        raise ValueError("export_served_percentage: name at least one flag key")
    what = "export_served_percentage"
    collector = _collectors.get(registry or default_registry(what), _register)
    collector.add(flags, flag_keys)
    return collector


__all__ = [
    "SERVED_PERCENTAGE",
    "ServedPercentageCollector",
    "export_served_percentage",
    "served_percentage",
]
