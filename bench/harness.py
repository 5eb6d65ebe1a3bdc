"""What the benchmarks share: the running testbed, the real operator process, and polling.

The operator runs exactly as the integration tests run it (`tests.integration.conftest`), so a
benchmark measures the process the tests prove correct.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes import config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "operator"))

from tests.conftest import Cluster  # noqa: E402
from tests.integration.conftest import OperatorProcess  # noqa: E402

STATE = Path(os.environ.get("RAMP_TESTBED_DIR", ROOT / ".testbed"))
CRD = ROOT / "crds" / "ramp.dev_rollouts.yaml"
POLICY_CRD = ROOT / "crds" / "ramp.dev_rolloutpolicies.yaml"


def connect() -> Cluster:
    """The cluster `make cluster` started, with the Rollout CRD applied."""
    kubeconfig = STATE / "kubeconfig"
    url_file = STATE / "prometheus.url"
    if not kubeconfig.exists() or not url_file.exists():
        raise SystemExit(f"no testbed in {STATE}: start it first (`make cluster`)")
    cluster = Cluster(
        dir=STATE,
        kubeconfig=str(kubeconfig),
        api_client=config.new_client_from_config(config_file=str(kubeconfig)),
        prometheus_url=url_file.read_text().strip(),
        targets_dir=STATE / "targets",
    )
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(POLICY_CRD))
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
