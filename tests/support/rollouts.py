"""Small verbs for tests that drive Rollouts on the real cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from typing import Any

import yaml
from kubernetes import client

from tests.support.cluster import Cluster, run_tool
from tests.support.eventually import eventually

GROUP, VERSION, PLURAL = "ramp.dev", "v1alpha1", "rollouts"


def when(stamp: str) -> datetime:
    """A status timestamp (RFC 3339, `Z` suffix) as an aware datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def rollout_manifest(name: str, phases: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    flag = spec.pop("flag", None) or {
        "key": name,
        "configMap": f"{name}-flag",
        "env": {"enabled": "FEATURE_ENABLED", "percentage": "FEATURE_PERCENTAGE"},
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {"flag": flag, "phases": phases, **spec},
    }


def apply(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(manifest))


def get(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = cluster.custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    return obj


def status(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return get(cluster, namespace, name).get("status") or {}


def step_of(cluster: Cluster, namespace: str, name: str) -> tuple[str | None, str | None]:
    """The Rollout's status.phase and status.currentPhase."""
    now = status(cluster, namespace, name)
    return now.get("phase"), now.get("currentPhase")


def settled_at_gate(status: dict[str, Any]) -> bool:
    """Awaiting approval with its publish confirmed and its announcements delivered: nothing
    left to write but analyses."""
    return (
        status.get("phase") == "AwaitingApproval"
        and not status.get("awaitingPublishSince")
        and not status.get("outbox")
    )


def flag_data(cluster: Cluster, namespace: str, configmap: str) -> dict[str, str] | None:
    try:
        cm = cluster.core.read_namespaced_config_map(configmap, namespace)
    except client.ApiException as e:
        if e.status == 404:
            return None
        raise
    return dict(cm.data or {})


def published_percentage(cluster: Cluster, namespace: str, configmap: str) -> str | None:
    data = flag_data(cluster, namespace, configmap)
    return None if data is None else data.get("FEATURE_PERCENTAGE")


def flags_json(cluster: Cluster, namespace: str, configmap: str) -> dict[str, Any] | None:
    data = flag_data(cluster, namespace, configmap)
    return None if data is None or "flags.json" not in data else json.loads(data["flags.json"])


def ramp(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real `ramp` CLI as a user runs it."""
    env = {**os.environ, "KUBECONFIG": cluster.kubeconfig}
    return run_tool([sys.executable, "-m", "ramp"], *args, check=check, env=env)


def events(cluster: Cluster, namespace: str, name: str) -> list[client.CoreV1Event]:
    selector = f"involvedObject.name={name},involvedObject.kind=Rollout"
    return list(cluster.core.list_namespaced_event(namespace, field_selector=selector).items)


def event_reasons(cluster: Cluster, namespace: str, name: str) -> list[str]:
    items = sorted(events(cluster, namespace, name), key=lambda e: e.metadata.creation_timestamp)
    return [e.reason for e in items]


def delivered_event_reasons(
    cluster: Cluster, namespace: str, name: str, timeout: float = 30
) -> list[str]:
    """The Events once every announcement in status.outbox is delivered.

    The operator writes the status first and tells its Events after (I8), so a test that saw a
    phase in status must wait for the outbox to drain before it counts the Events."""
    eventually(
        lambda: not status(cluster, namespace, name).get("outbox"),
        timeout=timeout,
        what=f"the outbox of {name} to drain (every Event delivered)",
    )
    return event_reasons(cluster, namespace, name)


def wait_published(
    cluster: Cluster,
    namespace: str,
    configmap: str,
    percentage: str,
    timeout: float = 10,
    what: str | None = None,
) -> None:
    """Wait for the ConfigMap to publish ``percentage``: it follows status within a reconcile."""
    eventually(
        lambda: published_percentage(cluster, namespace, configmap) == percentage,
        timeout=timeout,
        what=what or f"{configmap} to publish {percentage} %",
    )


def wait_phase(
    cluster: Cluster,
    namespace: str,
    name: str,
    phase: str,
    step: str | None = None,
    timeout: float = 30,
    what: str | None = None,
) -> dict[str, Any]:
    """Wait for the Rollout's status.phase to be ``phase`` (and, given ``step``, its
    status.currentPhase to be that phase of the spec); its status then."""
    where = f" in {step}" if step else ""
    wanted = {"phase": phase} | ({"currentPhase": step} if step else {})
    what = what or f"{name} to be {phase}{where}"
    reached = wait_status(cluster, namespace, name, wanted, timeout=timeout, what=what)
    found: dict[str, Any] = reached["status"]
    return found


def wait_status(
    cluster: Cluster,
    namespace: str,
    name: str,
    wanted: dict[str, Any],
    *,
    timeout: float = 30,
    what: str,
) -> dict[str, Any]:
    """Wait for the Rollout's status to hold every field of ``wanted``; the whole Rollout then."""

    def reached() -> dict[str, Any] | None:
        now = get(cluster, namespace, name)
        held = now.get("status") or {}
        return now if all(held.get(k) == v for k, v in wanted.items()) else None

    return eventually(reached, timeout=timeout, what=what)


def run_to_completion(
    cluster: Cluster, namespace: str, name: str, soak: str, *, timeout: float, what: str
) -> dict[str, Any]:
    """Apply a rollout of a 10 % canary soaked for ``soak``, then everyone, and wait for it to
    complete; its status then."""
    phases = [
        {"name": "canary", "percentage": 10, "duration": soak},
        {"name": "everyone", "percentage": 100},
    ]
    apply(cluster, namespace, rollout_manifest(name, phases))
    return wait_phase(cluster, namespace, name, "Completed", timeout=timeout, what=what)


def command_lands(
    cluster: Cluster, namespace: str, name: str, command: str, phase: str, serves: str
) -> None:
    """`ramp <command> <name>`, then wait for the Rollout to be ``phase`` and its ConfigMap
    (``<name>-flag``) to serve ``serves`` %."""
    ramp(cluster, command, name, "-n", namespace)
    wait_phase(cluster, namespace, name, phase, what=f"{name} to be {phase} after {command}")
    wait_published(
        cluster, namespace, f"{name}-flag", serves, timeout=30, what=f"{serves} % after {command}"
    )
