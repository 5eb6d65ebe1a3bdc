"""The Helm chart lints, renders what the apiserver accepts, installs an Available operator,
and grants its ServiceAccount exactly the API calls the operator makes, nothing more.

kwok marks the operator's pod Running and Ready without running its container, so these tests
check the chart and its RBAC, not the operator's behaviour (the other integration tests do).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.support.cluster import ROOT, Cluster, create_namespace, run_tool
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess, stopping
from tests.support.rollouts import apply, get, rollout_manifest, run_to_completion, wait_phase
from tests.support.tools import find_tool

CHART = ROOT / "charts" / "ramp"
NAMED_SECRET = "slack-hook"

pytestmark = pytest.mark.cluster

Helm = Callable[..., subprocess.CompletedProcess[str]]


def helm_binary(cluster: Cluster) -> str:
    """The helm that `make binaries` built (its bin dir is in the testbed state), else PATH's."""
    state = cluster.dir / "state.json"
    built = Path(json.loads(state.read_text()).get("bin", "")) / "helm" if state.exists() else None
    return find_tool("helm", built, "run `make binaries` (it builds helm into the testbed cache)")


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
    for extra in (
        [],
        ["--set", "watchNamespaces={a,b}", "--set", "secretNames={hook}"],
        ["--set", "prometheus.allowedAddresses={http://prometheus:9090}"],
    ):
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
    # Cluster mode needs no per-namespace Role; the one Role is leader election's, at home.
    (lease_role,) = find(docs, "Role")
    assert lease_role["metadata"]["namespace"] == namespace
    assert lease_role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["ramp"],
            "verbs": ["get", "update"],
        },
    ]
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
    assert ports == {"health": 8080, "metrics": 8081}
    assert "--health-port=8080" in container["args"]
    assert "--metrics-port=8081" in container["args"]
    assert "--status-refresh=300" in container["args"]
    assert {"--leader-elect", "--lease-name=ramp", "--lease-duration=15"} <= set(container["args"])
    assert {
        "name": "POD_NAMESPACE",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
    } in container["env"], "the Lease's namespace must come from the downward API"
    assert not any(
        rule["resources"] == ["secrets"]
        for doc in find(docs, "ClusterRole")
        for rule in doc["rules"]
    ), "no secretNames must mean no access to Secrets"

    replicated = render(
        helm, namespace, values_file(tmp_path, {"watchNamespaces": ["a", "b"], "replicas": 2})
    )
    # Standby replicas are what leader election is for: one holds the Lease, the others wait.
    assert find(replicated, "Deployment")[0]["spec"]["replicas"] == 2
    args = operator_args(replicated)
    assert args[:6] == [
        "ramp",
        "run",
        "--namespace=a",
        "--namespace=b",
        "--health-port=8080",
        "--metrics-port=8081",
    ]
    assert "--leader-elect" in args
    roles = {r["metadata"]["namespace"]: r for r in find(replicated, "Role")}
    assert sorted(roles) == sorted(["a", "b", namespace])
    assert roles[namespace]["metadata"]["name"] == "ramp-leader-election"
    for watched in ("a", "b"):
        assert not any("leases" in rule["resources"] for rule in roles[watched]["rules"])

    alone = render(helm, namespace, values_file(tmp_path, {"leaderElection": {"enabled": False}}))
    assert "--no-leader-elect" in operator_args(alone)
    assert not find(alone, "Role"), "without leader election, cluster mode needs no Role"


EDIT_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}


def aggregated(docs: list[dict[str, Any]], to: str) -> list[dict[str, Any]]:
    """The ClusterRoles aggregated into the built-in ``to`` role (admin, edit or view)."""
    label = f"rbac.authorization.k8s.io/aggregate-to-{to}"
    return [
        doc for doc in find(docs, "ClusterRole") if doc["metadata"]["labels"].get(label) == "true"
    ]


