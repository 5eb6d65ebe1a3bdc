"""`ramp dashboard` on the real API server, with real Rollouts and Secrets: an action posted by
another site's page (a foreign Origin, or a rebound host name) is refused and writes nothing,
while the dashboard's own page still steers; and a chart reads the Rollout's Authorization Secret
and sends it only to a Prometheus the viewer allowed with `--prometheus-allow` (a listener the
test controls plays the Rollout author's Prometheus and records the headers it receives)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Cluster
from tests.support.dashboard import DashboardProcess
from tests.support.eventually import eventually
from tests.support.listener import RANGE_AT, Listener, range_listener
from tests.support.operator_process import free_port
from tests.support.rollouts import apply, event_reasons, rollout_manifest, status

ATTACKER = "http://attacker.example"
TOKEN = "Bearer v1ewer-secret-t0ken"

StartDashboard = Callable[..., DashboardProcess]


@pytest.fixture
def start_dashboard(cluster: Cluster, namespace: str, tmp_path: Path) -> Iterator[StartDashboard]:
    """`ramp dashboard -n NAMESPACE` with the flags given, as the viewer starts it."""
    started: list[DashboardProcess] = []

    def start(*extra: str) -> DashboardProcess:
        log = tmp_path / f"dashboard-{len(started)}.log"
        process = DashboardProcess(cluster.kubeconfig, namespace, free_port(), log, extra)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def listener() -> Iterator[Listener]:
    with range_listener() as server:
        yield server


def shown(dashboard: DashboardProcess, namespace: str, name: str) -> bool:
    return dashboard.request("GET", f"/api/rollouts/{namespace}/{name}").status == 200


def test_an_action_from_another_site_writes_nothing_and_the_own_page_still_steers(
    cluster: Cluster, rollout_crd: str, namespace: str, start_dashboard: StartDashboard
) -> None:
    apply(cluster, namespace, rollout_manifest("checkout", [{"name": "all", "percentage": 100}]))
    dashboard = start_dashboard()
    eventually(lambda: shown(dashboard, namespace, "checkout"), timeout=20, what="checkout shown")
    abort = f"/api/rollouts/{namespace}/checkout/abort"
    rebound = {"Host": f"attacker.example:{dashboard.port}", "Origin": ATTACKER}
    for headers in ({"Origin": ATTACKER}, rebound, {"Referer": f"{ATTACKER}/"}, {}):
        answer = dashboard.request("POST", abort, headers, {})
        assert answer.status == 403, (headers, answer)
    assert not (status(cluster, namespace, "checkout").get("control") or {}).get("abort")
    assert "AbortRequested" not in event_reasons(cluster, namespace, "checkout")

    own = {"Origin": f"http://127.0.0.1:{dashboard.port}"}
    answer = dashboard.request("POST", abort, own, {})
    assert answer.status == 200, answer
    said = answer.json()["message"]
    assert said.startswith("abort of checkout requested: it rolls back to 0 %"), said
    assert "no operator has reconciled checkout yet" in said  # none runs in this test
    assert (status(cluster, namespace, "checkout").get("control") or {}).get("abort")


def test_a_chart_sends_the_secret_only_to_an_allowed_prometheus(
    cluster: Cluster,
    rollout_crd: str,
    namespace: str,
    start_dashboard: StartDashboard,
    listener: Listener,
) -> None:
    cluster.core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "prom-auth"},
            "data": {"header": base64.b64encode(TOKEN.encode()).decode()},
        },
    )
    prometheus = {
        "address": listener.url,
        "timeout": "2s",
        "authorization": {"secretRef": {"name": "prom-auth", "key": "header"}},
    }
    analysis = {
        "interval": "30s",
        "prometheus": prometheus,
        "metrics": [{"name": "error-rate", "query": "up", "critical": {"above": 0.05}}],
    }
    phases = [{"name": "all", "percentage": 100}]
    apply(cluster, namespace, rollout_manifest("checkout", phases, analysis=analysis))
    series = f"/api/rollouts/{namespace}/checkout/series"

    def chart(dashboard: DashboardProcess, headers: dict[str, str] | None = None) -> dict[str, Any]:
        eventually(lambda: shown(dashboard, namespace, "checkout"), timeout=20, what="checkout")
        answer = dashboard.request("GET", series, headers)
        assert answer.status == 200, answer
        found: dict[str, Any] = answer.json()["series"]["error-rate"]
        return found

    # No allow-list: the Secret is not sent (nor is anything else), and the chart says why.
    refused = chart(start_dashboard())
    assert listener.authorization_headers() == []
    assert listener.count() == 0
    assert "--prometheus-allow" in refused["error"]
    # An allow-list without the listener: no request at all.
    elsewhere = start_dashboard("--prometheus-allow", "http://prometheus.monitoring:9090")
    assert "is not in this dashboard's allow-list" in chart(elsewhere)["error"]
    assert listener.count() == 0

    allowed = start_dashboard("--prometheus-allow", listener.url)
    # Another site's page cannot make the dashboard send it either.
    cross_site = allowed.request("GET", series, {"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status == 403
    assert listener.count() == 0
    # The viewer allowed the listener: its own page's chart carries the Secret there.
    assert chart(allowed)["points"] == [[RANGE_AT, 0.0]]
    assert listener.authorization_headers() == [TOKEN]
