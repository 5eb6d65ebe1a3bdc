"""Adding and removing Ramp's finalizer without touching anybody else's.

A merge patch of `metadata.finalizers` replaces the whole list, so one built from a stale read
drops a finalizer another controller added meanwhile. A JSON patch that tests the exact entry
(or the exact list) first cannot: the API server refuses it (422) when the list moved, and the
caller reads again.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from ramp import telemetry
from ramp.api import GROUP, PLURAL, VERSION
from ramp.k8s.clients import Clients


class FinalizersMoved(Exception):
    """The finalizer list changed between reading and patching; read again and retry."""


def finalizer_patch(current: list[str] | None, finalizer: str, present: bool) -> list[Any]:
    """The JSON patch (RFC 6902) that adds or removes ``finalizer`` in ``current``, guarded by
    a test of what it relies on; empty when nothing is to be done."""
    finalizers = list(current or [])
    if present == (finalizer in finalizers):
        return []
    if present:
        if current is None:
            return [{"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}]
        return [
            {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
            {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer},
        ]
    index = finalizers.index(finalizer)
    path = f"/metadata/finalizers/{index}"
    return [{"op": "test", "path": path, "value": finalizer}, {"op": "remove", "path": path}]


def set_finalizer(
    clients: Clients, namespace: str, name: str, finalizer: str, present: bool
) -> bool:
    """Make ``finalizer`` present or absent on the Rollout, from a fresh read; True when it
    patched. Raises FinalizersMoved when another writer changed the list in between."""
    fresh: dict[str, Any] = clients.get_rollout(namespace, name)
    patch = finalizer_patch(fresh["metadata"].get("finalizers"), finalizer, present)
    if not patch:
        return False
    try:
        clients.custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            patch,
            _content_type="application/json-patch+json",
        )
    except client.ApiException as e:
        if e.status in (409, 422):
            raise FinalizersMoved(f"finalizers of {namespace}/{name} changed meanwhile") from e
        raise
    telemetry.writes.labels("Rollout").inc()
    return True
