"""What a webhook test sends and hears: a transition's body, and each delivery's outcome."""

from __future__ import annotations

import threading
from typing import Any

from ramp.engine.payloads import build_payload


def rolled_back(name: str = "async-reports", namespace: str = "reports") -> dict[str, Any]:
    """The body of a `RolledBack` notification of ``namespace/name``."""
    return build_payload(
        namespace=namespace,
        name=name,
        transition="RolledBack",
        message="error-rate 0.08 is above 0.05 (for 5m)",
        phase="canary",
        percentage=0,
        metric="error-rate",
    )


class Outcomes:
    """An ``on_done`` callback that records what it heard, in order (from any thread)."""

    def __init__(self) -> None:
        self.told: list[bool] = []
        self._lock = threading.Lock()

    def __call__(self, delivered: bool) -> None:
        with self._lock:
            self.told.append(delivered)
