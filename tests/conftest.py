"""Fixtures shared by every test tier.

`cluster` brings the real local control plane up once per session (reusing one started by
`make cluster`, which it then leaves running) and down again at the end if it started it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from kubernetes import client, config

from tests.support.listener import Listener

ROOT = Path(__file__).resolve().parent.parent


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


@dataclass
class Cluster:
    dir: Path
    kubeconfig: str
    api_client: client.ApiClient
    prometheus_url: str
    targets_dir: Path

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api_client)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

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


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    testbed = load_testbed()
    tb = testbed.Testbed(dir=testbed.testbed_dir())
    tb.load()
    started = False
    if not testbed.is_up(tb):
        testbed.build_binaries(tb)
        testbed.up(tb)
        started = True
    tb.load()
    kubeconfig = str(tb.kubeconfig)
    os.environ["KUBECONFIG"] = kubeconfig
    api_client = config.new_client_from_config(config_file=kubeconfig)
    try:
        yield Cluster(
            dir=tb.dir,
            kubeconfig=kubeconfig,
            api_client=api_client,
            prometheus_url=str(tb.state["prometheus_url"]),
            targets_dir=tb.dir / "targets",
        )
    finally:
        api_client.close()
        if started and not os.environ.get("RAMP_KEEP_CLUSTER"):
            testbed.stop(tb, quiet=True)


def create_namespace(cluster: Cluster) -> str:
    """A namespace with a fresh name; the caller deletes it."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = create_namespace(cluster)
    try:
        yield name
    finally:
        cluster.core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture
def webhook() -> Iterator[Listener]:
    """A webhook receiver on loopback that accepts every delivery (tests may answer otherwise)."""
    listener = Listener()
    listener.answer(200, b"ok")
    yield listener
    listener.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    # Lets fixtures see whether the test failed, to print logs only when they help.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
