"""What people and Prometheus see: `ramp list`, `ramp status` (also as `kubectl ramp`), clear
CLI errors, `kubectl get rollouts -o wide`, and the operator's own /metrics."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, ramp, rollout_manifest, status, wait_phase

PHASES = [
    {"name": "canary", "percentage": 5, "duration": "1h"},
    {"name": "quarter", "percentage": 25, "duration": "4h", "approval": "Manual"},
    {"name": "everyone", "percentage": 100},
]


def progressing(cluster: Cluster, namespace: str) -> None:
    apply(cluster, namespace, rollout_manifest("shown", PHASES))
    wait_phase(cluster, namespace, "shown", "Progressing", what="the rollout Progressing")


def test_list_and_status_show_phase_step_percentage_and_next_promotion(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    progressing(cluster, namespace)
    listed = ramp(cluster, "list", "-n", namespace).stdout
    row = next(line for line in listed.splitlines() if "shown" in line)
    assert re.search(r"shown\s+Progressing\s+1/3 canary\s+5%", row), listed

    shown = ramp(cluster, "status", "shown", "-n", namespace).stdout
    assert "Progressing" in shown and "1/3 canary" in shown
    assert re.search(r"Next promotion\s+in (59m|1h)", shown), shown
    for phase in ("canary", "quarter", "everyone"):
        assert phase in shown
    assert "Manual" in shown


def test_kubectl_plugin_runs_the_same_cli(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    progressing(cluster, namespace)
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "kubectl-ramp").exists(), "console script kubectl-ramp is not installed"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "KUBECONFIG": cluster.kubeconfig,
    }
    result = subprocess.run(
        ["kubectl", "ramp", "status", "shown", "-n", namespace],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "1/3 canary" in result.stdout


def test_wide_columns_and_clear_errors(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    progressing(cluster, namespace)
    wide = cluster.kubectl("get", "rollouts", "-n", namespace, "-o", "wide").stdout
    header = wide.splitlines()[0].split()
    assert header[:6] == ["NAME", "PHASE", "STEP", "PERCENT", "HEALTH", "AGE"], header
    assert len(header) > 6, "-o wide shows more columns"
    # NEXT is the time itself: a date column would show "<invalid>" for a future time.
    due = status(cluster, namespace, "shown")["nextPromotionAt"]
    row = next(line for line in wide.splitlines() if line.startswith("shown"))
    assert row[wide.splitlines()[0].index("NEXT") :].split()[0] == due, wide

    unknown = ramp(cluster, "promote", "nope", "-n", namespace, check=False)
    assert unknown.returncode != 0
    assert f'rollout "nope" not found in namespace "{namespace}"' in unknown.stderr

    retry = ramp(cluster, "retry", "shown", "-n", namespace, check=False)
    assert retry.returncode != 0
    assert "retry" in retry.stderr and "Progressing" in retry.stderr


def test_operator_metrics_report_phase_percentage_and_transitions(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    progressing(cluster, namespace)
    labels = f'namespace="{namespace}",rollout="shown"'

    def line(metric: str, extra: str, value: str) -> str:
        # The exposition format sorts labels by name.
        return f'{metric}{{namespace="{namespace}",{extra},rollout="shown"}} {value}'

    def exported() -> str:
        text = operator.metrics()
        wanted = (
            f"ramp_rollout_percentage{{{labels}}} 5.0",
            line("ramp_rollout_phase", 'phase="Progressing"', "1.0"),
        )
        return text if all(line in text for line in wanted) else ""

    text = eventually(exported, timeout=30, what="percentage 5 and phase Progressing exported")
    assert line("ramp_rollout_phase", 'phase="Completed"', "0.0") in text
    assert line("ramp_rollout_transitions_total", 'reason="Started"', "1.0") in text
    assert "ramp_reconcile_duration_seconds_count" in text
    assert "ramp_metric_query_errors_total" in text


def test_status_watch_prints_each_change_until_interrupted(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    phases = [
        {"name": "canary", "percentage": 10, "duration": "2s"},
        {"name": "everyone", "percentage": 100},
    ]
    apply(cluster, namespace, rollout_manifest("watched", phases))
    watcher = subprocess.Popen(
        [sys.executable, "-m", "ramp", "status", "watched", "-n", namespace, "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KUBECONFIG": cluster.kubeconfig},
    )
    lines: list[str] = []
    deadline = threading.Timer(60, watcher.kill)  # a watcher that never sees Completed fails
    deadline.start()
    try:
        assert watcher.stdout is not None
        for line in watcher.stdout:  # ends when the watcher is killed or exits
            lines.append(line)
            if "Completed" in line:
                break
    finally:
        deadline.cancel()
        watcher.kill()
        watcher.wait(timeout=10)
    assert any("Completed" in line and "100%" in line for line in lines), lines
    assert any("Progressing" in line and "1/2 canary" in line for line in lines), lines