def granted(roles: list[dict[str, Any]], resource: str) -> set[str]:
    return {
        verb
        for role in roles
        for rule in role["rules"]
        if "ramp.dev" in rule["apiGroups"] and resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_rendered_chart_aggregates_rollout_permissions_into_admin_edit_and_view(
    helm: Helm, namespace: str, tmp_path: Path
) -> None:
    docs = render(helm, namespace, values_file(tmp_path, {}))
    for to in ("admin", "edit"):
        roles = aggregated(docs, to)
        assert roles, f"no ClusterRole aggregated into {to}"
        assert granted(roles, "rollouts") == EDIT_VERBS
        assert granted(roles, "rolloutpolicies") == EDIT_VERBS
        # What the CLI actions need: they write the status subresource, never spec.
        assert granted(roles, "rollouts/status") == {"get", "patch"}
    view = aggregated(docs, "view")
    assert granted(view, "rollouts") == {"get", "list", "watch"}
    assert granted(view, "rollouts/status") == {"get", "list", "watch"}
    assert granted(view, "rolloutpolicies") == {"get", "list", "watch"}
    # Nothing but Rollouts is added to the built-in roles.
    for to in ("admin", "edit", "view"):
        for role in aggregated(docs, to):
            assert all(rule["apiGroups"] == ["ramp.dev"] for rule in role["rules"]), role

    off = render(helm, namespace, values_file(tmp_path, {"aggregateRoles": {"enabled": False}}))
    assert not any(aggregated(off, to) for to in ("admin", "edit", "view"))


@pytest.mark.parametrize(
    ("section", "key", "flag", "allowed"),
    [
        (
            "prometheus",
            "allowedAddresses",
            "--prometheus-allow",
            ["http://prometheus.monitoring:9090", "https://thanos.example/tenant-a/*"],
        ),
        (
            "webhooks",
            "allowedURLs",
            "--webhook-allow",
            ["https://hooks.slack.com/services/*", "http://alerts.monitoring:8080/ramp"],
        ),
    ],
)
def test_rendered_deployment_passes_the_allow_lists(
    helm: Helm,
    namespace: str,
    tmp_path: Path,
    section: str,
    key: str,
    flag: str,
    allowed: list[str],
) -> None:
    assert not any(
        a.startswith(flag)
        for a in operator_args(render(helm, namespace, values_file(tmp_path, {})))
    )
    docs = render(helm, namespace, values_file(tmp_path, {section: {key: allowed}}))
    args = operator_args(docs)
    assert [a for a in args if a.startswith(flag)] == [f"{flag}={pattern}" for pattern in allowed]


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("prometheus.allowedAddresses={prometheus:9090}", "prometheus/allowedAddresses"),
        ("prometheus.allowedAddresses={http://*.example/}", "prometheus/allowedAddresses"),
        ("prometheus.allowedAddresses={http://prometheus.monitoring*}", "prometheus/allowed"),
        ("webhooks.allowedURLs={http://hooks.example*}", "webhooks/allowedURLs"),
        ("webhooks.allowedURL={https://hooks.example/*}", "webhooks"),
        ("aggregateRoles.enabled=maybe", "aggregateRoles/enabled"),
        ("watchNamespaces=x", "watchNamespaces"),
        ("secretNames=hook", "secretNames"),
        ("replicas=2,leaderElection.enabled=false", "replicas"),
        ("leaderElection.leaseDuration=1", "leaderElection/leaseDuration"),
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

    def lease_args(self) -> tuple[str, ...]:
        """The Lease the chart's operator campaigns for (in its pod, POD_NAMESPACE says where)."""
        return ("--lease-namespace", self.namespace, "--lease-name", f"{self.release}-ramp")

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
    eventually(
        ops.deployment_available, timeout=180, what="the operator Deployment to be Available"
    )
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
        ("get", "rolloutpolicies.ramp.dev", ()),
        ("list", "rolloutpolicies.ramp.dev", ()),
        ("watch", "rolloutpolicies.ramp.dev", ()),
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
        ("create", "rolloutpolicies.ramp.dev"),
        ("patch", "rolloutpolicies.ramp.dev"),
        ("create", "pods"),
    ]:
        assert not ops.can(verb, resource, elsewhere), f"can {verb} {resource}, should not"
    assert not ops.can("delete", "customresourcedefinitions.apiextensions.k8s.io")

    lease = f"leases.coordination.k8s.io/{ops.release}-ramp"
    for verb in ("get", "update"):
        assert ops.can(verb, lease, ops.namespace), f"cannot {verb} its leader Lease"
    assert ops.can("create", "leases.coordination.k8s.io", ops.namespace)
    assert not ops.can("update", "leases.coordination.k8s.io/other", ops.namespace)
    assert not ops.can("create", "leases.coordination.k8s.io", elsewhere)


def test_namespaced_install_is_confined_to_its_watched_namespaces(
    install: Callable[[dict[str, Any]], Installed],
    namespace: str,
    make_namespace: Callable[[], str],
) -> None:
    watched, unwatched = make_namespace(), make_namespace()
    ops = install({"watchNamespaces": [watched], "secretNames": [NAMED_SECRET]})
    eventually(
        ops.deployment_available, timeout=180, what="the operator Deployment to be Available"
    )

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


