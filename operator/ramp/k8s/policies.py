"""Reading a RolloutPolicy from the API server: only for one the watch has not delivered (an
operator that just started may reconcile a Rollout before the policy's first event)."""

from __future__ import annotations

from typing import Any, cast

from kubernetes import client

from ramp.api import GROUP, VERSION
from ramp.api.rollout_policy import POLICY_PLURAL
from ramp.k8s.clients import Clients, is_not_found


def read_policy(clients: Clients, namespace: str, name: str) -> dict[str, Any] | None:
    """The policy's body; None when it does not exist."""
    try:
        body = clients.custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, POLICY_PLURAL, name
        )
    except client.ApiException as e:
        if is_not_found(e):
            return None
        raise
    return cast(dict[str, Any], body)
