"""Labels, owner references and the finalizer Ramp puts on what it creates or changes."""

from __future__ import annotations

from typing import Any

from ramp.api import GROUP, KIND, VERSION

MANAGED_BY = "ramp"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ROLLOUT_LABEL = "ramp.dev/rollout"
FINALIZER = "ramp.dev/restore-workers"
"""Present only while Ramp holds worker scale it must put back when the Rollout is deleted."""


def rollout_labels(name: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY, ROLLOUT_LABEL: name}


def owner_reference(rollout: dict[str, Any]) -> dict[str, Any]:
    meta = rollout["metadata"]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
    }
