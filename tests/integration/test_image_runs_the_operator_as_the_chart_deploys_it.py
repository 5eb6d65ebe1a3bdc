"""The operator image, built by `make image`, runs the chart's Deployment as a pod would: with
only the chart's ServiceAccount token mounted where a kubelet mounts it, as the non-root user,
and it takes a Rollout to Completed while /healthz and /metrics answer inside the container.

kwok never starts containers, so podman plays the kubelet for the operator's pod template (see
tests/support/pods.py); the rest is the real testbed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_helm_chart_installs_with_least_privilege import (  # noqa: F401
    Installed,
    helm,
    install,
    make_namespace,
)
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import free_port, release_rollouts
from tests.support.pods import PodContainer, image_exists
from tests.support.rollouts import run_to_completion

IMAGE = os.environ.get("RAMP_IMAGE", "localhost/ramp:dev")
"""What `make image` (testbed/image.sh) builds; `make test` builds it before the suite."""

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def image() -> str:
    if not image_exists(IMAGE):
        pytest.fail(f"image {IMAGE} not found: run `make image` (testbed/image.sh) first")
    return IMAGE


@pytest.fixture
def operator_pod(
    cluster: Cluster,
    image: str,
    install: Callable[[dict[str, Any]], Installed],  # noqa: F811
    make_namespace: Callable[[], str],  # noqa: F811
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[PodContainer, Installed, str]]:
    """The chart installed for one watched namespace, its operator pod running from the image.

    The Deployment keeps 0 replicas so that kwok runs no stand-in pod; its pod template is what
    podman runs. Ports are free ones: the pod shares the host's network.
    """
    watched = make_namespace()
    repository, tag = image.rsplit(":", 1)
    health, metrics = free_port(), free_port()
    ops = install(
        {
            "watchNamespaces": [watched],
            "replicas": 0,
            "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
            "health": {"port": health},
            "metrics": {"port": metrics},
        }
    )
    eventually(
        lambda: ops.can("patch", "rollouts.ramp.dev", watched, "--subresource=status"),
        timeout=30,
        what="the operator's RoleBinding to take effect",
    )
    deployment = cluster.apps.read_namespaced_deployment(f"{ops.release}-ramp", ops.namespace)
    template = cluster.api.sanitize_for_serialization(deployment.spec.template)
    account = template["spec"]["serviceAccountName"]
    token = cluster.kubectl(
        "create", "token", account, "--namespace", ops.namespace, "--duration=1h"
    ).stdout.strip()
    pod = PodContainer(cluster, template, ops.namespace, token, tmp_path)
    assert pod.spec["image"] == image, "the chart must name the image under test"
    pod.start()
    try:
        yield pod, ops, watched
        # The operator in the container restores and lifts its finalizers before it goes.
        release_rollouts(cluster, watched)
    finally:
        pod.stop()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(f"--- operator container {pod.name} log ---\n{pod.logs()[-6000:]}")
        pod.remove()


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of one sample in the Prometheus text format, None when it is absent."""
    for family in text_string_to_metric_families(metrics):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None


def port_of(pod: PodContainer, name: str) -> int:
    (port,) = [p["containerPort"] for p in pod.spec["ports"] if p["name"] == name]
    return int(port)


def test_image_runs_a_rollout_to_completion_as_non_root_with_the_charts_account(
    cluster: Cluster, operator_pod: tuple[PodContainer, Installed, str]
) -> None:
    pod, ops, watched = operator_pod
    eventually(pod.running, timeout=30, what=f"container {pod.name} to be running")
    eventually(
        lambda: pod.get(port_of(pod, "health"), "/healthz") is not None,
        timeout=60,
        what="/healthz to answer 200 inside the container",
    )

    # The image's own USER, not a --user flag, is the chart's runAsUser: a kubelet enforcing
    # runAsNonRoot runs exactly this.
    run_as = pod.pod_security["runAsUser"]
    assert pod.exec("id", "-u").stdout.strip() == str(run_as)
    process_uids = [
        line.split()[1:]
        for line in pod.exec("cat", "/proc/1/status").stdout.splitlines()
        if line.startswith("Uid:")
    ]
    assert process_uids == [[str(run_as)] * 4], f"ramp (PID 1) runs as {process_uids}"
    assert pod.exec("touch", "/opt/ramp/x", check=False).returncode != 0, (
        "the root filesystem is read-only and /opt/ramp is not the user's"
    )

    run_to_completion(
        cluster,
        watched,
        "from-image",
        "2s",
        timeout=90,
        what="the Rollout to complete under the operator in the container",
    )
    flag = cluster.core.read_namespaced_config_map("from-image-flag", watched).data
    assert flag["FEATURE_PERCENTAGE"] == "100", flag

    # /metrics tells where the Rollout stands and the writes that took it there.
    metrics = pod.get(port_of(pod, "metrics"), "/metrics")
    rollout = {"namespace": watched, "rollout": "from-image"}
    assert sample(metrics, "ramp_rollout_percentage", **rollout) == 100, metrics
    assert sample(metrics, "ramp_rollout_phase", **rollout, phase="Completed") == 1, metrics
    for kind in ("Rollout/status", "ConfigMap"):
        assert (sample(metrics, "ramp_api_writes_total", kind=kind) or 0) >= 1, metrics
    # The chart's leader election, its Lease in POD_NAMESPACE from the downward API.
    assert sample(metrics, "ramp_leader") == 1, "the operator in the container never led"
    lease = f"lease/{ops.release}-ramp"
    assert cluster.kubectl("get", lease, "-n", ops.namespace, "-o", "name").stdout.strip()

    log = pod.logs()
    denials = [line for line in log.splitlines() if " cannot " in line and "serviceaccount" in line]
    assert not denials, f"the operator was denied something: {denials[:3]}"
