"""Worker Deployments and HPAs: observe their scale, set it per phase, put it back.

Only `spec.replicas` of a Deployment and `spec.minReplicas`/`spec.maxReplicas` of an HPA are
ever written; with an HPA present the Deployment's replicas are left to the HPA.

Each write is a JSON patch that first tests every field it sets for the value the decision saw:
when someone changed it meanwhile (a person, an autoscaler, or a former leader's late write, or
this one's reaching the apiserver after a new leader's), the apiserver refuses the whole patch
and the scale is observed and decided again, never overwritten blindly. Only the fields written
are tested: an HPA's or Deployment's status, which their controllers update all the time, does
not make the write conflict (a resourceVersion precondition would).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from kubernetes import client

from ramp import telemetry
from ramp.api import RolloutSpec
from ramp.engine import worker_key
from ramp.engine.effects import WorkerTarget
from ramp.engine.observations import WorkerObservation
from ramp.k8s.clients import Clients, is_not_found


def observe_workers(
    clients: Clients, namespace: str, spec: RolloutSpec
) -> dict[str, WorkerObservation]:
    seen: dict[str, WorkerObservation] = {}
    for worker in spec.workers or []:
        missing: list[str] = []
        replicas = min_replicas = max_replicas = None
        if worker.deployment:
            try:
                deployment = clients.apps.read_namespaced_deployment(worker.deployment, namespace)
                replicas = deployment.spec.replicas
            except client.ApiException as e:
                if not is_not_found(e):
                    raise
                missing.append(f"Deployment/{worker.deployment}")
        if worker.hpa:
            try:
                hpa = clients.autoscaling.read_namespaced_horizontal_pod_autoscaler(
                    worker.hpa, namespace
                )
                min_replicas, max_replicas = hpa.spec.min_replicas, hpa.spec.max_replicas
            except client.ApiException as e:
                if not is_not_found(e):
                    raise
                missing.append(f"HorizontalPodAutoscaler/{worker.hpa}")
        seen[worker_key(worker)] = WorkerObservation(
            replicas=replicas,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            missing=tuple(missing),
        )
    return seen


Changes = Mapping[str, tuple[int | None, int]]
"""``{JSON pointer: (value seen, target)}`` of one object's scale fields."""

Reread = Callable[[], Mapping[str, int | None]]
"""The current values of an object's scale fields, by JSON pointer."""


class WorkersMoved(Exception):
    """A worker's scale changed between observing and patching it: observe and decide again."""


def guarded_patch(changes: Changes) -> list[dict[str, Any]]:
    """The JSON patch (RFC 6902) that sets each path to its target, testing first that it still
    holds the value seen (a field seen absent is added)."""
    patch: list[dict[str, Any]] = []
    for path, (seen, target) in changes.items():
        if seen is None:
            patch.append({"op": "add", "path": path, "value": target})
        else:
            patch.append({"op": "test", "path": path, "value": seen})
            patch.append({"op": "replace", "path": path, "value": target})
    return patch


def _patch(what: str, changes: Changes, send: Callable[[Any], Any], read: Reread) -> None:
    """Send the guarded patch of ``changes``; raise WorkersMoved when it was refused because a
    value is no longer the one seen. A failed `test` is a 422 Invalid like an invalid value, and
    says no more, so the object is read again to tell them apart."""
    try:
        send(guarded_patch(changes))
    except client.ApiException as e:
        if e.status == 409 or (
            e.status == 422 and any(read().get(path) != seen for path, (seen, _) in changes.items())
        ):
            raise WorkersMoved(f"{what} changed since it was observed") from e
        raise


def scale_workers(
    clients: Clients,
    namespace: str,
    spec: RolloutSpec,
    targets: Mapping[str, WorkerTarget],
    seen: Mapping[str, WorkerObservation],
) -> None:
    """Patch each worker whose scale differs from its target, over the scale ``seen``.
    Raises WorkersMoved when a worker's scale is no longer what ``seen`` says."""
    for worker in spec.workers or []:
        key = worker_key(worker)
        target, now = targets.get(key), seen.get(key)
        if target is None or now is None or now.missing:
            continue
        if worker.hpa:
            hpa: dict[str, tuple[int | None, int]] = {}
            if target.min_replicas is not None and target.min_replicas != now.min_replicas:
                hpa["/spec/minReplicas"] = (now.min_replicas, target.min_replicas)
            if target.max_replicas is not None and target.max_replicas != now.max_replicas:
                hpa["/spec/maxReplicas"] = (now.max_replicas, target.max_replicas)
            if hpa:
                patch_hpa = clients.autoscaling.patch_namespaced_horizontal_pod_autoscaler
                _patch(
                    f"HorizontalPodAutoscaler {namespace}/{worker.hpa}",
                    hpa,
                    partial(patch_hpa, worker.hpa, namespace),
                    partial(_hpa_scale, clients, worker.hpa, namespace),
                )
                telemetry.writes.labels("HorizontalPodAutoscaler").inc()
        replicas = target.replicas
        if worker.deployment and replicas is not None and replicas != now.replicas:
            patch_scale = clients.apps.patch_namespaced_deployment_scale
            _patch(
                f"Deployment {namespace}/{worker.deployment}",
                {"/spec/replicas": (now.replicas, replicas)},
                partial(patch_scale, worker.deployment, namespace),
                partial(_deployment_scale, clients, worker.deployment, namespace),
            )
            telemetry.writes.labels("Deployment").inc()


def _hpa_scale(clients: Clients, name: str, namespace: str) -> dict[str, int | None]:
    hpa = clients.autoscaling.read_namespaced_horizontal_pod_autoscaler(name, namespace)
    return {"/spec/minReplicas": hpa.spec.min_replicas, "/spec/maxReplicas": hpa.spec.max_replicas}


def _deployment_scale(clients: Clients, name: str, namespace: str) -> dict[str, int | None]:
    scale = clients.apps.read_namespaced_deployment_scale(name, namespace)
    return {"/spec/replicas": scale.spec.replicas if scale.spec else None}
