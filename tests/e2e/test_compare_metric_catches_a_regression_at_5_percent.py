"""Flag-on vs flag-off on the real Prometheus: an app's counters labelled by variant, split by
what the ConfigMap publishes. A 3x regression of the treatment at 5 % rolls back long before
the canary's soak ends, which an aggregate threshold could not do (the aggregate moves from
1.00 % to 1.10 %); the same traffic without a regression completes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cluster import Cluster
from tests.support.cohorts import LABELS, TOTAL, CohortTraffic, compare_metric
from tests.support.eventually import eventually
from tests.support.exporter import query
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, ramp, rollout_manifest, status, wait_phase

CANARY_SOAK = "10m"


def compare_rollout(cluster: Cluster, name: str, exporter: str) -> dict[str, Any]:
    return rollout_manifest(
        name,
        [
            {"name": "canary", "percentage": 5, "duration": CANARY_SOAK},
            {"name": "everyone", "percentage": 100},
        ],
        analysis={
            "interval": "2s",
            "prometheus": {"address": cluster.prometheus_url, "timeout": "2s"},
            "metrics": [compare_metric(exporter, confidence=0.99, minEvents=100)],
        },
        failurePolicy={"action": "Rollback", "rollbackTo": "Zero"},
    )


@pytest.fixture
def traffic(cluster: Cluster, namespace: str) -> Iterator[CohortTraffic]:
    running: list[CohortTraffic] = []

    def start(name: str, treatment_rate: float) -> CohortTraffic:
        app = CohortTraffic(
            cluster, namespace, f"{name}-flag", name, treatment_rate=treatment_rate
        ).start()
        running.append(app)
        return app

    yield start  # type: ignore[misc]
    for app in running:
        app.stop()


def backtest(
    cluster: Cluster, manifest: dict[str, Any], start: datetime, tmp_path: Path
) -> list[list[str]]:
    """`ramp simulate --prometheus` over the traffic recorded since ``start``: timeline rows."""
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(manifest))
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    result = ramp(
        cluster,
        "simulate",
        str(path),
        "--prometheus",
        cluster.prometheus_url,
        "--from",
        start.strftime(stamp),
        "--to",
        datetime.now(UTC).strftime(stamp),
    )
    return [line.split() for line in result.stdout.splitlines() if line.strip().startswith("+")]


def comparison(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    metrics = status(cluster, namespace, name).get("metrics") or [{}]
    return metrics[0].get("compare") or {}


def test_a_3x_regression_at_5_percent_rolls_back_long_before_the_soak_ends(
    cluster: Cluster, namespace: str, operator: OperatorProcess, traffic: Any
) -> None:
    app = traffic("reports", treatment_rate=0.03)
    manifest = compare_rollout(cluster, "reports", f"{namespace}-cohorts")
    apply(cluster, namespace, manifest)
    wait_phase(
        cluster,
        namespace,
        "reports",
        "RolledBack",
        timeout=180,
        what="the rollout rolled back by the compare metric (Wald expects ~35 s at 99 %)",
    )
    rolled = status(cluster, namespace, "reports")
    started = next(h for h in rolled["history"] if h["reason"] == "Started")["time"]
    ended = next(h for h in rolled["history"] if h["phase"] == "RolledBack")["time"]
    assert ended > started
    assert "regressed" in rolled["message"], rolled["message"]
    kept = rolled["snapshot"]["metrics"][0]["compare"]
    assert kept["verdict"] == "Regressed"
    assert kept["treatment"]["failureRate"] > kept["control"]["failureRate"]
    assert kept["ratioLow"] >= 1.0
    assert app.counted["on"] > 0
    shown = ramp(cluster, "status", "reports", "-n", namespace).stdout
    assert "treatment" in shown and "control" in shown and "Regressed" in shown, shown


def test_a_backtest_of_a_recorded_regression_rolls_back(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    """`ramp simulate --prometheus` replays recorded cohort counters. The recording is made by
    the app reading a ConfigMap a person set to 5 % (no operator), until it has counted a known
    amount of treatment traffic: the live rollout above stops the treatment as soon as it
    fires, which can leave too little evidence to replay."""
    cluster.kubectl(
        "create", "configmap", "recorded-flag", "-n", namespace,
        "--from-literal=FEATURE_ENABLED=true", "--from-literal=FEATURE_PERCENTAGE=5",
    )  # fmt: skip
    began = datetime.now(UTC)
    app = CohortTraffic(
        cluster, namespace, "recorded-flag", "recorded", units_per_second=1000,
        treatment_rate=0.03, target=f"{namespace}-recorded",
    ).start()  # fmt: skip
    try:
        # 2,000, not 1,000: with 1,000 (~30 failures against ~10) a CI run had too little
        # evidence for the sequential test to decide within the recording.
        eventually(
            lambda: app.counted["on"] >= 2000,
            timeout=120,
            what="2,000 treatment units recorded (a 3x regression: ~60 failures against ~20)",
        )
        recorded = f'sum({TOTAL}{{exporter="{namespace}-recorded",{LABELS[1]}="on"}})'
        eventually(
            lambda: (query(cluster, recorded) or 0) >= 2000,
            timeout=30,
            what="Prometheus to have scraped the 2,000 treatment units",
        )
        manifest = compare_rollout(cluster, "recorded", f"{namespace}-recorded")
        manifest["spec"]["analysis"]["metrics"][0]["compare"]["confidence"] = 0.95
        replayed = backtest(cluster, manifest, began, tmp_path)
    finally:
        app.stop()
    assert any(row[1] == "RolledBack" for row in replayed), replayed


def test_the_same_traffic_without_a_regression_completes(
    cluster: Cluster, namespace: str, operator: OperatorProcess, traffic: Any, tmp_path: Path
) -> None:
    traffic("reports", treatment_rate=0.01)
    began = datetime.now(UTC)
    manifest = compare_rollout(cluster, "reports", f"{namespace}-cohorts")
    manifest["spec"]["phases"][0]["duration"] = "20s"
    apply(cluster, namespace, manifest)
    eventually(
        lambda: comparison(cluster, namespace, "reports").get("verdict") == "Passing",
        timeout=60,
        what="the comparison passing once 100 treatment units were counted",
    )
    shown = ramp(cluster, "status", "reports", "-n", namespace).stdout
    assert "2x regression" in shown, shown
    wait_phase(
        cluster, namespace, "reports", "Completed", timeout=120, what="the A/A rollout completed"
    )
    final = comparison(cluster, namespace, "reports")
    assert final["treatment"]["units"] >= 100
    assert final["verdict"] == "Passing"
    # A backtest on the recorded A/A traffic is an A/A check: it promotes out of the canary
    # (which needs the replayed treatment units to reach minEvents) and never fires. The
    # recording is only as long as the real rollout took, and the replay also starts with a
    # few seconds of no data: a 5 s canary leaves it time to promote.
    manifest["spec"]["phases"][0]["duration"] = "5s"
    replayed = backtest(cluster, manifest, began, tmp_path)
    assert any(row[1:3] == ["Progressing", "everyone"] for row in replayed), replayed
    assert not any(row[1] == "RolledBack" for row in replayed), replayed
