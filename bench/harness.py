"""What the benchmarks share: the running testbed, the real operator process, and polling.

The operator runs exactly as the integration tests run it (tests/support/operator_process.py),
so a benchmark measures the process the tests prove correct. Benchmarks run from the repository
root as modules (`.venv/bin/python -m bench.reaction`), so `tests.support` imports as it does
under pytest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.cluster import ROOT, Cluster
from tests.support.operator_process import OperatorProcess, install_crd

STATE = Path(os.environ.get("RAMP_TESTBED_DIR", ROOT / ".testbed"))


def connect() -> Cluster:
    """The cluster `make cluster` started, with the Rollout CRD applied."""
    kubeconfig = STATE / "kubeconfig"
    url_file = STATE / "prometheus.url"
    if not kubeconfig.exists() or not url_file.exists():
        raise SystemExit(f"no testbed in {STATE}: start it first (`make cluster`)")
    cluster = Cluster.connect(STATE, str(kubeconfig), url_file.read_text().strip())
    install_crd(cluster)
    return cluster


def start_operator(cluster: Cluster, namespace: str, log: Path) -> OperatorProcess:
    """`ramp run --namespace NAMESPACE`, healthy, logging to ``log``."""
    operator = OperatorProcess(cluster, [namespace], log)
    operator.start()
    return operator


def wait(predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.01) -> float:
    """Poll until true; return the time it became true (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return time.perf_counter()
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
