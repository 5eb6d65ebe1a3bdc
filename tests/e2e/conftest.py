"""End-to-end: the real operator, the real apiserver, the real Prometheus scraping an exporter
whose values the test sets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import operator, rollout_crd
from tests.support.cluster import Cluster
from tests.support.exporter import Exporter, start_exporter, wait_scraped

__all__ = ["exporter", "operator", "rollout_crd"]


@pytest.fixture
def exporter(cluster: Cluster, namespace: str) -> Iterator[Exporter]:
    """An exporter scraped by the testbed's Prometheus, healthy until the test says otherwise."""
    exp = start_exporter(cluster, namespace)
    exp.set_error_rate(0.0)
    exp.set_latency_p99(0.2)
    exp.set_queue_depth(0)
    exp.set_dlq(0)
    wait_scraped(cluster, f'max(ramp_test_error_rate{{exporter="{namespace}"}})', 0.0)
    yield exp
    exp.stop()
