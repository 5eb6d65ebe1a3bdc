"""Writing a Rollout's status: only what changed, and only over the version it was decided on."""

from __future__ import annotations

from typing import Any, cast

from ramp import telemetry
from ramp.api import GROUP, PLURAL, VERSION
from ramp.k8s.clients import Clients
from ramp.k8s.patches import merge_patch


def status_patch(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    return merge_patch(current, desired)


def write_status(
    clients: Clients, namespace: str, name: str, resource_version: str, patch: dict[str, Any]
) -> dict[str, Any]:
    """Merge-patch the status subresource; 409 Conflict when the Rollout changed meanwhile.

    The resourceVersion precondition is what keeps a decision from being applied over state
    it did not see (a CLI action or spec edit that arrived while deciding).
    """
    body = {"metadata": {"resourceVersion": resource_version}, "status": patch}
    result = clients.custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        name,
        body,
        _content_type="application/merge-patch+json",
    )
    telemetry.writes.labels("Rollout/status").inc()
    return cast(dict[str, Any], result)
