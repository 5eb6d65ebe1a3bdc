"""Prometheus behind authentication, with the header read from a Secret; and `ramp simulate
--prometheus` replaying the real history of a metric through a Rollout's thresholds."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from ramp.metrics.prometheus import PrometheusProvider
from tests.support.analysis import analysed_rollout, error_rate
from tests.support.authproxy import TOKEN, AuthProxy
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.exporter import Exporter
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, status, wait_phase

# Credentials from a Secret go only to allowed addresses: the proxies here listen on 127.0.0.1.
OPERATOR_ARGS = ("--prometheus-allow", "http://127.0.0.1:*")


def test_authorization_header_comes_from_the_secret(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    proxy = AuthProxy(cluster.prometheus_url)
    try:
        encoded = base64.b64encode(TOKEN.encode()).decode()
        cluster.core.create_namespaced_secret(
            namespace,
            {"metadata": {"name": "prom-auth"}, "data": {"header": encoded}},
        )
        manifest = analysed_rollout(cluster, "authed", namespace, [error_rate()], address=proxy.url)
        manifest["spec"]["analysis"]["prometheus"]["authorization"] = {
            "secretRef": {"name": "prom-auth", "key": "header"}
        }
        apply(cluster, namespace, manifest)
        wait_phase(
            cluster,
            namespace,
            "authed",
            "Completed",
            timeout=60,
            what="the rollout completed, analysed through the authenticating proxy",
        )
        assert TOKEN in proxy.seen
        assert "pr0m-t0ken" not in operator.log.read_text()
        assert "pr0m-t0ken" not in yaml.safe_dump(status(cluster, namespace, "authed"))
    finally:
        proxy.close()


def test_missing_auth_secret_is_an_error_naming_it(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    manifest = analysed_rollout(cluster, "noauth", namespace, [error_rate()])
    manifest["spec"]["analysis"]["prometheus"]["authorization"] = {
        "secretRef": {"name": "absent", "key": "header"}
    }
    apply(cluster, namespace, manifest)

    def reported() -> str:
        metrics = status(cluster, namespace, "noauth").get("metrics") or [{}]
        return str(metrics[0].get("message") or "")

    message = eventually(
        lambda: "absent" in reported() and reported(), timeout=30, what="a metric error"
    )
    assert f"Secret {namespace}/absent" in message
    # Nobody is exposed while the analysis cannot be answered (I3b): it waits at 0 %.
    waiting = status(cluster, namespace, "noauth")
    assert waiting.get("phase") == "Pending" and not waiting.get("phaseStartedAt"), waiting
    assert "absent" in waiting["message"]


def test_backtest_replays_prometheus_history(
    cluster: Cluster, namespace: str, exporter: Exporter, tmp_path: Path
) -> None:
    query = f'max(ramp_test_error_rate{{exporter="{namespace}"}})'
    provider = PrometheusProvider(cluster.prometheus_url, timeout=5)
    start = datetime.now(UTC) - timedelta(seconds=1)

    def history() -> list[tuple[datetime, float | None]]:
        return provider.query_range(query, start, datetime.now(UTC), 1)

    eventually(
        lambda: sum(1 for _, v in history() if v == 0) >= 8,
        timeout=30,
        what="8 s of healthy history",
    )
    exporter.set_error_rate(0.5)
    eventually(
        lambda: sum(1 for _, v in history() if v == 0.5) >= 6,
        timeout=30,
        what="6 s of breaching history",
    )
    end = datetime.now(UTC)
    manifest = analysed_rollout(
        cluster,
        "replayed",
        namespace,
        [error_rate()],
        phases=[
            {"name": "canary", "percentage": 10, "duration": "3s"},
            {"name": "half", "percentage": 50, "duration": "1h"},
            {"name": "everyone", "percentage": 100},
        ],
    )
    rollout = tmp_path / "rollout.yaml"
    rollout.write_text(yaml.safe_dump(manifest))
    # Replayed through an authenticating proxy, the header from the environment.
    proxy = AuthProxy(cluster.prometheus_url)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ramp",
                "simulate",
                str(rollout),
                "--prometheus",
                proxy.url,
                "--from",
                start.isoformat().replace("+00:00", "Z"),
                "--to",
                end.isoformat().replace("+00:00", "Z"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "RAMP_PROMETHEUS_AUTHORIZATION": TOKEN},
        )
    finally:
        proxy.close()
    assert proxy.seen and all(header == TOKEN for header in proxy.seen)
    assert "pr0m-t0ken" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines() if line.strip().startswith("+")]
    phases = [(words[1], words[2]) for words in lines]
    assert ("Progressing", "half") in phases, result.stdout
    assert phases[-1][0] == "RolledBack", result.stdout
    assert "error-rate 0.5 is above 0.05" in result.stdout
