"""The Helm chart lints, renders what the apiserver accepts, installs an Available operator,
and grants its ServiceAccount exactly the API calls the operator makes, nothing more.

kwok marks the operator's pod Running and Ready without running its container, so these tests
check the chart and its RBAC, not the operator's behaviour (the other integration tests do).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.conftest import ROOT, Cluster, create_namespace, run_tool
from tests.integration.conftest import OperatorProcess
from tests.support.eventually import eventually
from tests.support.rollouts import apply, get, rollout_manifest, status

CHART = ROOT / "charts" / "ramp"
NAMED_SECRET = "slack-hook"

pytestmark = pytest.mark.cluster

Helm = Callable[..., subprocess.CompletedProcess[str]]


def helm_binary(cluster: Cluster) -> str:
    """The helm that `make binaries` built (its bin dir is in the testbed state), else PATH's."""
    state = cluster.dir / "state.json"
    if state.exists():
        built = Path(json.loads(state.read_text()).get("bin", "")) / "helm"
        if built.is_file():
            return str(built)
    found = shutil.which("helm")
    if found is None:
        pytest.fail("helm not found: run `make binaries` (it builds helm into the testbed cache)")
    return found


@pytest.fixture(scope="module")
def helm(cluster: Cluster) -> Helm:
    binary = helm_binary(cluster)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [binary, f"--kubeconfig={cluster.kubeconfig}"]
        return run_tool(command, *args, check=check, timeout=120)

    return run


@pytest.fixture
def make_namespace(cluster: Cluster) -> Iterator[Callable[[], str]]:
    """Extra fresh namespaces for one test (watched or deliberately not), deleted afterwards."""
    created: list[str] = []

    def make() -> str:
        created.append(create_namespace(cluster))
        return created[-1]

    yield make
    for name in created:
        cluster.core.delete_namespace(name, propagation_policy="Background")


