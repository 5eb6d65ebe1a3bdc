"""Where :mod:`ramp.flags` meets ``prometheus-client``, an optional dependency.

``ramp-flags`` decides with the standard library and ``mmh3`` alone; only the helpers that
export metrics (:mod:`ramp.flags.served`, :mod:`ramp.flags.dual_run`) need
``prometheus-client``, and import it when they are first used, never when ``ramp.flags`` is
imported. Without it they raise :class:`ImportError` saying what to install.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

_T = TypeVar("_T")

MISSING = (
    "{what} exports Prometheus metrics and needs prometheus-client: "
    "pip install 'ramp-flags[prometheus]' (or pip install prometheus-client)"
)


def require_prometheus(what: str) -> Any:
    """The ``prometheus_client`` module; ImportError naming ``what`` and the extra if missing."""
    try:
        import prometheus_client
        import prometheus_client.core  # GaugeMetricFamily, for collectors
    except ImportError as e:
        raise ImportError(MISSING.format(what=what)) from e
    return prometheus_client


def default_registry(what: str) -> CollectorRegistry:
    """``prometheus_client.REGISTRY``, the one ``start_http_server`` and ``generate_latest``
    serve by default."""
    registry: CollectorRegistry = require_prometheus(what).REGISTRY
    return registry


class PerRegistry:
    """One object per registry, made on first use: a metric may be registered once per
    registry, and every helper for the same registry must share it."""

    def __init__(self) -> None:
        self._made: weakref.WeakKeyDictionary[CollectorRegistry, Any] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, registry: CollectorRegistry, make: Callable[[CollectorRegistry], _T]) -> _T:
        with self._lock:
            made = self._made.get(registry)
            if made is None:
                made = self._made[registry] = make(registry)
            return made


__all__ = ["MISSING", "PerRegistry", "default_registry", "require_prometheus"]
