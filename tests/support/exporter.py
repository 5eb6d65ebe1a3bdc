"""A small exporter whose error rate, latency and queue depth the test sets, scraped by the
testbed's real Prometheus (it is listed in `.testbed/targets/`, Prometheus adds the label
``exporter=<name>`` to every series)."""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.support.cluster import Cluster
from tests.support.eventually import eventually

GAUGES = {
    "error_rate": "ramp_test_error_rate",
    "latency_p99": "ramp_test_latency_p99_seconds",
    "queue_depth": "ramp_test_queue_depth",
    "dlq": "ramp_test_dlq_messages",
}


class Exporter:
    """Gauges on their own registry and HTTP server, one exporter per test."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster = cluster
        self.name = name
        self.registry = CollectorRegistry()
        self.gauges = {
            metric: Gauge(
                metric, f"test-controlled {key.replace('_', ' ')}", registry=self.registry
            )
            for key, metric in GAUGES.items()
        }
        self._server: WSGIServer | None = None

    def start(self) -> Exporter:
        server, _thread = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self._server = server
        self.cluster.add_scrape_target(self.name, f"127.0.0.1:{server.server_port}")
        return self

    def stop(self) -> None:
        (self.cluster.targets_dir / f"{self.name}.json").unlink(missing_ok=True)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def set_gauge(self, metric: str, value: float) -> None:
        """Set ``metric``, exporting it from now on if it was not exported yet."""
        if metric not in self.gauges:
            self.gauges[metric] = Gauge(metric, "test-controlled gauge", registry=self.registry)
        self.gauges[metric].set(value)

    def remove(self, metric: str) -> None:
        """Stop exporting ``metric`` (its queries then have no data)."""
        gauge = self.gauges.pop(metric, None)
        if gauge is not None:
            self.registry.unregister(gauge)

    def set_error_rate(self, value: float) -> None:
        self.set_gauge(GAUGES["error_rate"], value)

    def set_latency_p99(self, seconds: float) -> None:
        self.set_gauge(GAUGES["latency_p99"], seconds)

    def set_queue_depth(self, depth: float) -> None:
        self.set_gauge(GAUGES["queue_depth"], depth)

    def set_dlq(self, messages: float) -> None:
        self.set_gauge(GAUGES["dlq"], messages)


def start_exporter(cluster: Cluster, name: str) -> Exporter:
    return Exporter(cluster, name).start()


def query(cluster: Cluster, promql: str) -> float | None:
    """The single value of an instant query on the testbed's Prometheus, None without data."""
    url = f"{cluster.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        result = json.load(response)["data"]["result"]
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if math.isnan(value) else value


def wait_scraped(
    cluster: Cluster, promql: str, value: float, *, timeout: float = 30, tolerance: float = 1e-9
) -> float:
    """Wait until Prometheus answers ``promql`` with ``value``: the exporter is being scraped."""

    def scraped() -> bool:
        seen = query(cluster, promql)
        return seen is not None and abs(seen - value) <= tolerance

    eventually(scraped, timeout=timeout, what=f"Prometheus to answer {promql} with {value}")
    return value
