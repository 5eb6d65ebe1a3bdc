"""A leader that lost its Lease writes nothing more, even what it decided while it led: the
fence refuses the write before it leaves the process, so it never reaches the apiserver.
Writes of worker scale carry what they were decided on, so one that arrives late (from a
former leader, or over a person's change) is refused by the apiserver instead of overwriting."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client

from ramp.api import RolloutSpec
from ramp.engine.effects import WorkerTarget
from ramp.k8s.clients import Clients, NotLeading, WriteFence, bound_requests, load_clients
from ramp.k8s.lease import LeaseLock
from ramp.k8s.restarts import REVISION_ANNOTATION, restart_consumers
from ramp.k8s.workers import WorkersMoved, observe_workers, scale_workers
from ramp.runtime.leadership import LeaderElection
from ramp.runtime.settings import LeaderElectionSettings
from tests.support.cluster import Cluster
from tests.support.eventually import eventually_async
from tests.support.rollouts import rollout_manifest
from tests.support.workloads import deployment, hpa

pytestmark = pytest.mark.cluster

LEASE = "fenced"
DURATION = 3.0


def seize_lease(cluster: Cluster, namespace: str, intruder: str) -> None:
    """Another candidate takes the Lease (as one would once the holder's renewals stopped
    reaching the apiserver): the holder's next renewal finds it held and fails."""
    api = client.CoordinationV1Api(cluster.api)
    lease = api.read_namespaced_lease(LEASE, namespace)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    spec = {"holderIdentity": intruder, "renewTime": now, "leaseDurationSeconds": 60}
    body = {"metadata": {"resourceVersion": lease.metadata.resource_version}, "spec": spec}
    api.patch_namespaced_lease(LEASE, namespace, body)


def flag(cluster: Cluster, namespace: str) -> client.V1ConfigMap:
    return cluster.core.read_namespaced_config_map("flag", namespace)


async def test_a_write_decided_while_leading_is_refused_once_the_lease_is_lost(
    cluster: Cluster, namespace: str
) -> None:
    cluster.core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "flag"}, "data": {"PERCENTAGE": "10"}}
    )
    fence = WriteFence()
    writer = load_clients(cluster.kubeconfig)  # what the reconciles write with
    bound_requests(writer.api, 5.0, fence)
    lock = LeaseLock(load_clients(cluster.kubeconfig), namespace, LEASE, "former-leader")
    stopped = asyncio.Event()

    async def started() -> None:
        pass

    async def stop() -> None:
        stopped.set()

    timing = LeaderElectionSettings.scaled(namespace, LEASE, DURATION)
    election = LeaderElection(lock, timing, started=started, stopped=stop, fence=fence)
    campaign = asyncio.create_task(election.run())
    try:
        await eventually_async(
            lambda: asyncio.sleep(0, election.leading), timeout=10, what="the candidate to lead"
        )

        def publish(percentage: str) -> Any:
            patch = {"data": {"PERCENTAGE": percentage}}
            return writer.core.patch_namespaced_config_map("flag", namespace, patch)

        await asyncio.to_thread(publish, "25")  # while it leads, its writes land
        # A reconcile decided while leading, its write still to come (a slow query, a thread
        # that a cancelled loop cannot stop).
        go = threading.Event()

        def in_flight() -> Any:
            go.wait(timeout=30)
            return publish("50")

        pending = asyncio.create_task(asyncio.to_thread(in_flight))
        seize_lease(cluster, namespace, "new-leader")
        await asyncio.wait_for(stopped.wait(), timeout=2 * DURATION)
        before = flag(cluster, namespace).metadata.resource_version
        go.set()
        with pytest.raises(NotLeading):
            await pending
        with pytest.raises(NotLeading):
            await asyncio.to_thread(publish, "100")
        after = flag(cluster, namespace)
        assert after.metadata.resource_version == before, "a former leader's write landed"
        assert after.data == {"PERCENTAGE": "25"}
    finally:
        go.set()
        campaign.cancel()
        await asyncio.gather(campaign, return_exceptions=True)


def worker_spec(worker: dict[str, str]) -> RolloutSpec:
    phases = [{"name": "canary", "percentage": 10, "workers": {"replicas": 3}}]
    return RolloutSpec.model_validate(rollout_manifest("r", phases, workers=[worker])["spec"])


