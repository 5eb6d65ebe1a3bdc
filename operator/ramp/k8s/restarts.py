"""Rolling restarts of workloads that read the flag from env only when they start."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from ramp import telemetry
from ramp.api import RolloutSpec
from ramp.k8s.clients import Clients, is_not_found

REVISION_ANNOTATION = "ramp.dev/flag-revision"
"""Pod-template annotation holding the digest of the env values the pods were started with."""


def _api(clients: Clients, kind: str) -> tuple[Any, Any]:
    apps = clients.apps
    readers = {
        "Deployment": (apps.read_namespaced_deployment, apps.patch_namespaced_deployment),
        "StatefulSet": (apps.read_namespaced_stateful_set, apps.patch_namespaced_stateful_set),
        "DaemonSet": (apps.read_namespaced_daemon_set, apps.patch_namespaced_daemon_set),
    }
    return readers[kind]


def restart_consumers(
    clients: Clients, namespace: str, spec: RolloutSpec, revision: str
) -> tuple[list[str], list[str]]:
    """Stamp ``revision`` on each consumer's pod template where it differs.

    Changing the template is what `kubectl rollout restart` does; stamping the revision rather
    than a time makes it idempotent, so each published change restarts a workload once.
    Returns (restarted, missing).
    """
    restarted: list[str] = []
    missing: list[str] = []
    for ref in spec.flag.restart_on_change or []:
        read, patch = _api(clients, ref.kind)
        try:
            workload = read(ref.name, namespace)
        except client.ApiException as e:
            if not is_not_found(e):
                raise
            missing.append(f"{ref.kind}/{ref.name}")
            continue
        annotations = workload.spec.template.metadata.annotations or {}
        if annotations.get(REVISION_ANNOTATION) == revision:
            continue
        body = {
            "spec": {"template": {"metadata": {"annotations": {REVISION_ANNOTATION: revision}}}}
        }
        patch(ref.name, namespace, body)
        telemetry.writes.labels(ref.kind).inc()
        restarted.append(f"{ref.kind}/{ref.name}")
    return restarted, missing
