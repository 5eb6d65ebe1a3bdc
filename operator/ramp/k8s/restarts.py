"""Rolling restarts of workloads that read the flag from env only when they start."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from ramp import telemetry
from ramp.api import RolloutSpec
from ramp.k8s.clients import Clients, is_conflict, is_not_found

REVISION_ANNOTATION = "ramp.dev/flag-revision"
"""Pod-template annotation holding the digest of the env values the pods were started with."""

READS_PER_WORKLOAD = 3
"""Reads of one workload before a restart gives up on it changing under each patch (its
controller updates its status often); the reconcile then fails and is tried again."""


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
    Each patch carries the resourceVersion it was decided on: a workload changed since it was
    read (a former leader's late stamp included) is read and decided on again, never stamped
    over blindly. Returns (restarted, missing).
    """
    restarted: list[str] = []
    missing: list[str] = []
    for ref in spec.flag.restart_on_change or []:
        read, patch = _api(clients, ref.kind)
        for attempt in range(READS_PER_WORKLOAD):
            try:
                workload = read(ref.name, namespace)
            except client.ApiException as e:
                if not is_not_found(e):
                    raise
                missing.append(f"{ref.kind}/{ref.name}")
                break
            annotations = workload.spec.template.metadata.annotations or {}
            if annotations.get(REVISION_ANNOTATION) == revision:
                break
            body = {
                "metadata": {"resourceVersion": workload.metadata.resource_version},
                "spec": {
                    "template": {"metadata": {"annotations": {REVISION_ANNOTATION: revision}}}
                },
            }
            try:
                patch(ref.name, namespace, body)
            except client.ApiException as e:
                if is_conflict(e) and attempt + 1 < READS_PER_WORKLOAD:
                    continue
                raise
            telemetry.writes.labels(ref.kind).inc()
            restarted.append(f"{ref.kind}/{ref.name}")
            break
    return restarted, missing
