"""The testbed as the tests and the benchmarks reach it: the operator's own API clients
(`ramp.k8s.clients.Clients`) plus kubectl, the kubeconfig and the local Prometheus.

`tests/conftest.py` makes one per session (the `cluster` fixture); `bench/` connects to a running
testbed with `Cluster.connect`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from kubernetes import client, config

from ramp.k8s.clients import Clients

ROOT = Path(__file__).resolve().parents[2]


def load_testbed() -> ModuleType:
    """testbed/cluster.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("ramp_testbed", ROOT / "testbed" / "cluster.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ramp_testbed"] = module
    spec.loader.exec_module(module)
    return module


def run_tool(
    command: list[str],
    *args: str,
    check: bool = True,
    timeout: float = 60,
    input: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command-line tool the way a user would; with ``check``, a failure is an assertion
    that names the command and carries what the tool printed."""
    proc = subprocess.run(
        [*command, *args], input=input, capture_output=True, text=True, timeout=timeout, env=env
    )
    if check and proc.returncode != 0:
        name = os.path.basename(command[-1] if command[0] == sys.executable else command[0])
        raise AssertionError(
            f"{name} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
        )
    return proc


@dataclass(frozen=True)
class Cluster(Clients):
    """A running testbed (`api` is its admin client, unbounded: tests set their own timeouts)."""

    dir: Path
    kubeconfig: str
    prometheus_url: str
    targets_dir: Path

    @classmethod
    def connect(cls, dir: Path, kubeconfig: str, prometheus_url: str) -> Cluster:
        api = config.new_client_from_config(config_file=kubeconfig)
        return cls(api, dir, kubeconfig, prometheus_url, dir / "targets")

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run_tool(
            ["kubectl", f"--kubeconfig={self.kubeconfig}"], *args, input=input, check=check
        )

    def add_scrape_target(self, name: str, address: str) -> Path:
        """Have Prometheus scrape ``address`` (host:port) every second, as job ``ramp-testbed``."""
        path = self.targets_dir / f"{name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([{"targets": [address], "labels": {"exporter": name}}]))
        tmp.rename(path)
        return path


def create_namespace(cluster: Cluster) -> str:
    """A namespace with a fresh name; the caller deletes it."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


@contextmanager
def fresh_namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace with a fresh name, deleted at the end."""
    name = create_namespace(cluster)
    try:
        yield name
    finally:
        cluster.core.delete_namespace(name, propagation_policy="Background")
