"""The Prometheus provider against the testbed's real Prometheus: values, no data, and errors a
person can act on, within the timeout, without ever printing the Authorization header."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ramp.metrics.prometheus import PrometheusProvider
from tests.conftest import Cluster
from tests.support.exporter import Exporter, wait_scraped

TOKEN = "Bearer pr0m-t0ken"


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
    assert "parse error" in samples["broken"].error
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


class AuthProxy:
    """An authenticating proxy in front of the real Prometheus (as oauth2-proxy would be)."""

    def __init__(self, upstream: str) -> None:
        self.seen: list[str | None] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.seen.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != TOKEN:
                    self.send_response(401)
                    self.end_headers()
                    self.wfile.write(b'{"status":"error","error":"unauthorized"}')
                    return
                with urllib.request.urlopen(upstream + self.path, timeout=5) as r:
                    body = r.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


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
    end = datetime.now(UTC)
    points = provider.query_range(
        f'max(ramp_test_queue_depth{{exporter="{namespace}"}})', end - timedelta(minutes=1), end, 1
    )
    assert points, "no history returned"
    assert points[-1][1] == 7
    assert all(a[0] < b[0] for a, b in itertools.pairwise(points))
