"""A Rollout deleted and at once created again under the same name (a GitOps replace, `kubectl
replace --force`) is reconciled, every time: the old one is finalized and the new one started.

Every other round the Rollout scales a worker, so its deletion goes through Ramp's finalizer
(restore the worker, then let go): the operator's loop for that name is busy finalizing and
checking that the old object is gone exactly when the new one's ADDED event arrives; a wake-up
lost there would leave the new Rollout without any status."""

from __future__ import annotations

import yaml
from kubernetes import client

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import GROUP, PLURAL, VERSION, get, rollout_manifest

ROUNDS = 8

PHASES = [{"name": "canary", "percentage": 10, "duration": "1h"}]
SCALING = [{**PHASES[0], "workers": {"replicas": 2}}]


def create_worker(cluster: Cluster, namespace: str) -> None:
    labels = {"app": "worker"}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "example.invalid/worker:1"}]},
    }
    spec = {"replicas": 1, "selector": {"matchLabels": labels}, "template": template}
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "worker"}}
    cluster.apps.create_namespaced_deployment(namespace, {**body, "spec": spec})


def create(cluster: Cluster, namespace: str, name: str, scaling: bool = False) -> str:
    if scaling:
        body = rollout_manifest(name, SCALING, workers=[{"deployment": "worker"}])
    else:
        body = rollout_manifest(name, PHASES)
    created = cluster.custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body
    )
    return str(created["metadata"]["uid"])


def gone(cluster: Cluster, namespace: str, name: str) -> bool:
    try:
        get(cluster, namespace, name)
    except client.ApiException as e:
        return e.status == 404
    return False


def started(cluster: Cluster, namespace: str, name: str, uid: str) -> bool:
    rollout = get(cluster, namespace, name)
    if rollout["metadata"]["uid"] != uid:
        return False
    return (rollout.get("status") or {}).get("phase") == "Progressing"


def test_a_rollout_deleted_and_created_again_at_once_is_reconciled_every_time(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    name = "replaced"
    create_worker(cluster, namespace)
    uid = create(cluster, namespace, name, scaling=True)
    eventually(lambda: started(cluster, namespace, name, uid), timeout=30, what="first start")
    for n in range(ROUNDS):
        if n % 2 == 0:  # this one scales the worker
            eventually(
                lambda: get(cluster, namespace, name)["metadata"].get("finalizers"),
                timeout=10,
                what=f"round {n}: the operator's finalizer on the Rollout that scales a worker",
            )
        cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        eventually(
            lambda: gone(cluster, namespace, name),
            timeout=30,
            interval=0.005,  # re-create the moment the old one is gone
            what=f"round {n}: the old Rollout finalized and gone",
        )
        uid = create(cluster, namespace, name, scaling=n % 2 == 1)
        eventually(
            lambda uid=uid: started(cluster, namespace, name, uid),
            timeout=15,
            what=f"round {n}: the re-created Rollout started",
        )


def test_kubectl_replace_force_is_reconciled(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    name = "forced"
    uid = create(cluster, namespace, name)
    eventually(lambda: started(cluster, namespace, name, uid), timeout=30, what="first start")
    manifest = yaml.safe_dump(rollout_manifest(name, PHASES))
    for n in range(3):
        cluster.kubectl("replace", "--force", "-n", namespace, "-f", "-", input=manifest)
        uid = get(cluster, namespace, name)["metadata"]["uid"]
        eventually(
            lambda uid=uid: started(cluster, namespace, name, uid),
            timeout=15,
            what=f"round {n}: the replaced Rollout started",
        )
