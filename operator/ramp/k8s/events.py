"""Kubernetes Events on a Rollout, as `kubectl describe rollout` shows them."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from ramp import telemetry
from ramp.api import GROUP, KIND, VERSION
from ramp.k8s.clients import Clients

logger = logging.getLogger("ramp.events")

MAX_MESSAGE = 1024


def build_event(
    rollout: dict[str, Any], type_: str, reason: str, message: str, component: str, now: datetime
) -> dict[str, Any]:
    meta = rollout["metadata"]
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
        },
        "type": type_,
        "reason": reason,
        "message": message[:MAX_MESSAGE],
        "source": {"component": component},
        "reportingComponent": f"{GROUP}/{component}",
        "reportingInstance": socket.gethostname(),
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def record_event(
    clients: Clients,
    rollout: dict[str, Any],
    type_: str,
    reason: str,
    message: str,
    component: str = "ramp-operator",
) -> bool:
    """Record an Event; False when the API refused it (logged, never raised).

    Events announce what status already holds (status.history), so a lost one loses nothing,
    and it must not stop a reconcile, e.g. in a namespace that is being deleted.
    """
    event = build_event(rollout, type_, reason, message, component, datetime.now(UTC))
    namespace = rollout["metadata"]["namespace"]
    try:
        clients.core.create_namespaced_event(namespace, event)  # type: ignore[arg-type]
    except client.ApiException as e:
        logger.warning(
            "Event %s on %s/%s not recorded: %s",
            reason,
            namespace,
            rollout["metadata"]["name"],
            e.reason,
        )
        return False
    telemetry.writes.labels("Event").inc()
    return True
