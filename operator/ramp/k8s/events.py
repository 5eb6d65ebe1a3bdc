"""Kubernetes Events on a Rollout, as `kubectl describe rollout` shows them."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from ramp import telemetry
from ramp.api import GROUP, KIND, VERSION
from ramp.api.status import Announcement
from ramp.k8s.clients import Clients

logger = logging.getLogger("ramp.events")

MAX_MESSAGE = 1024


def build_event(
    rollout: dict[str, Any],
    type_: str,
    reason: str,
    message: str,
    component: str,
    now: datetime,
    name: str | None = None,
) -> dict[str, Any]:
    meta = rollout["metadata"]
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    named = {"name": name} if name else {"generateName": f"{meta['name']}."}
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {**named, "namespace": meta["namespace"]},
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


def announcement_event_name(rollout: dict[str, Any], seq: int) -> str:
    """One name per announcement of one Rollout: the API refuses a second Event of that name,
    so an announcement told again after a crash is not recorded twice."""
    meta = rollout["metadata"]
    return f"{meta['name']}.ramp-{str(meta.get('uid', ''))[:8]}-{seq}"


def deliver_event(
    clients: Clients,
    rollout: dict[str, Any],
    announcement: Announcement,
    component: str = "ramp-operator",
) -> bool:
    """Record an announcement's Event; True once it is settled: created, there already, or
    refused for good (logged: status.history holds the transition anyway). False when the API
    could not answer and it is worth trying again."""
    name = announcement_event_name(rollout, announcement.seq)
    event = build_event(
        rollout,
        announcement.type,
        announcement.reason,
        announcement.message,
        component,
        announcement.time,
        name=name,
    )
    namespace = rollout["metadata"]["namespace"]
    try:
        clients.core.create_namespaced_event(namespace, event)  # type: ignore[arg-type]
    except client.ApiException as e:
        if e.status == 409:
            return True  # recorded before a restart: told once
        if e.status is not None and 400 <= e.status < 500 and e.status != 429:
            logger.warning(
                "Event %s on %s/%s not recorded: %s",
                announcement.reason,
                namespace,
                rollout["metadata"]["name"],
                e.reason,
            )
            return True
        return False
    except OSError:  # the API server is unreachable: try again later
        return False
    telemetry.writes.labels("Event").inc()
    return True