def can_user(
    cluster: Cluster, user: str, verb: str, resource: str, namespace: str, *extra: str
) -> bool:
    result = cluster.kubectl(
        "auth", "can-i", verb, resource, "--as", user, "--namespace", namespace, *extra, check=False
    )
    answer = result.stdout.strip()
    if answer not in ("yes", "no"):
        raise AssertionError(f"kubectl auth can-i {verb} {resource} --as {user}: {result.stderr}")
    return answer == "yes"


def bind_builtin_role(cluster: Cluster, namespace: str, role: str, user: str) -> None:
    cluster.kubectl(
        "create",
        "rolebinding",
        f"{role}-{user}",
        f"--clusterrole={role}",
        f"--user={user}",
        "--namespace",
        namespace,
    )


def test_namespace_admin_editor_and_viewer_get_rollouts_from_the_builtin_roles(
    cluster: Cluster,
    install: Callable[[dict[str, Any]], Installed],
    make_namespace: Callable[[], str],
) -> None:
    team = make_namespace()
    for role in ("admin", "edit", "view"):
        bind_builtin_role(cluster, team, role, f"team-{role}")
    # Only the RoleBindings to the built-in roles: no Rollout-specific RBAC for the team.
    ops = install({"replicas": 0})
    # Other releases of the chart on a shared cluster aggregate the same rules: check that this
    # release installed its own aggregated roles, then what they grant.
    rbac = client.RbacAuthorizationV1Api(cluster.api)
    prefix = f"{ops.release}-ramp-{ops.namespace}"
    for name, to in (("aggregate-to-edit", ("admin", "edit")), ("aggregate-to-view", ("view",))):
        labels = rbac.read_cluster_role(f"{prefix}-{name}").metadata.labels
        for role in to:
            assert labels.get(f"rbac.authorization.k8s.io/aggregate-to-{role}") == "true"

    # The clusterrole-aggregation controller folds the chart's rules in asynchronously.
    eventually(
        lambda: can_user(cluster, "team-admin", "create", "rollouts.ramp.dev", team),
        timeout=30,
        what="the namespace admin to be allowed to create Rollouts",
    )
    for user in ("team-admin", "team-edit"):
        eventually(
            lambda user=user: can_user(
                cluster, user, "patch", "rollouts.ramp.dev", team, "--subresource=status"
            ),
            timeout=30,
            what=f"{user} to be allowed to patch rollouts/status (the CLI actions)",
        )
        for verb in ("create", "update", "delete", "get", "list"):
            assert can_user(cluster, user, verb, "rollouts.ramp.dev", team), f"{user} {verb}"
            assert can_user(cluster, user, verb, "rolloutpolicies.ramp.dev", team), verb
    eventually(
        lambda: can_user(cluster, "team-view", "list", "rollouts.ramp.dev", team),
        timeout=30,
        what="the viewer to be allowed to list Rollouts",
    )
    assert can_user(cluster, "team-view", "watch", "rollouts.ramp.dev", team)
    assert can_user(cluster, "team-view", "list", "rolloutpolicies.ramp.dev", team)
    assert not can_user(cluster, "team-view", "update", "rolloutpolicies.ramp.dev", team)
    for verb in ("create", "update", "delete", "patch"):
        assert not can_user(cluster, "team-view", verb, "rollouts.ramp.dev", team), verb
    assert not can_user(
        cluster, "team-view", "patch", "rollouts.ramp.dev", team, "--subresource=status"
    )
    # A RoleBinding grants nothing outside its namespace.
    assert not can_user(cluster, "team-admin", "create", "rollouts.ramp.dev", make_namespace())


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
        account_kubeconfig(cluster, ops, tmp_path / "kubeconfig"),
        [watched],
        tmp_path / "op.log",
        ops.lease_args(),
    )
    process.start()
    with stopping(cluster, [process]):
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
        wait_phase(
            cluster, watched, "scoped", "Completed", timeout=60, what="the rollout to complete"
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
        account_kubeconfig(cluster, ops, tmp_path / "kubeconfig"),
        [],
        tmp_path / "op.log",
        ops.lease_args(),
    )
    process.start()
    with stopping(cluster, [process]):
        run_to_completion(
            cluster,
            anywhere,
            "wide",
            "1s",
            timeout=60,
            what="the rollout in an unwatched-by-name namespace to complete",
        )
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