def values_file(tmp_path: Path, values: dict[str, Any]) -> str:
    path = tmp_path / f"values-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def render(helm: Helm, namespace: str, values: str) -> list[dict[str, Any]]:
    out = helm("template", "ramp", str(CHART), "--namespace", namespace, "-f", values).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def find(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def operator_args(docs: list[dict[str, Any]]) -> list[str]:
    (deployment,) = find(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return [*container["command"], *container["args"]]


# -- lint and render --------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [False, True], ids=["lint", "lint-strict"])
def test_chart_lints_clean(helm: Helm, strict: bool) -> None:
    for extra in ([], ["--set", "watchNamespaces={a,b}", "--set", "secretNames={hook}"]):
        result = helm("lint", str(CHART), *(["--strict"] if strict else []), *extra)
        assert "[WARNING]" not in result.stdout, result.stdout
        assert "[ERROR]" not in result.stdout, result.stdout
        assert "0 chart(s) failed" in result.stdout


def test_rendered_chart_is_accepted_by_the_apiserver(
    cluster: Cluster,
    rollout_crd: str,
    helm: Helm,
    namespace: str,
    make_namespace: Callable[[], str],
    tmp_path: Path,
) -> None:
    watched = make_namespace()
    value_sets: dict[str, dict[str, Any]] = {
        "defaults": {},
        "namespaced with secrets": {
            "watchNamespaces": [namespace, watched],
            "secretNames": [NAMED_SECRET, "prometheus-auth"],
            "logLevel": "debug",
        },
        "scheduling and monitoring": {
            "image": {"repository": "registry.example/ramp", "tag": "dev", "pullPolicy": "Always"},
            "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
            "serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "kps"}},
            "metrics": {"port": 9100},
        },
    }
    for label, values in value_sets.items():
        docs = render(helm, namespace, values_file(tmp_path, values))
        # This cluster has no prometheus-operator, so the ServiceMonitor is checked below instead.
        served = [doc for doc in docs if doc["kind"] != "ServiceMonitor"]
        result = cluster.kubectl(
            "apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(served), check=False
        )
        assert result.returncode == 0, (
            f"{label}: the apiserver rejected the chart:\n{result.stderr}"
        )

    monitored = render(
        helm, namespace, values_file(tmp_path, value_sets["scheduling and monitoring"])
    )
    (monitor,) = find(monitored, "ServiceMonitor")
    (service,) = find(monitored, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}
    ]
    assert service["spec"]["ports"][0]["port"] == 9100


def test_rendered_deployment_runs_ramp_hardened(helm: Helm, namespace: str, tmp_path: Path) -> None:
    docs = render(helm, namespace, values_file(tmp_path, {}))
    assert operator_args(docs)[:3] == ["ramp", "run", "--all-namespaces"]
    assert not find(docs, "Role"), "cluster mode needs no per-namespace Role"
    (deployment,) = find(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    hardened = container["securityContext"]
    assert hardened["readOnlyRootFilesystem"] is True
    assert hardened["allowPrivilegeEscalation"] is False
    assert hardened["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8080, "metrics": 9090}
    assert "--health-port=8080" in container["args"]
    assert "--metrics-port=9090" in container["args"]
    assert not any(
        rule["resources"] == ["secrets"]
        for doc in find(docs, "ClusterRole")
        for rule in doc["rules"]
    ), "no secretNames must mean no access to Secrets"

    peered = render(
        helm,
        namespace,
        values_file(
            tmp_path,
            {"watchNamespaces": ["a", "b"], "peering": {"enabled": True}, "replicas": 2},
        ),
    )
    # Standby replicas are what peering is for: each picks its own priority at start.
    assert find(peered, "Deployment")[0]["spec"]["replicas"] == 2
    args = operator_args(peered)
    assert args[:6] == [
        "ramp",
        "run",
        "--namespace=a",
        "--namespace=b",
        "--health-port=8080",
        "--metrics-port=9090",
    ]
    assert "--peering=ramp" in args
    assert "--peering-lifetime=60" in args
    peerings = find(peered, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == ["a", "b"]
    for role in find(peered, "Role"):
        assert {
            "apiGroups": ["kopf.dev"],
            "resources": ["kopfpeerings"],
            "verbs": ["get", "list", "watch", "patch"],
        } in role["rules"]


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("watchNamespaces=x", "watchNamespaces"),
        ("secretNames=hook", "secretNames"),
        ("replicas=2", "replicas"),
        ("logLevel=trace", "logLevel"),
        ("metrics.port=0", "metrics/port"),
        ("serviceMonitor.enabled=yes", "serviceMonitor/enabled"),
        ("watchNamespace={a}", "watchNamespace"),
    ],
)
def test_schema_rejects_a_bad_value_naming_it(helm: Helm, setting: str, named: str) -> None:
    result = helm("template", "ramp", str(CHART), "--set", setting, check=False)
    assert result.returncode != 0, f"--set {setting} was accepted"
    assert named in result.stderr, result.stderr


# -- install and permissions -------------------------------------------------------------------


class Installed:
    def __init__(self, cluster: Cluster, namespace: str, release: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.release = release
        self.account = f"system:serviceaccount:{namespace}:{release}-ramp"

    def can(self, verb: str, resource: str, namespace: str | None = None, *extra: str) -> bool:
        where = ["--all-namespaces"] if namespace is None else ["--namespace", namespace]
        result = self.cluster.kubectl(
            "auth", "can-i", verb, resource, "--as", self.account, *where, *extra, check=False
        )
        answer = result.stdout.strip()
        if answer not in ("yes", "no"):
            raise AssertionError(f"kubectl auth can-i {verb} {resource}: {result.stderr}")
        return answer == "yes"

    def deployment_available(self) -> bool:
        deployment = self.cluster.apps.read_namespaced_deployment(
            f"{self.release}-ramp", self.namespace
        )
        conditions = deployment.status.conditions or []
        return any(c.type == "Available" and c.status == "True" for c in conditions)


@pytest.fixture
def install(
    cluster: Cluster, rollout_crd: str, helm: Helm, namespace: str, tmp_path: Path
) -> Iterator[Callable[[dict[str, Any]], Installed]]:
    """`helm install` the chart into the test's namespace; uninstalled afterwards."""
    releases: list[str] = []

    def install_with(values: dict[str, Any]) -> Installed:
        release = f"r{uuid.uuid4().hex[:6]}"
        # The Rollout CRD is already there (rollout_crd): Helm must not try to own it.
        helm(
            "install",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--skip-crds",
            "-f",
            values_file(tmp_path, values),
        )
        releases.append(release)
        return Installed(cluster, namespace, release)

    yield install_with
    for release in releases:
        helm("uninstall", release, "--namespace", namespace, "--wait", "--timeout=60s")


def test_cluster_wide_install_becomes_available_with_least_privilege(
    install: Callable[[dict[str, Any]], Installed], make_namespace: Callable[[], str]
) -> None:
    ops = install({"secretNames": [NAMED_SECRET]})
    eventually(ops.deployment_available, timeout=60, what="the operator Deployment to be Available")
    elsewhere = make_namespace()

    # RBAC reaches the authorizer through an informer: wait for the first grant to be visible.
    eventually(
        lambda: ops.can("patch", "rollouts.ramp.dev", elsewhere, "--subresource=status"),
        timeout=30,
        what="the operator's ClusterRoleBinding to take effect",
    )
    for verb, resource, extra in [
        ("list", "rollouts.ramp.dev", ()),
        ("watch", "rollouts.ramp.dev", ()),
        ("create", "configmaps", ()),
        ("patch", "deployments.apps", ("--subresource=scale",)),
        ("patch", "horizontalpodautoscalers.autoscaling", ()),
        ("create", "events", ()),
        ("get", f"secrets/{NAMED_SECRET}", ()),
    ]:
        assert ops.can(verb, resource, elsewhere, *extra), f"cannot {verb} {resource} {extra}"
    assert ops.can("list", "customresourcedefinitions.apiextensions.k8s.io")

    for verb, resource in [
        ("get", "secrets/other-secret"),
        ("list", "secrets"),
        ("watch", "secrets"),
        ("delete", "deployments.apps"),
        ("create", "deployments.apps"),
        ("delete", "configmaps"),
        ("create", "rollouts.ramp.dev"),
        ("delete", "rollouts.ramp.dev"),
        ("update", "rollouts.ramp.dev"),
        ("create", "pods"),
    ]:
        assert not ops.can(verb, resource, elsewhere), f"can {verb} {resource}, should not"
    assert not ops.can("delete", "customresourcedefinitions.apiextensions.k8s.io")


def test_namespaced_install_is_confined_to_its_watched_namespaces(
    install: Callable[[dict[str, Any]], Installed],
    namespace: str,
    make_namespace: Callable[[], str],
) -> None:
    watched, unwatched = make_namespace(), make_namespace()
    ops = install({"watchNamespaces": [watched], "secretNames": [NAMED_SECRET]})
    eventually(ops.deployment_available, timeout=60, what="the operator Deployment to be Available")

    eventually(
        lambda: ops.can("patch", "rollouts.ramp.dev", watched, "--subresource=status"),
        timeout=30,
        what="the operator's RoleBinding to take effect",
    )
    assert ops.can("list", "configmaps", watched)
    assert ops.can("create", "configmaps", watched)
    assert ops.can("patch", "deployments.apps", watched, "--subresource=scale")
    assert ops.can("get", f"secrets/{NAMED_SECRET}", watched)
    assert not ops.can("get", "secrets/other-secret", watched)
    assert not ops.can("list", "secrets", watched)
    assert not ops.can("delete", "deployments.apps", watched)
    assert not ops.can("delete", "configmaps", watched)
    assert not ops.can("create", "rollouts.ramp.dev", watched)

    # Kopf's cluster-scoped needs only: nothing namespaced is granted outside `watched`.
    assert ops.can("watch", "customresourcedefinitions.apiextensions.k8s.io")
    assert ops.can("list", "namespaces")
    for elsewhere in (unwatched, namespace):
        assert not ops.can("list", "configmaps", elsewhere), f"lists configmaps in {elsewhere}"
        assert not ops.can("patch", "rollouts.ramp.dev", elsewhere), f"patches in {elsewhere}"
        assert not ops.can("get", f"secrets/{NAMED_SECRET}", elsewhere)
    assert not ops.can("list", "configmaps")
    assert not ops.can("list", "rollouts.ramp.dev")


def account_kubeconfig(cluster: Cluster, ops: Installed, path: Path) -> Cluster:
    """The cluster as the chart's ServiceAccount sees it: a kubeconfig holding only its token."""
    name = ops.account.rsplit(":", 1)[1]
    token = cluster.kubectl(
        "create", "token", name, "--namespace", ops.namespace, "--duration=1h"
    ).stdout.strip()
    kubeconfig = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    kubeconfig["users"] = [{"name": "operator", "user": {"token": token}}]
    for context in kubeconfig["contexts"]:
        context["context"]["user"] = "operator"
    path.write_text(yaml.safe_dump(kubeconfig))
    return dataclasses.replace(cluster, kubeconfig=str(path))


def create_deployment(cluster: Cluster, namespace: str, name: str) -> None:
    labels = {"app": name}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "example.invalid/app:1"}]},
    }
    cluster.apps.create_namespaced_deployment(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template},
        },
    )


