"""`make demo` runs end to end: one rollout completes, the other rolls back by itself; the
operator keeps running afterwards for exploring, until `make demo-stop`."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.cluster import ROOT, Cluster


def demo(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """examples/demo-app/demo.py, as `make demo` and `make demo-stop` run it."""
    script = ROOT / "examples" / "demo-app" / "demo.py"
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_demo_completes_one_rollout_and_rolls_back_the_other(cluster: Cluster) -> None:
    result = demo("--plain", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "checkout-v2 Completed; search-v2 RolledBack by itself." in result.stdout
    # The rollback was decided by the health check, not by a timeout or an action.
    assert "rolled back from" in result.stdout and "error-rate" in result.stdout

    # The operator stays for exploring (and for a first own Rollout), and says how to stop it.
    pid = int((cluster.dir / "demo-operator.pid").read_text())
    os.kill(pid, 0)  # raises if it is gone
    assert "make demo-stop" in result.stdout
    stopped = demo("--stop", timeout=60)
    assert "stopped the demo's operator" in stopped.stdout, stopped.stdout + stopped.stderr
    assert not (cluster.dir / "demo-operator.pid").exists()
