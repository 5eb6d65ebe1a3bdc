"""A metric's chart is read with the viewer's credentials from an address the Rollout's author
chose, so the dashboard follows the operator's allow-list rules (`ramp dashboard
--prometheus-allow`): outside the list no request at all, and a Secret's Authorization header
only to a listed address, never without a list. Each refusal is the metric's error, so the
chart says why it is empty.

A listener the test controls stands in for the author's Prometheus. The Kubernetes API server
the dashboard would read a Secret from does not answer: none of these cases may read one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client

from ramp.api import RolloutSpec
from ramp.dashboard.series import metric_series
from ramp.k8s.clients import Clients
from ramp.metrics.allowlist import AllowList
from tests.support.listener import RANGE_AT, Listener, range_listener
from tests.support.operator_process import free_port

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def listener() -> Iterator[Listener]:
    with range_listener() as server:
        yield server


@pytest.fixture
def nowhere() -> Iterator[Clients]:
    """Clients of an API server nobody listens on: reading a Secret through them fails."""
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{free_port()}"
    api = client.ApiClient(configuration)
    yield Clients(api)
    api.close()  # type: ignore[no-untyped-call]


def rollout(address: str, *, authorization: bool) -> tuple[dict[str, Any], RolloutSpec]:
    prometheus: dict[str, Any] = {"address": address, "timeout": "2s"}
    if authorization:
        prometheus["authorization"] = {"secretRef": {"name": "prom-auth", "key": "header"}}
    spec = {
        "flag": {"key": "checkout", "configMap": "checkout-flag"},
        "phases": [{"name": "everyone", "percentage": 100}],
        "analysis": {
            "interval": "30s",
            "prometheus": prometheus,
            "metrics": [
                {"name": "errors", "query": "sum(rate(errors[5m]))", "critical": {"above": 1}},
                {"name": "latency", "query": "max(latency)", "critical": {"above": 2}},
            ],
        },
    }
    body = {
        "metadata": {
            "name": "checkout",
            "namespace": "shop",
            "creationTimestamp": "2026-12-07T11:00:00Z",
        },
        "spec": spec,
    }
    return body, RolloutSpec.model_validate(spec)


def errors_of(series: dict[str, Any]) -> dict[str, str]:
    return {name: s.get("error", "") for name, s in series["series"].items()}


def test_without_an_allow_list_no_secret_is_read_or_sent(
    listener: Listener, nowhere: Clients
) -> None:
    body, spec = rollout(listener.url, authorization=True)
    series = metric_series(nowhere, body, spec, AllowList(), NOW)
    assert listener.count() == 0
    for name, error in errors_of(series).items():
        assert "spec.analysis.prometheus.authorization" in error, name
        assert f"--prometheus-allow {listener.url}" in error


def test_an_address_outside_the_allow_list_gets_no_request(
    listener: Listener, nowhere: Clients
) -> None:
    allow = AllowList.parse(["http://prometheus.monitoring:9090"])
    for authorization in (True, False):
        body, spec = rollout(listener.url, authorization=authorization)
        series = metric_series(nowhere, body, spec, allow, NOW)
        assert listener.count() == 0
        for error in errors_of(series).values():
            assert f"{listener.url} is not in this dashboard's allow-list" in error


def test_without_credentials_the_charts_query_as_the_operator_would(
    listener: Listener, nowhere: Clients
) -> None:
    # No Secret: the operator queries any address when it has no allow-list; so do the charts.
    body, spec = rollout(listener.url, authorization=False)
    for allow in (AllowList(), AllowList.parse([f"{listener.url}/*"])):
        before = listener.count()
        series = metric_series(nowhere, body, spec, allow, NOW)
        assert listener.count() == before + 2
        assert series["series"]["errors"]["points"] == [[RANGE_AT, 0.0]]
    assert listener.authorization_headers() == []
