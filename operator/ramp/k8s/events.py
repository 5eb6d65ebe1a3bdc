"""Kubernetes Events on a Rollout, as `kubectl describe rollout` shows them."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

from ramp import telemetry
from ramp.api import GROUP, KIND, VERSION
from ramp.k8s.clients import Clients

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
) -> None:
    event = build_event(rollout, type_, reason, message, component, datetime.now(UTC))
    namespace = rollout["metadata"]["namespace"]
    clients.core.create_namespaced_event(namespace, event)  # type: ignore[arg-type]
    telemetry.writes.labels("Event").inc()
