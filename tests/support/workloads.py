"""Deployments and HPAs for rollouts to scale and restart, created on the real apiserver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client

from tests.support.cluster import Cluster
from tests.support.eventually import eventually


def deployment(cluster: Cluster, namespace: str, name: str, replicas: int = 1) -> None:
    labels = {"app": name}
    cluster.apps.create_namespaced_deployment(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "example.invalid/app:1"}]},
                },
            },
        },
    )


def hpa(cluster: Cluster, namespace: str, name: str, target: str, low: int, high: int) -> None:
    body: dict[str, Any] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ],
        },
    }
    client.AutoscalingV2Api(cluster.api).create_namespaced_horizontal_pod_autoscaler(
        namespace, body
    )


def replicas(cluster: Cluster, namespace: str, name: str) -> int:
    return int(cluster.apps.read_namespaced_deployment(name, namespace).spec.replicas)


def hpa_bounds(cluster: Cluster, namespace: str, name: str) -> tuple[int, int]:
    h = client.AutoscalingV2Api(cluster.api).read_namespaced_horizontal_pod_autoscaler(
        name, namespace
    )
    return int(h.spec.min_replicas), int(h.spec.max_replicas)


def wait_scaled(
    cluster: Cluster,
    namespace: str,
    *,
    hpas: Mapping[str, tuple[int, int]],
    deployments: Mapping[str, int],
    what: str,
    timeout: float = 30,
) -> None:
    """Until every HPA named has those (min, max) bounds and every Deployment that many
    replicas, all at once."""
    eventually(
        lambda: (
            all(hpa_bounds(cluster, namespace, n) == b for n, b in hpas.items())
            and all(replicas(cluster, namespace, n) == r for n, r in deployments.items())
        ),
        timeout=timeout,
        what=what,
    )


def template_annotations(cluster: Cluster, namespace: str, name: str) -> dict[str, str]:
    d = cluster.apps.read_namespaced_deployment(name, namespace)
    return dict(d.spec.template.metadata.annotations or {})


def generation(cluster: Cluster, namespace: str, name: str) -> int:
    return int(cluster.apps.read_namespaced_deployment(name, namespace).metadata.generation)
