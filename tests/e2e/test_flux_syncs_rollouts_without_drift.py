"""A real GitOps loop: Flux's source-controller and kustomize-controller sync a Git repository
served from this machine (worker Deployment without replicas, HPA, Rollout) with pruning and
health checks, every few seconds, while Ramp moves the Rollout and scales the workers. Flux
never has to correct the Rollout, Ramp's status survives every Flux apply, the Kustomization
waits on the Rollout's kstatus conditions, Git pauses it, and removing it from Git prunes it
while Ramp puts the workers back and its ConfigMap goes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.flux import KUSTOMIZE, Flux, git_repository, kustomization
from tests.support.gitserver import GitServer
from tests.support.kstatus import check_kstatus_summary_of
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import flag_data, get, rollout_manifest, status, wait_phase, wait_status
from tests.support.workloads import hpa_bounds

GIT_HPA = (1, 3)
"""The HPA bounds Git holds; Ramp sets each phase's and restores these."""


@pytest.fixture(scope="module")
def flux(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flux]:
    running = Flux(cluster, tmp_path_factory.mktemp("flux"))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[GitServer]:
    server = GitServer(tmp_path / "git")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gitops(
    cluster: Cluster, namespace: str, operator: OperatorProcess, flux: Flux, repo: GitServer
) -> Iterator[GitServer]:
    """The repository, synced into the test's namespace by a GitRepository and a Kustomization.
    Afterwards the Kustomization is deleted first (pruning what it applied while the operator
    still runs), so Flux does not re-create what the namespace's teardown deletes."""
    objects = [git_repository("apps", repo.url), kustomization("apps", "apps", namespace, [])]
    yield repo
    cluster.kubectl(
        "delete",
        "-n",
        namespace,
        "--wait=true",
        "--timeout=60s",
        "-f",
        "-",
        input=yaml.safe_dump_all(objects),
        check=False,
    )


def worker_manifests() -> list[dict[str, Any]]:
    labels = {"app": "worker"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "worker"},
        # No replicas: Ramp and the HPA own that field (docs/gitops.md).
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "example.invalid/worker:1"}]},
            },
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        # Flux creates it and never overwrites the bounds Ramp sets (docs/gitops.md).
        "metadata": {
            "name": "worker",
            "annotations": {"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"},
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"},
            "minReplicas": GIT_HPA[0],
            "maxReplicas": GIT_HPA[1],
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
    return [deployment, hpa]


def rollout(canary: str, **spec: Any) -> dict[str, Any]:
    phases = [
        {
            "name": "canary",
            "percentage": 10,
            "duration": canary,
            "workers": {"minReplicas": 2, "maxReplicas": 5},
        },
        {"name": "everyone", "percentage": 100},
    ]
    return rollout_manifest(
        "reports", phases, workers=[{"deployment": "worker", "hpa": "worker"}], **spec
    )


def sync(cluster: Cluster, namespace: str, repo: GitServer, canary: str) -> None:
    """Commit the worker, its HPA and the rollout (its canary soaking ``canary``), and have Flux
    sync the repository into ``namespace``."""
    repo.commit(
        "worker, HPA and rollout",
        {"worker.yaml": worker_manifests(), "rollout.yaml": [rollout(canary)]},
    )
    # Health checks on the Rollout. (Not `wait: true` on everything: the testbed's kwok pods do
    # not stay Ready, so the worker Deployment would never be healthy here.)
    rollout_health = {
        "apiVersion": "ramp.dev/v1alpha1",
        "kind": "Rollout",
        "name": "reports",
        "namespace": namespace,
    }
    objects = [
        git_repository("apps", repo.url),
        kustomization("apps", "apps", namespace, [rollout_health]),
    ]
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(objects))


def kustomization_status(cluster: Cluster, namespace: str) -> dict[str, Any]:
    group, version, plural = KUSTOMIZE
    obj = cluster.custom.get_namespaced_custom_object(group, version, namespace, plural, "apps")
    found: dict[str, Any] = obj.get("status") or {}
    return found


def ready(kstatus: dict[str, Any]) -> tuple[str, str]:
    cond = next((c for c in kstatus.get("conditions") or [] if c["type"] == "Ready"), {})
    return cond.get("status", "Unknown"), cond.get("reason", "")


def applied(cluster: Cluster, namespace: str, commit: str) -> bool:
    revision = kustomization_status(cluster, namespace).get("lastAttemptedRevision", "")
    return str(revision).endswith(commit)


def rollout_applies(flux: Flux, namespace: str) -> list[str]:
    """What kustomize-controller's server-side apply did to the Rollout, in order."""
    log = flux.controllers[1].log.read_text(errors="replace")
    return re.findall(rf'"Rollout/{namespace}/reports":"(\w+)"', log)


