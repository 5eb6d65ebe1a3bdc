"""The real operator as tests and benchmarks run it: `ramp run` as a child process, killable and
restartable like a real deployment, and the Rollout CRD it serves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cluster import ROOT, Cluster
from tests.support.eventually import eventually
from tests.support.processes import log_tail, stop_child
from tests.support.rollouts import GROUP, PLURAL, VERSION

CRD = ROOT / "crds" / "ramp.dev_rollouts.yaml"
POLICY_CRD = ROOT / "crds" / "ramp.dev_rolloutpolicies.yaml"

TEST_LEASE_DURATION = "4"
"""Seconds of the leader Lease for operators in tests (15 in production)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def install_crd(cluster: Cluster) -> str:
    """The generated Rollout CRD (and the RolloutPolicy CRD), applied and Established; the
    Rollout CRD's name."""
    for crd in (CRD, POLICY_CRD):
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd))
        name = yaml.safe_load(crd.read_text())["metadata"]["name"]
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
    return str(yaml.safe_load(CRD.read_text())["metadata"]["name"])


class OperatorProcess:
    """`ramp run` as a child process, killable and restartable like a real deployment."""

    def __init__(
        self, cluster: Cluster, namespaces: list[str], log: Path, extra: tuple[str, ...] = ()
    ) -> None:
        self.cluster = cluster
        self.namespaces = namespaces
        self.extra = extra
        self.log = log
        self.health_port = free_port()
        self.metrics_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [sys.executable, "-m", "ramp", "run", "--health-port", str(self.health_port)]
        args += ["--metrics-port", str(self.metrics_port), "--bind-address", "127.0.0.1"]
        for ns in self.namespaces:
            args += ["--namespace", ns]
        if not self.namespaces:
            args.append("--all-namespaces")
        if "--lease-duration" not in self.extra:
            # Leader election is on by default, and a restarted operator (a new identity) waits
            # for its killed predecessor's Lease to run out: keep that wait short in tests.
            args += ["--lease-duration", TEST_LEASE_DURATION]
        args += self.extra
        env = {**os.environ, "KUBECONFIG": self.cluster.kubeconfig, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        eventually(self.healthy, timeout=30, what=f"the operator to answer /healthz ({self.log})")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"operator exited {self.proc.returncode}:\n{self.tail()}")
        url = f"http://127.0.0.1:{self.health_port}/healthz"
        with urllib.request.urlopen(url, timeout=1) as r:
            return bool(r.status == 200)

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=2) as r:
            return str(r.read().decode())

    def sample(self, name: str, text: str | None = None, **labels: str) -> float:
        """The sum of the operator's samples called ``name`` whose labels include ``labels``,
        from ``text`` (one read of /metrics) or a new read."""
        total = 0.0
        for family in text_string_to_metric_families(text or self.metrics()):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    total += sample.value
        return total

    def work_requests(self) -> dict[str, float]:
        """API requests the operator sent, besides renewing its leader Lease, by "METHOD
        resource", from one read of /metrics (a renewal between two reads would show a request
        less); a failed comparison names the request that was not expected."""
        counts: dict[str, float] = {}
        for family in text_string_to_metric_families(self.metrics()):
            for sample in family.samples:
                if sample.name == "ramp_api_requests_total":
                    labels = sample.labels
                    if labels["resource"] != "leases":
                        counts[f"{labels['method']} {labels['resource']}"] = sample.value
        return counts

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, as when a node dies."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_child(self.proc, timeout=15)

    def tail(self, lines: int = 60) -> str:
        return log_tail(self.log, lines)


def release_rollouts(cluster: Cluster, namespace: str) -> None:
    """Delete the test's Rollouts while the operator runs, so it restores workers and lifts its
    finalizer; otherwise the namespace would stay Terminating with nobody to finalize them."""
    cluster.custom.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)

    def none_left() -> bool:
        found = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        return not found["items"]

    eventually(none_left, timeout=30, what=f"the Rollouts in {namespace} finalized and gone")


@contextmanager
def stopping(cluster: Cluster, processes: list[OperatorProcess]) -> Iterator[None]:
    """At the end, whatever happened: the Rollouts of the namespaces the operators watch
    released while one of them still runs (so it lifts its finalizers), then each stopped.
    ``processes`` is read at the end: a test may add to it on the way."""
    try:
        yield
    finally:
        try:
            if any(p.running for p in processes):
                for namespace in sorted({ns for p in processes for ns in p.namespaces}):
                    release_rollouts(cluster, namespace)
        finally:
            for process in processes:
                process.stop()


@contextmanager
def running_operator(
    cluster: Cluster, namespaces: list[str], log: Path, extra: tuple[str, ...] = ()
) -> Iterator[OperatorProcess]:
    """`ramp run` for ``namespaces`` (all when empty), started and healthy; at the end its
    Rollouts are released and it is stopped (see `stopping`)."""
    process = OperatorProcess(cluster, namespaces, log, extra)
    process.start()
    with stopping(cluster, [process]):
        yield process
