"""Flux's source-controller and kustomize-controller, built by testbed/build-flux.sh, running as
processes against the testbed with their CRDs installed, as a cluster running Flux would."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.cluster import ROOT, Cluster, run_tool
from tests.support.eventually import eventually
from tests.support.operator_process import free_port
from tests.support.processes import log_tail, stop_child

SOURCE = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")
KUSTOMIZE = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")


def flux_dir() -> Path:
    """Where build-flux.sh keeps the binaries and crds/ (it builds them on a cold cache)."""
    out = run_tool(["bash", str(ROOT / "testbed" / "build-flux.sh")], timeout=3600).stdout
    return Path(out.strip().splitlines()[-1])


class Controller:
    """One Flux controller process, bound to loopback ports of its own."""

    def __init__(self, binary: Path, log: Path, cluster: Cluster, *args: str) -> None:
        self.health = free_port()
        self.log = log
        argv = [str(binary), f"--health-addr=127.0.0.1:{self.health}"]
        argv += [f"--metrics-addr=127.0.0.1:{free_port()}", "--log-level=debug", *args]
        env = {**os.environ, "KUBECONFIG": cluster.kubeconfig, "RUNTIME_NAMESPACE": "flux-system"}
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.log.name} exited {self.proc.returncode}:\n{self.tail()}")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health}/readyz", timeout=1) as r:
            return bool(r.status == 200)

    def stop(self) -> None:
        stop_child(self.proc, timeout=15)

    def tail(self, lines: int = 40) -> str:
        return log_tail(self.log, lines)


class Flux:
    """source-controller and kustomize-controller watching every namespace."""

    def __init__(self, cluster: Cluster, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.controllers: list[Controller] = []

    def start(self) -> None:
        built = flux_dir()
        self.cluster.kubectl(
            "apply", "--server-side", "--force-conflicts", "-f", str(built / "crds")
        )
        for crd in (
            "gitrepositories.source.toolkit.fluxcd.io",
            "kustomizations.kustomize.toolkit.fluxcd.io",
        ):
            self.cluster.kubectl(
                "wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s"
            )
        storage = self.workdir / "artifacts"
        storage.mkdir(parents=True, exist_ok=True)
        artifacts = f"127.0.0.1:{free_port()}"
        self.controllers = [
            Controller(
                built / "source-controller",
                self.workdir / "source-controller.log",
                self.cluster,
                f"--storage-path={storage}",
                f"--storage-addr={artifacts}",
                f"--storage-adv-addr={artifacts}",
            ),
            Controller(
                built / "kustomize-controller",
                self.workdir / "kustomize-controller.log",
                self.cluster,
            ),
        ]
        for c in self.controllers:
            eventually(c.ready, timeout=60, what=f"{c.log.stem} to answer /readyz")

    def stop(self) -> None:
        for c in self.controllers:
            c.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {c.log.name} ---\n{c.tail()}" for c in self.controllers)


def git_repository(name: str, url: str, interval: str = "2s") -> dict[str, Any]:
    group, version, _ = SOURCE
    return {
        "apiVersion": f"{group}/{version}",
        "kind": "GitRepository",
        "metadata": {"name": name},
        "spec": {"url": url, "interval": interval, "ref": {"branch": "main"}, "timeout": "20s"},
    }


def kustomization(
    name: str, source: str, namespace: str, health: list[dict[str, str]], interval: str = "3s"
) -> dict[str, Any]:
    """Synced with pruning, and health checks on the objects in ``health``."""
    group, version, _ = KUSTOMIZE
    return {
        "apiVersion": f"{group}/{version}",
        "kind": "Kustomization",
        "metadata": {"name": name},
        "spec": {
            "interval": interval,
            "retryInterval": interval,
            "path": "./",
            "prune": True,
            "healthChecks": health,
            "timeout": "30s",  # the least Flux waits for health checks
            "targetNamespace": namespace,
            "sourceRef": {"kind": "GitRepository", "name": source},
        },
    }
