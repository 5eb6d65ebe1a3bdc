"""With Prometheus gone nothing is promoted; after errorLimit errors the failure policy applies."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.analysis import analysed_rollout
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess, free_port
from tests.support.rollouts import apply, status, wait_phase, wait_published


class OwnPrometheus:
    """A second real Prometheus that this test alone may stop."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (tmp / "prometheus.yml").write_text("global: {scrape_interval: 1s}\nscrape_configs: []\n")
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        self.log = tmp / "prometheus.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={tmp / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def ready(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture
def own_prometheus(tmp_path: Path) -> Iterator[OwnPrometheus]:
    prometheus = OwnPrometheus(tmp_path)
    eventually(prometheus.ready, timeout=30, what=f"Prometheus to be ready ({prometheus.log})")
    yield prometheus
    prometheus.stop()


def test_prometheus_stopped_holds_then_rolls_back_after_error_limit(
    cluster: Cluster, namespace: str, operator: OperatorProcess, own_prometheus: OwnPrometheus
) -> None:
    always_fine = {"name": "errors", "query": "vector(0)", "critical": {"above": 0.05}}
    manifest = analysed_rollout(
        cluster,
        "blind",
        namespace,
        [always_fine],
        address=own_prometheus.url,
        phases=[
            {"name": "canary", "percentage": 10, "duration": "1s"},
            {"name": "half", "percentage": 50, "duration": "30s"},
            {"name": "everyone", "percentage": 100},
        ],
    )
    manifest["spec"]["analysis"]["errorLimit"] = 5
    apply(cluster, namespace, manifest)
    wait_phase(
        cluster,
        namespace,
        "blind",
        "Progressing",
        "half",
        what="promotion to the second phase while Prometheus answers",
    )
    own_prometheus.stop()

    def errors() -> int:
        metrics = status(cluster, namespace, "blind").get("metrics") or [{}]
        return int(metrics[0].get("consecutiveErrors") or 0)

    eventually(lambda: errors() >= 2, timeout=30, what="query errors to be counted")
    held = status(cluster, namespace, "blind")
    assert (held["phase"], held["currentPhase"]) == ("Progressing", "half")
    assert held["metrics"][0]["verdict"] == "Error"
    wait_phase(
        cluster, namespace, "blind", "RolledBack", what="the failure policy after errorLimit errors"
    )
    final = status(cluster, namespace, "blind")
    assert "query failed (5/5)" in final["message"]
    wait_published(
        cluster, namespace, "blind-flag", "0", timeout=5, what="0 % published after the rollback"
    )
