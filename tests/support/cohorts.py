"""An app's traffic, split by the flag it reads: units of work counted per variant on the
OpenTelemetry feature-flag labels, with a failure rate per variant the test sets.

Like an app, it reads the published flag from the Rollout's ConfigMap (here, its env-style keys)
and gives each unit the feature with that probability; the testbed's Prometheus scrapes the
counters (and adds ``exporter=<name>``).
"""

from __future__ import annotations

import random
import threading
import time
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, start_http_server

from tests.support.cluster import Cluster
from tests.support.rollouts import flag_data

TOTAL = "ramp_test_jobs_total"
FAILED = "ramp_test_jobs_failed_total"
LABELS = ("feature_flag_key", "feature_flag_result_variant")


class CohortTraffic:
    """``units_per_second`` units, each failing at the rate of the variant it got."""

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        config_map: str,
        flag_key: str,
        *,
        units_per_second: float = 200,
        control_rate: float = 0.01,
        treatment_rate: float = 0.01,
        seed: int = 1,
        target: str | None = None,
    ) -> None:
        self.cluster, self.namespace, self.config_map = cluster, namespace, config_map
        self.flag_key = flag_key
        self.target = target or f"{namespace}-cohorts"
        """The scrape target's name: Prometheus labels the series exporter=<target>."""
        self.units_per_second = units_per_second
        self.rates = {"on": treatment_rate, "off": control_rate}
        self.registry = CollectorRegistry()
        self.total = Counter(TOTAL.removesuffix("_total"), "units", LABELS, registry=self.registry)
        self.failed = Counter(
            FAILED.removesuffix("_total"), "failed units", LABELS, registry=self.registry
        )
        for variant in ("on", "off"):  # both series exist from the first scrape, at 0
            self.total.labels(flag_key, variant)
            self.failed.labels(flag_key, variant)
        self.counted = {"on": 0, "off": 0}
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> CohortTraffic:
        server, _ = start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self._server = server
        self.cluster.add_scrape_target(self.target, f"127.0.0.1:{server.server_port}")
        self._thread = threading.Thread(target=self._run, name="cohort-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        (self.cluster.targets_dir / f"{self.target}.json").unlink(missing_ok=True)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def share(self) -> float:
        """The share of units that get the feature, as an app reading the ConfigMap sees it."""
        data = flag_data(self.cluster, self.namespace, self.config_map) or {}
        if data.get("FEATURE_ENABLED") != "true":
            return 0.0
        return float(data.get("FEATURE_PERCENTAGE") or 0) / 100

    def _run(self) -> None:
        tick = 0.25
        last = time.monotonic()
        while not self._stop.wait(tick):
            try:
                share = self.share()
            except Exception:  # the apiserver restarting is not the app's problem
                continue
            now = time.monotonic()
            expected = self.units_per_second * (now - last)
            last = now
            units = int(expected) + (self._rng.random() < expected - int(expected))
            for _ in range(units):
                variant = "on" if self._rng.random() < share else "off"
                self.total.labels(self.flag_key, variant).inc()
                self.counted[variant] += 1
                if self._rng.random() < self.rates[variant]:
                    self.failed.labels(self.flag_key, variant).inc()


def compare_metric(exporter: str, **compare: object) -> dict[str, object]:
    """A compare metric on this traffic's counters."""
    return {
        "name": "failures-vs-control",
        "compare": {
            "failures": f'{FAILED}{{exporter="{exporter}"}}',
            "total": f'{TOTAL}{{exporter="{exporter}"}}',
            **compare,
        },
    }
