"""A Deployment's pod, run from its real image with podman, the way a kubelet would run it.

kwok nodes never start containers, so to run the operator image against the testbed this module
plays the kubelet's part for one container of a pod template: the image's entrypoint with the
template's command and args, its env (downward-API fields resolved), its security context, an
emptyDir as a tmpfs, and the ServiceAccount token, CA and namespace mounted at the path every
in-cluster client reads, with KUBERNETES_SERVICE_HOST/PORT pointing at the apiserver.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.support.cluster import Cluster, run_tool

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

PODMAN = (
    # What works on these machines as root: runc (crun fails on the hybrid cgroup layout) and
    # cgroupfs (no systemd), ulimits at or under the machine's hard limits.
    "--runtime",
    "runc",
    "--cgroup-manager",
    "cgroupfs",
)
RUN_LIMITS = ("--ulimit", "nofile=10000:10000", "--ulimit", "nproc=1024:1024")


def podman() -> list[str]:
    found = shutil.which("podman")
    if found is None:
        raise AssertionError("podman not found: `make image` (testbed/image.sh) installs it")
    return [found, *PODMAN]


def image_exists(image: str) -> bool:
    return run_tool(podman(), "image", "exists", image, check=False).returncode == 0


def apiserver(cluster: Cluster) -> tuple[str, str, bytes]:
    """Host, port and CA certificate (PEM) of the testbed's apiserver, from its kubeconfig."""
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    (entry,) = config["clusters"]
    server = urlsplit(entry["cluster"]["server"])
    assert server.hostname is not None
    assert server.port is not None
    if "certificate-authority-data" in entry["cluster"]:
        ca = base64.b64decode(entry["cluster"]["certificate-authority-data"])
    else:
        ca = Path(entry["cluster"]["certificate-authority"]).read_bytes()
    return server.hostname, str(server.port), ca


def field_value(pod: dict[str, Any], path: str) -> str:
    """A downward-API fieldRef (``metadata.namespace``) of the pod being run."""
    value: Any = pod
    for part in path.split("."):
        value = value[part]
    return str(value)


class PodContainer:
    """One container of a pod template, started with `podman run --network host`."""

    def __init__(
        self,
        cluster: Cluster,
        template: dict[str, Any],
        namespace: str,
        token: str,
        workdir: Path,
        container: str | None = None,
    ) -> None:
        spec = template["spec"]
        containers = spec["containers"]
        self.spec: dict[str, Any] = next(
            (c for c in containers if c["name"] == container), containers[0]
        )
        self.pod_security: dict[str, Any] = spec.get("securityContext") or {}
        self.volumes = {v["name"]: v for v in spec.get("volumes") or []}
        self.pod = {"metadata": {**template.get("metadata", {}), "namespace": namespace}}
        self.pod["spec"] = {"serviceAccountName": spec.get("serviceAccountName", "default")}
        self.name = f"ramp-test-{uuid.uuid4().hex[:8]}"
        self.cluster = cluster
        self.secrets = workdir / "serviceaccount"
        self.write_service_account(namespace, token)

    def write_service_account(self, namespace: str, token: str) -> None:
        """The files a kubelet projects into every pod that mounts its ServiceAccount token,
        readable (0644, defaultMode 420) by the container's non-root user."""
        _, _, ca = apiserver(self.cluster)
        self.secrets.mkdir(parents=True, exist_ok=True)
        for name, content in (("token", token), ("ca.crt", ca), ("namespace", namespace)):
            path = self.secrets / name
            if isinstance(content, str):
                path.write_text(content)
            else:
                path.write_bytes(content)
            path.chmod(0o644)

    def run_args(self) -> list[str]:
        host, port, _ = apiserver(self.cluster)
        args = ["run", "--detach", "--name", self.name, "--network", "host", *RUN_LIMITS]
        args += ["--volume", f"{self.secrets}:{SERVICE_ACCOUNT_DIR}:ro"]
        args += ["--env", f"KUBERNETES_SERVICE_HOST={host}"]
        args += ["--env", f"KUBERNETES_SERVICE_PORT={port}"]
        for env in self.spec.get("env") or []:
            if "value" in env:
                value = str(env["value"])
            else:
                value = field_value(self.pod, env["valueFrom"]["fieldRef"]["fieldPath"])
            args += ["--env", f"{env['name']}={value}"]
        args += self.security_args()
        for mount in self.spec.get("volumeMounts") or []:
            volume = self.volumes[mount["name"]]
            assert "emptyDir" in volume, f"volume {mount['name']}: only emptyDir is supported"
            args += ["--tmpfs", f"{mount['mountPath']}:rw,mode=1777"]
        if "command" in self.spec:
            args += ["--entrypoint", self.spec["command"][0]]
            command_rest = self.spec["command"][1:]
        else:
            command_rest = []
        args += [self.spec["image"], *command_rest, *self.spec.get("args", [])]
        return args

    def security_args(self) -> list[str]:
        """The container's securityContext, merged over the pod's. runAsUser is not passed: the
        image's own USER must be the chart's runAsUser (checked from inside), as a kubelet
        enforcing runAsNonRoot would require of an image it runs."""
        context = {**self.pod_security, **(self.spec.get("securityContext") or {})}
        args: list[str] = []
        if context.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        if context.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        for cap in (context.get("capabilities") or {}).get("drop", []):
            args += ["--cap-drop", cap]
        return args

    def start(self) -> None:
        run_tool(podman(), *self.run_args(), timeout=120)

    def exec(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_tool(podman(), "exec", self.name, *command, check=check, timeout=30)

    def get(self, port: int, path: str) -> str:
        """GET http://127.0.0.1:port/path from inside the container, with its own Python."""
        script = (
            "import sys, urllib.request\n"
            "with urllib.request.urlopen(sys.argv[1], timeout=2) as r:\n"
            "    sys.stdout.write(str(r.status) + '\\n' + r.read().decode())\n"
        )
        out = self.exec("python3", "-c", script, f"http://127.0.0.1:{port}{path}").stdout
        status, _, body = out.partition("\n")
        assert status == "200", f"GET {path} from inside {self.name}: HTTP {status}"
        return body

    def running(self) -> bool:
        state = run_tool(
            podman(), "inspect", "--format", "{{.State.Status}}", self.name, check=False
        ).stdout.strip()
        if state in ("exited", "stopped"):
            raise AssertionError(f"container {self.name} exited:\n{self.logs()}")
        return state == "running"

    def logs(self) -> str:
        proc = run_tool(podman(), "logs", self.name, check=False)
        return proc.stdout + proc.stderr

    def stop(self) -> None:
        run_tool(podman(), "stop", "--time", "15", self.name, check=False, timeout=60)

    def remove(self) -> None:
        run_tool(podman(), "rm", "--force", self.name, check=False, timeout=60)