def test_operator_runs_a_rollout_with_only_the_charts_permissions(
    cluster: Cluster,
    install: Callable[[dict[str, Any]], Installed],
    make_namespace: Callable[[], str],
    tmp_path: Path,
) -> None:
    """The grants are not only small but enough: `ramp run` with the ServiceAccount's token
    publishes the flag, scales workers, restarts env consumers, writes status and Events, and
    honours its finalizer, without one Forbidden."""
    watched = make_namespace()
    ops = install({"watchNamespaces": [watched], "replicas": 0})
    eventually(
        lambda: ops.can("patch", "rollouts.ramp.dev", watched, "--subresource=status"),
        timeout=30,
        what="the operator's RoleBinding to take effect",
    )
    create_deployment(cluster, watched, "worker")
    create_deployment(cluster, watched, "backend")
    process = OperatorProcess(
        account_kubeconfig(cluster, ops, tmp_path / "kubeconfig"), [watched], tmp_path / "op.log"
    )
    process.start()
    try:
        phases = [
            {"name": "canary", "percentage": 10, "duration": "2s", "workers": {"replicas": 2}},
            {"name": "everyone", "percentage": 100, "workers": {"replicas": 3}},
        ]
        manifest = rollout_manifest("scoped", phases, workers=[{"deployment": "worker"}])
        manifest["spec"]["flag"]["restartOnChange"] = [{"kind": "Deployment", "name": "backend"}]
        apply(cluster, watched, manifest)

        def worker_replicas() -> int:
            return int(cluster.apps.read_namespaced_deployment("worker", watched).spec.replicas)

        eventually(lambda: worker_replicas() == 2, timeout=30, what="workers scaled for canary")
        eventually(
            lambda: status(cluster, watched, "scoped").get("phase") == "Completed",
            timeout=60,
            what="the rollout to complete",
        )
        backend = cluster.apps.read_namespaced_deployment("backend", watched)
        assert "ramp.dev/flag-revision" in (backend.spec.template.metadata.annotations or {})
        assert cluster.core.read_namespaced_config_map("scoped-flag", watched).data
        events = cluster.core.list_namespaced_event(
            watched, field_selector="involvedObject.name=scoped"
        )
        assert events.items, "the operator recorded no Event on the Rollout"

        cluster.custom.delete_namespaced_custom_object(
            "ramp.dev", "v1alpha1", watched, "rollouts", "scoped"
        )

        def deleted() -> bool:
            try:
                get(cluster, watched, "scoped")
            except client.ApiException as e:
                return e.status == 404
            return False

        eventually(deleted, timeout=30, what="the finalizer to be released after restoring")
        assert worker_replicas() == 1
    finally:
        process.stop()
    assert_never_denied(process)


