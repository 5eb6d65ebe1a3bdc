"""`make demo` runs end to end: one rollout completes, the other rolls back by itself."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, Cluster


def test_demo_completes_one_rollout_and_rolls_back_the_other(cluster: Cluster) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo-app" / "demo.py"), "--plain"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "checkout-v2 Completed; search-v2 RolledBack by itself." in result.stdout
    # The rollback was decided by the health check, not by a timeout or an action.
    assert "rolled back from" in result.stdout and "error-rate" in result.stdout
