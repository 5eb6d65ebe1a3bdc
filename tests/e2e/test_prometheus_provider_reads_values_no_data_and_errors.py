"""The Prometheus provider against the testbed's real Prometheus: values, no data, and errors a
person can act on, within the timeout, without ever printing the Authorization header."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ramp.metrics.prometheus import PrometheusProvider
from tests.support.authproxy import TOKEN, AuthProxy, self_signed_certificate
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.exporter import Exporter, wait_scraped


@pytest.fixture
def gauges(cluster: Cluster, namespace: str) -> Iterator[Exporter]:
    exp = Exporter(cluster, namespace).start()
    exp.set_error_rate(0.25)
    exp.set_queue_depth(7)
    wait_scraped(cluster, f'max(ramp_test_error_rate{{exporter="{namespace}"}})', 0.25)
    yield exp
    exp.stop()


def test_values_no_data_and_query_errors(
    cluster: Cluster, namespace: str, gauges: Exporter
) -> None:
    provider = PrometheusProvider(cluster.prometheus_url, timeout=5)
    samples = asyncio.run(
        provider.evaluate(
            {
                "errors": f'max(ramp_test_error_rate{{exporter="{namespace}"}})',
                "queue": f'sum(ramp_test_queue_depth{{exporter="{namespace}"}})',
                "absent": 'max(ramp_test_error_rate{exporter="nobody"})',
                "nan": "0 / 0",
                "broken": "sum(rate(",
                "many": f'{{__name__=~"ramp_test_.*", exporter="{namespace}"}}',
            }
        )
    )
    assert samples["errors"].value == pytest.approx(0.25)
    assert samples["queue"].value == 7
    assert samples["absent"].value is None and samples["absent"].error is None
    assert samples["nan"].value is None and samples["nan"].error is None
    assert samples["broken"].error is not None
    assert "bad query (HTTP 400)" in samples["broken"].error
    assert samples["many"].error is not None
    assert "aggregate it to one" in samples["many"].error


def test_unreachable_prometheus_is_an_error_naming_it() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = PrometheusProvider(f"http://127.0.0.1:{port}", timeout=2)
    sample = provider.sample("up")
    assert sample.error == f"cannot reach Prometheus at http://127.0.0.1:{port}"


def test_a_silent_prometheus_times_out_within_the_timeout() -> None:
    # Accepts connections and never answers, as an overloaded server does.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        address = f"http://127.0.0.1:{listener.getsockname()[1]}"
        provider = PrometheusProvider(address, timeout=0.5)
        started = time.monotonic()
        sample = provider.sample("up")
        took = time.monotonic() - started
    finally:
        listener.close()
    assert sample.error == f"Prometheus at {address} did not answer within 0.5s"
    assert took < 3, f"one query took {took:.1f}s; retries must not stretch it"


def test_authorization_header_is_sent_and_never_reported(
    cluster: Cluster, namespace: str, gauges: Exporter
) -> None:
    proxy = AuthProxy(cluster.prometheus_url)
    try:
        query = f'max(ramp_test_error_rate{{exporter="{namespace}"}})'
        good = PrometheusProvider(proxy.url, timeout=5, headers={"Authorization": TOKEN})
        assert good.sample(query).value == pytest.approx(0.25)
        assert proxy.seen[-1] == TOKEN
        bad = PrometheusProvider(proxy.url, timeout=5, headers={"Authorization": "Bearer wrong"})
        refused = bad.sample(query)
        assert refused.error is not None and "401" in refused.error
        assert "wrong" not in refused.error and "Bearer" not in refused.error
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()


def test_query_range_returns_the_history_for_backtests(
    cluster: Cluster, namespace: str, gauges: Exporter
) -> None:
    provider = PrometheusProvider(cluster.prometheus_url, timeout=5)
    query = f'max(ramp_test_queue_depth{{exporter="{namespace}"}})'

    def history() -> list[tuple[datetime, float | None]]:
        end = datetime.now(UTC)
        return provider.query_range(query, end - timedelta(minutes=1), end, 1)

    # Range ends are whole seconds: the newest sample shows up within a second.
    points = eventually(history, timeout=10, what="a history for the new series")
    assert points[-1][1] == 7
    assert all(a[0] < b[0] for a, b in itertools.pairwise(points))


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_is_verified_unless_explicitly_skipped(
    cluster: Cluster, namespace: str, gauges: Exporter, tmp_path: Path
) -> None:
    proxy = AuthProxy(cluster.prometheus_url, tls=self_signed_certificate(tmp_path))
    try:
        query = f'max(ramp_test_error_rate{{exporter="{namespace}"}})'
        headers = {"Authorization": TOKEN}
        verified = PrometheusProvider(proxy.url, timeout=5, headers=headers).sample(query)
        assert verified.error is not None
        assert "TLS verification" in verified.error and "insecureSkipVerify" in verified.error
        assert proxy.seen == [], "a request went out over an unverified connection"
        skipped = PrometheusProvider(
            proxy.url, timeout=5, headers=headers, insecure_skip_verify=True
        ).sample(query)
        assert skipped.value == pytest.approx(0.25)
    finally:
        proxy.close()
