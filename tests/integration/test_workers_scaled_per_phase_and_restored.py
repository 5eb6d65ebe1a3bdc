"""Workers follow the phases (Deployment replicas, HPA bounds) and get their own values back
when the rollout completes, is rolled back to zero, or is deleted."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import GROUP, PLURAL, VERSION, apply, ramp, rollout_manifest, status
from tests.support.workloads import deployment, hpa, hpa_bounds, replicas, wait_scaled


def track(observe: Callable[[], object], done: Callable[[], bool], timeout: float) -> list[object]:
    """Every distinct value ``observe`` returns until ``done``; fails on timeout."""
    seen: list[object] = []
    deadline = time.monotonic() + timeout
    while not done():
        value = observe()
        if not seen or seen[-1] != value:
            seen.append(value)
        assert time.monotonic() < deadline, f"not done after {timeout}s; saw {seen}"
        time.sleep(0.05)
    return seen


def phase_is(cluster: Cluster, namespace: str, name: str, phase: str) -> Callable[[], bool]:
    return lambda: status(cluster, namespace, name).get("phase") == phase


def test_deployment_replicas_follow_phases_and_return_at_completion(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    deployment(cluster, namespace, "worker", replicas=1)
    phases = [
        {"name": "canary", "percentage": 10, "duration": "3s", "workers": {"replicas": 2}},
        {"name": "half", "percentage": 50, "duration": "3s", "workers": {"replicas": 4}},
        {"name": "everyone", "percentage": 100},
    ]
    apply(cluster, namespace, rollout_manifest("scale", phases, workers=[{"deployment": "worker"}]))

    seen = track(
        lambda: replicas(cluster, namespace, "worker"),
        phase_is(cluster, namespace, "scale", "Completed"),
        timeout=60,
    )
    assert 2 in seen and 4 in seen, seen
    assert seen.index(2) < seen.index(4), seen
    eventually(
        lambda: replicas(cluster, namespace, "worker") == 1,
        timeout=10,
        what="the original 1 replica restored at completion",
    )
    eventually(
        lambda: "workerOriginals" not in status(cluster, namespace, "scale"),
        timeout=10,
        what="status.workerOriginals forgotten once the worker has its scale back",
    )


def test_hpa_bounds_follow_phases_and_return_after_abort(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    deployment(cluster, namespace, "celery", replicas=2)
    hpa(cluster, namespace, "celery", "celery", low=2, high=4)
    phases = [
        {
            "name": "canary",
            "percentage": 10,
            "duration": "1h",
            "workers": {"minReplicas": 3, "maxReplicas": 6},
        },
        {"name": "everyone", "percentage": 100},
    ]
    workers = [{"deployment": "celery", "hpa": "celery"}]
    apply(cluster, namespace, rollout_manifest("celery", phases, workers=workers))
    eventually(
        lambda: hpa_bounds(cluster, namespace, "celery") == (3, 6),
        timeout=30,
        what="the HPA at minReplicas 3, maxReplicas 6 for the canary",
    )
    originals = status(cluster, namespace, "celery")["workerOriginals"]
    assert originals["celery"]["minReplicas"] == 2, originals
    assert originals["celery"]["maxReplicas"] == 4, originals

    ramp(cluster, "abort", "celery", "-n", namespace)
    eventually(
        lambda: hpa_bounds(cluster, namespace, "celery") == (2, 4),
        timeout=30,
        what="the HPA's own bounds (2, 4) back after the rollback to zero",
    )
    eventually(phase_is(cluster, namespace, "celery", "RolledBack"), timeout=30, what="RolledBack")


def test_deleting_a_rollout_restores_its_workers(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    deployment(cluster, namespace, "jobs", replicas=1)
    phases = [
        {"name": "canary", "percentage": 10, "duration": "1h", "workers": {"replicas": 5}},
        {"name": "everyone", "percentage": 100},
    ]
    apply(cluster, namespace, rollout_manifest("gone", phases, workers=[{"deployment": "jobs"}]))
    eventually(
        lambda: replicas(cluster, namespace, "jobs") == 5, timeout=30, what="5 replicas in canary"
    )
    cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "gone")
    eventually(
        lambda: replicas(cluster, namespace, "jobs") == 1,
        timeout=30,
        what="the original replica count back once the rollout is deleted",
    )

    def deleted() -> bool:
        try:
            status(cluster, namespace, "gone")
        except Exception as e:
            return "Not Found" in str(e) or "404" in str(e)
        return False

    eventually(deleted, timeout=30, what="the rollout gone (its finalizer removed)")


def test_deleting_a_rollout_restores_its_hpa_bounds(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    """I9 on delete for an HPA, and for a Deployment without an HPA beside it."""
    deployment(cluster, namespace, "celery", replicas=2)
    hpa(cluster, namespace, "celery", "celery", low=2, high=4)
    deployment(cluster, namespace, "beat", replicas=1)
    phases = [
        {
            "name": "canary",
            "percentage": 10,
            "duration": "1h",
            "workers": {"minReplicas": 3, "maxReplicas": 8, "replicas": 2},
        },
        {"name": "everyone", "percentage": 100},
    ]
    workers = [{"deployment": "celery", "hpa": "celery"}, {"deployment": "beat"}]
    apply(cluster, namespace, rollout_manifest("hpa-gone", phases, workers=workers))
    wait_scaled(
        cluster,
        namespace,
        hpas={"celery": (3, 8)},
        deployments={"beat": 2},
        what="the HPA at (3, 8) and beat at 2 replicas in canary",
    )
    cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "hpa-gone")
    wait_scaled(
        cluster,
        namespace,
        hpas={"celery": (2, 4)},
        deployments={"beat": 1},
        what="the HPA's own bounds (2, 4) and beat's 1 replica back once the rollout is deleted",
    )
