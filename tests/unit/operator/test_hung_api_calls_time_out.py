"""A Kubernetes API call that hangs fails with a timeout within the configured bound, once: it
never holds its Rollout's loop forever (nor four times the bound, as urllib3's retries of a GET
would), whether it reads or writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from kubernetes.client import ApiException

from ramp.k8s.clients import Clients
from tests.support.kubeconfigs import clients_at
from tests.support.listener import HOLD_LIMIT, Listener

BOUND = 1.0


@pytest.fixture
def hung() -> Iterator[Listener]:
    """An apiserver stand-in that receives every request and, once `hang` is called, answers
    none (until closed)."""
    listener = Listener()
    try:
        yield listener
    finally:
        listener.close()


def hang(listener: Listener, clients: Clients) -> None:
    """Warm the client up (its first call builds its models, which takes a while), then let
    every later request hang."""
    with pytest.raises(ApiException):
        clients.core.read_namespaced_config_map("warm-up", "reports")
    listener.hold()


def test_a_hung_read_fails_with_a_timeout_within_the_bound_and_is_not_sent_again(
    hung: Listener, tmp_path: Path
) -> None:
    clients = clients_at(hung.url, tmp_path, timeout=BOUND)
    hang(hung, clients)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.TimeoutError):
        clients.core.read_namespaced_config_map("flag", "reports")
    took = time.monotonic() - started
    assert took < BOUND + 0.5 < HOLD_LIMIT, f"the read returned after {took:.1f}s"
    assert hung.count() == 2, f"a timed-out read was sent {hung.count() - 1} times"


def test_a_hung_write_fails_with_a_timeout_within_the_bound(hung: Listener, tmp_path: Path) -> None:
    clients = clients_at(hung.url, tmp_path, timeout=BOUND)
    hang(hung, clients)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.TimeoutError):
        clients.core.create_namespaced_config_map("reports", {"metadata": {"name": "flag"}})
    took = time.monotonic() - started
    assert took < BOUND + 0.5, f"the write returned after {took:.1f}s"
