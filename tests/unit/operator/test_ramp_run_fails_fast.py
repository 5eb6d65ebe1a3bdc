"""`ramp run` that cannot start says so in one line naming the flag, and exits: no traceback,
no retry loop. Its metrics port is not Prometheus's own, in the CLI, the chart and the image."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import yaml

from ramp.runtime.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[3]

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


def ramp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ramp", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def one_line(answer: subprocess.CompletedProcess[str]) -> str:
    assert answer.returncode == 1, (answer.stdout, answer.stderr)
    assert "Traceback" not in answer.stderr, answer.stderr
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_without_credentials_it_names_the_flag_and_exits(tmp_path: Path) -> None:
    env = {"KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)}
    line = one_line(ramp("run", "-n", "reports", "--no-leader-elect", env=env))
    assert line.startswith("error: cannot load Kubernetes credentials"), line
    assert "--kubeconfig" in line


def test_a_taken_metrics_port_names_the_flag_and_exits(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        answer = ramp(
            "run",
            "-n",
            "reports",
            "--no-leader-elect",
            "--bind-address=127.0.0.1",
            f"--metrics-port={port}",
            f"--kubeconfig={kubeconfig}",
        )
    line = one_line(answer)
    assert line.startswith(f"error: --metrics-port {port}:"), line
    assert "give --metrics-port another port" in line


def test_the_metrics_port_is_not_prometheus_own_anywhere() -> None:
    port = OperatorSettings().metrics_port
    assert port != 9090
    values = yaml.safe_load((ROOT / "charts" / "ramp" / "values.yaml").read_text())
    assert values["metrics"]["port"] == port
    assert values["health"]["port"] == OperatorSettings().health_port
    exposed = next(
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("EXPOSE")
    )
    assert exposed.split()[1:] == [str(OperatorSettings().health_port), str(port)]


def test_version() -> None:
    answer = ramp("--version")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == f"ramp {version('ramp-operator')}"
