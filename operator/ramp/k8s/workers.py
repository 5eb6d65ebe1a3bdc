"""Worker Deployments and HPAs: observe their scale, set it per phase, put it back.

Only `spec.replicas` of a Deployment and `spec.minReplicas`/`spec.maxReplicas` of an HPA are
ever written; with an HPA present the Deployment's replicas are left to the HPA.
"""

from __future__ import annotations

from collections.abc import Mapping

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


def scale_workers(
    clients: Clients,
    namespace: str,
    spec: RolloutSpec,
    targets: Mapping[str, WorkerTarget],
    seen: Mapping[str, WorkerObservation],
) -> None:
    """Patch each worker whose scale differs from its target."""
    for worker in spec.workers or []:
        key = worker_key(worker)
        target, now = targets.get(key), seen.get(key)
        if target is None or now is None or now.missing:
            continue
        if worker.hpa:
            hpa_patch: dict[str, int] = {}
            if target.min_replicas is not None and target.min_replicas != now.min_replicas:
                hpa_patch["minReplicas"] = target.min_replicas
            if target.max_replicas is not None and target.max_replicas != now.max_replicas:
                hpa_patch["maxReplicas"] = target.max_replicas
            if hpa_patch:
                clients.autoscaling.patch_namespaced_horizontal_pod_autoscaler(
                    worker.hpa, namespace, {"spec": hpa_patch}
                )
                telemetry.writes.labels("HorizontalPodAutoscaler").inc()
        replicas = target.replicas
        if worker.deployment and replicas is not None and replicas != now.replicas:
            clients.apps.patch_namespaced_deployment_scale(
                worker.deployment, namespace, {"spec": {"replicas": replicas}}
            )
            telemetry.writes.labels("Deployment").inc()
