"""The local control plane is the real Kubernetes: controllers, scheduler, GC, CRDs, version."""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from http.server import ThreadingHTTPServer

import yaml
from kubernetes import client
from prometheus_client import CollectorRegistry, Gauge, MetricsHandler

from tests.support.cluster import Cluster
from tests.support.eventually import eventually


def test_server_reports_the_pinned_kubernetes_version(cluster: Cluster) -> None:
    info = client.VersionApi(cluster.api).get_code()
    assert info.git_version.startswith("v1.33."), info.git_version
    assert (info.major, info.minor) == ("1", "33")


def test_kwok_nodes_are_ready(cluster: Cluster) -> None:
    """Both fake nodes are Ready, or become Ready again: under the suite's load kwok's node
    heartbeats can fall behind its pod updates, and the node controller then marks a node
    NotReady until the next heartbeat lands."""

    def ready() -> list[str]:
        out = cluster.kubectl("get", "nodes", "--no-headers").stdout.splitlines()
        found = [line for line in out if line.split()[1] == "Ready"]
        return found if len(found) >= 2 else []

    eventually(ready, timeout=120, what="2 kwok nodes Ready")


def test_deployment_becomes_available_with_pods_running_on_kwok_nodes(
    cluster: Cluster, namespace: str
) -> None:
    labels = {"app": "web"}
    cluster.apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1DeploymentSpec(
                replicas=2,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(
                        containers=[client.V1Container(name="web", image="registry.invalid/web:1")]
                    ),
                ),
            ),
        ),
    )

    def available() -> bool:
        d = cluster.apps.read_namespaced_deployment("web", namespace)
        return (d.status.available_replicas or 0) == 2

    eventually(available, timeout=60, what="deployment web to have 2 available replicas")
    pods = cluster.core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 2
    for pod in pods:
        assert pod.status.phase == "Running"
        assert pod.spec.node_name.startswith("kwok-node-")


def test_garbage_collector_deletes_owner_referenced_configmap(
    cluster: Cluster, namespace: str
) -> None:
    owner = cluster.core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    )
    cluster.core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name="owned",
                owner_references=[
                    client.V1OwnerReference(
                        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
                    )
                ],
            )
        ),
    )
    cluster.core.delete_namespaced_config_map("owner", namespace)

    def owned_gone() -> bool:
        names = {
            cm.metadata.name for cm in cluster.core.list_namespaced_config_map(namespace).items
        }
        return "owned" not in names

    eventually(owned_gone, timeout=30, what="the garbage collector to delete ConfigMap owned")


WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.testbed.ramp.dev}
spec:
  group: testbed.ramp.dev
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Colour, type: string, jsonPath: .status.colour}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
          status: {type: object, properties: {colour: {type: string}}}
"""


def test_crd_with_status_subresource_shows_printer_column(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "--server-side", "-f", "-", input=WIDGET_CRD)
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd/widgets.testbed.ramp.dev", "--timeout=30s"
    )
    widget = {
        "apiVersion": "testbed.ramp.dev/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": namespace},
        "spec": {"size": 3},
    }
    eventually(
        lambda: (
            cluster.kubectl(
                "apply", "-f", "-", input=yaml.safe_dump(widget), check=False
            ).returncode
            == 0
        ),
        timeout=30,
        what="the Widget kind to be served",
    )
    cluster.custom.patch_namespaced_custom_object_status(
        "testbed.ramp.dev", "v1", namespace, "widgets", "w1", {"status": {"colour": "teal"}}
    )
    out = cluster.kubectl("get", "widgets", "-n", namespace).stdout
    header, row = out.splitlines()[:2]
    assert "COLOUR" in header.split()
    assert row.split()[:2] == ["w1", "teal"]


def test_prometheus_scrapes_a_target_added_as_a_file(cluster: Cluster) -> None:
    registry = CollectorRegistry()
    gauge = Gauge("ramp_testbed_probe", "A value the test controls.", registry=registry)
    gauge.set(42)
    server = ThreadingHTTPServer(("127.0.0.1", 0), MetricsHandler.factory(registry))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = cluster.add_scrape_target("testbed-probe", f"127.0.0.1:{server.server_port}")
    try:

        def scraped_value() -> float | None:
            query = urllib.parse.urlencode({"query": "ramp_testbed_probe"})
            with urllib.request.urlopen(f"{cluster.prometheus_url}/api/v1/query?{query}") as r:
                result = json.load(r)["data"]["result"]
            return float(result[0]["value"][1]) if result else None

        assert eventually(scraped_value, timeout=30, what="Prometheus to scrape the probe") == 42
    finally:
        target.unlink()
        server.shutdown()