def test_worker_replicas_decided_on_a_stale_read_are_refused_not_written(
    cluster: Cluster, namespace: str
) -> None:
    deployment(cluster, namespace, "celery-worker", replicas=2)
    clients = load_clients(cluster.kubeconfig)
    spec = worker_spec({"deployment": "celery-worker"})
    seen = observe_workers(clients, namespace, spec)
    # Someone else scales it meanwhile (a newer leader, a person): the decision is stale.
    cluster.apps.patch_namespaced_deployment_scale(
        "celery-worker", namespace, {"spec": {"replicas": 4}}
    )
    written = cluster.apps.read_namespaced_deployment("celery-worker", namespace)
    targets = {"celery-worker": WorkerTarget(replicas=3)}
    with pytest.raises(WorkersMoved):
        scale_workers(clients, namespace, spec, targets, seen)
    now = cluster.apps.read_namespaced_deployment("celery-worker", namespace)
    assert now.spec.replicas == 4, "a stale scale overwrote a newer one"
    assert now.metadata.generation == written.metadata.generation, "its spec was written"
    # Observed again, the same target is written.
    scale_workers(clients, namespace, spec, targets, observe_workers(clients, namespace, spec))
    assert cluster.apps.read_namespaced_deployment("celery-worker", namespace).spec.replicas == 3


def test_hpa_bounds_decided_on_a_stale_read_are_refused_not_written(
    cluster: Cluster, namespace: str
) -> None:
    deployment(cluster, namespace, "celery-worker", replicas=2)
    hpa(cluster, namespace, "celery-worker", "celery-worker", 2, 5)
    clients = load_clients(cluster.kubeconfig)
    spec = worker_spec({"deployment": "celery-worker", "hpa": "celery-worker"})
    seen = observe_workers(clients, namespace, spec)
    autoscaling = client.AutoscalingV2Api(cluster.api)
    patch = {"spec": {"minReplicas": 4, "maxReplicas": 8}}
    autoscaling.patch_namespaced_horizontal_pod_autoscaler("celery-worker", namespace, patch)
    targets = {"celery-worker": WorkerTarget(min_replicas=3, max_replicas=6)}
    with pytest.raises(WorkersMoved):
        scale_workers(clients, namespace, spec, targets, seen)
    now = autoscaling.read_namespaced_horizontal_pod_autoscaler("celery-worker", namespace)
    assert (now.spec.min_replicas, now.spec.max_replicas) == (4, 8)


class StampedMeanwhile:
    """The apps API, except that right after Ramp reads the workload another writer (a newer
    leader) stamps it with the same revision, before Ramp's patch arrives."""

    def __init__(self, cluster: Cluster, clients: Clients, revision: str) -> None:
        self.cluster, self.real, self.revision = cluster, clients.apps, revision
        self.reads = 0

    def read_namespaced_deployment(self, name: str, namespace: str) -> Any:
        read = self.real.read_namespaced_deployment(name, namespace)
        self.reads += 1
        if self.reads == 1:
            stamp = {REVISION_ANNOTATION: self.revision}
            body = {"spec": {"template": {"metadata": {"annotations": stamp}}}}
            self.cluster.apps.patch_namespaced_deployment(name, namespace, body)
        return read

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_restart_another_writer_made_after_the_read_is_not_made_again(
    cluster: Cluster, namespace: str
) -> None:
    deployment(cluster, namespace, "backend")
    phases = [{"name": "canary", "percentage": 10}]
    flag = {"key": "r", "configMap": "r-flag", "restartOnChange": [{"name": "backend"}]}
    spec = RolloutSpec.model_validate(rollout_manifest("r", phases, flag=flag)["spec"])
    apps = StampedMeanwhile(cluster, load_clients(cluster.kubeconfig), "rev-1")

    @dataclass(frozen=True)
    class Interleaved(Clients):
        @property
        def apps(self) -> Any:
            return apps

    restarted, missing = restart_consumers(
        Interleaved(load_clients(cluster.kubeconfig).api), namespace, spec, "rev-1"
    )
    assert (restarted, missing) == ([], []), "a restart decided on a stale read was made"
    assert apps.reads == 2, "the workload was not read again after its patch was refused"


def test_an_invalid_scale_is_reported_as_the_apiservers_error_not_as_a_change(
    cluster: Cluster, namespace: str
) -> None:
    """A failed `test` and an invalid value are both 422: only a value that really moved is
    told as WorkersMoved, so an invalid target is not decided again and again."""
    deployment(cluster, namespace, "celery-worker", replicas=2)
    hpa(cluster, namespace, "celery-worker", "celery-worker", 2, 5)
    clients = load_clients(cluster.kubeconfig)
    spec = worker_spec({"deployment": "celery-worker", "hpa": "celery-worker"})
    targets = {"celery-worker": WorkerTarget(min_replicas=9, max_replicas=6)}
    with pytest.raises(client.ApiException) as refused:
        scale_workers(clients, namespace, spec, targets, observe_workers(clients, namespace, spec))
    assert refused.value.status == 422