def test_cluster_wide_operator_runs_a_rollout_with_only_the_charts_permissions(
    cluster: Cluster,
    install: Callable[[dict[str, Any]], Installed],
    make_namespace: Callable[[], str],
    tmp_path: Path,
) -> None:
    """`--all-namespaces` with the cluster-wide grants: Kopf's namespace-independent watches and
    a rollout in any namespace work without one Forbidden."""
    ops = install({"replicas": 0})
    anywhere = make_namespace()
    eventually(
        lambda: ops.can("patch", "rollouts.ramp.dev", anywhere, "--subresource=status"),
        timeout=30,
        what="the operator's ClusterRoleBinding to take effect",
    )
    process = OperatorProcess(
        account_kubeconfig(cluster, ops, tmp_path / "kubeconfig"), [], tmp_path / "op.log"
    )
    process.start()
    try:
        phases = [
            {"name": "canary", "percentage": 10, "duration": "1s"},
            {"name": "everyone", "percentage": 100},
        ]
        apply(cluster, anywhere, rollout_manifest("wide", phases))
        eventually(
            lambda: status(cluster, anywhere, "wide").get("phase") == "Completed",
            timeout=60,
            what="the rollout in an unwatched-by-name namespace to complete",
        )
    finally:
        process.stop()
    assert_never_denied(process)


def assert_never_denied(process: OperatorProcess) -> None:
    """No RBAC denial in the operator's log. An RBAC 403 names the account and what it cannot
    do; a namespace being deleted also answers 403, but that is no missing permission."""
    log = process.log.read_text(errors="replace")
    denials = [
        line
        for line in log.splitlines()
        if ("system:serviceaccount:" in line and " cannot " in line)
        or "Not enough permissions" in line
    ]
    assert not denials, f"the operator was denied something: {denials[:3]}\n{process.tail()}"
