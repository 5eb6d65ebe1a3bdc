"""`make cluster` is idempotent, `make cluster-down` leaves nothing behind, and a component that
fails to start is named with the tail of its log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cluster import load_testbed

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = [sys.executable, str(ROOT / "testbed" / "cluster.py")]


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLUSTER, *args],
        env={**os.environ, "RAMP_TESTBED_DIR": str(tmp)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.cluster
def test_second_up_reports_running_cluster_and_down_leaves_no_process(tmp_path: Path) -> None:
    first = run(tmp_path, "up")
    assert first.returncode == 0, first.stderr
    pids = json.loads((tmp_path / "state.json").read_text())["pids"]
    assert set(pids) == {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
        "prometheus",
    }
    assert all(pid_alive(pid) for pid in pids.values())
    assert (tmp_path / "kubeconfig").exists()
    assert (tmp_path / "prometheus.url").read_text().startswith("http://127.0.0.1:")

    second = run(tmp_path, "up")
    assert second.returncode == 0
    assert "already up" in second.stdout

    down = run(tmp_path, "down")
    assert down.returncode == 0, down.stderr
    assert not [name for name, pid in pids.items() if pid_alive(pid)]
    assert not (tmp_path / "prometheus.url").exists()


def test_component_that_fails_to_start_is_named_with_its_log(tmp_path: Path) -> None:
    testbed = load_testbed()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    broken = bin_dir / "etcd"
    broken.write_text("#!/bin/sh\necho 'listen tcp: address already in use' >&2\nexit 1\n")
    broken.chmod(0o755)
    tb = testbed.Testbed(dir=tmp_path, bin=bin_dir)
    with pytest.raises(testbed.ComponentFailed) as failure:
        testbed.start_etcd(tb)
    message = str(failure.value)
    assert message.startswith("etcd exited before it was ready")
    assert "address already in use" in message