def test_flux_applies_every_few_seconds_without_drift_and_waits_for_completion(
    cluster: Cluster, namespace: str, operator: OperatorProcess, flux: Flux, gitops: GitServer
) -> None:
    repo = gitops
    sync(cluster, namespace, repo, "30s")
    wait_phase(
        cluster,
        namespace,
        "reports",
        "Progressing",
        timeout=60,
        what=f"Flux to create the Rollout and Ramp to start it\n{flux.logs()}",
    )
    eventually(
        lambda: hpa_bounds(cluster, namespace, "worker") == (2, 5),
        timeout=20,
        what="Ramp to set the canary's HPA bounds",
    )

    # While the rollout moves, Flux applies again whenever its health check is done, and the
    # check waits on the Rollout's Reconciling condition (until it completes or the timeout).
    # kstatus counts an object without status as Current, so a check that ran in the moment
    # between Flux creating the Rollout and Ramp's first status write may have passed.
    not_ready: set[tuple[str, str]] = set()
    last = (10, 0)
    while (obj := get(cluster, namespace, "reports"))["status"]["phase"] == "Progressing":
        assert obj["metadata"]["generation"] == 1, "Flux changed the Rollout's spec"
        # Ramp's status survives every apply: its progress only ever moves forward.
        progress = (obj["status"]["percentage"], len(obj["status"]["history"]))
        assert progress >= last, f"status went back from {last} to {progress}"
        last = progress
        check_kstatus_summary_of(obj)
        ks_ready = ready(kustomization_status(cluster, namespace))
        if ks_ready[0] != "True":
            not_ready.add(ks_ready)
        time.sleep(0.2)
    applies = rollout_applies(flux, namespace)
    assert applies[:1] == ["created"], applies
    assert len(applies) >= 2, f"Flux did not apply again while the rollout moved: {applies}"
    assert set(applies[1:]) == {"unchanged"}, f"Flux corrected the Rollout: {applies}"
    assert not_ready, "the Kustomization was Ready all the while its Rollout progressed"

    final = wait_status(
        cluster, namespace, "reports", {"phase": "Completed"}, what="the rollout to complete"
    )
    check_kstatus_summary_of(final)
    eventually(
        lambda: (
            ready(kustomization_status(cluster, namespace)) == ("True", "ReconciliationSucceeded")
        ),
        timeout=30,
        what="the Kustomization to be Ready once the Rollout completed",
    )
    assert status(cluster, namespace, "reports")["phase"] == "Completed"
    eventually(
        lambda: hpa_bounds(cluster, namespace, "worker") == GIT_HPA,
        timeout=20,
        what="Ramp to restore the HPA bounds Git holds",
    )
    # Later applies still leave Ramp's status and the Rollout alone.
    count = len(rollout_applies(flux, namespace))
    eventually(
        lambda: len(rollout_applies(flux, namespace)) >= count + 2,
        timeout=30,
        what="two more Flux applies",
    )
    assert set(rollout_applies(flux, namespace)[1:]) == {"unchanged"}
    after = get(cluster, namespace, "reports")
    assert after["status"]["phase"] == "Completed" and after["metadata"]["generation"] == 1


def test_git_pauses_the_rollout_and_removing_it_prunes_and_restores_workers(
    cluster: Cluster, namespace: str, operator: OperatorProcess, flux: Flux, gitops: GitServer
) -> None:
    repo = gitops
    sync(cluster, namespace, repo, "1h")
    eventually(
        lambda: hpa_bounds(cluster, namespace, "worker") == (2, 5),
        timeout=60,
        what=f"Flux to create the Rollout and Ramp to scale the canary\n{flux.logs()}",
    )

    paused = repo.commit("pause the rollout", {"rollout.yaml": [rollout("1h", paused=True)]})
    eventually(
        lambda: status(cluster, namespace, "reports").get("phase") == "Paused",
        # Flux applies the commit after its health check of the progressing Rollout gave up
        # (30 s, the least it waits), then retries at once with the new revision.
        timeout=90,
        what="the commit with spec.paused: true to pause the rollout",
    )
    held = get(cluster, namespace, "reports")
    assert held["metadata"]["generation"] == 2 and held["status"]["percentage"] == 10
    check_kstatus_summary_of(held)
    # kstatus reads Ready=False as InProgress, so the health check waits on a held Rollout too;
    # Flux has applied the commit all the same.
    eventually(
        lambda: applied(cluster, namespace, paused),
        timeout=60,
        what="the Kustomization to record the pause commit as applied",
    )

    repo.commit("remove the rollout", {"rollout.yaml": None})
    eventually(
        lambda: (
            not cluster.custom.list_namespaced_custom_object(
                "ramp.dev", "v1alpha1", namespace, "rollouts"
            )["items"]
        ),
        timeout=60,
        what="Flux to prune the Rollout (and Ramp to lift its finalizer)",
    )
    assert hpa_bounds(cluster, namespace, "worker") == GIT_HPA, "Ramp restores the workers"
    eventually(
        lambda: flag_data(cluster, namespace, "reports-flag") is None,
        timeout=30,
        what="the Rollout's ConfigMap to be garbage-collected with it",
    )
    # Flux still owns the worker objects: they stay.
    assert cluster.apps.read_namespaced_deployment("worker", namespace).metadata.name == "worker"
