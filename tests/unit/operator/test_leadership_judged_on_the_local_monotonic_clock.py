"""Who may lead, and write, is judged on this replica's own monotonic clock: a standby waits a
whole lease duration after it last saw the holder's record change, whatever time the holder's
renewTime names; a leader's writes pass only until its renew deadline by its own clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kubernetes.client import ApiException

from ramp.k8s.clients import NotLeading, WriteFence, bound_requests
from ramp.k8s.lease import LeaseRecord
from ramp.runtime.leadership import LeaseObserver
from tests.support.kubeconfigs import clients_at
from tests.support.listener import Listener

DURATION = timedelta(seconds=15)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def renewed(holder: str, at: datetime) -> LeaseRecord:
    return LeaseRecord(holder=holder, renewed_at=at, duration=DURATION)


@pytest.mark.parametrize("skew", [-30, 0, 30], ids=["behind", "same", "ahead"])
def test_a_holder_stands_a_lease_duration_after_its_record_was_seen_to_change(skew: int) -> None:
    clock = Clock()
    standby = LeaseObserver("standby", clock)
    stamp = datetime.now(UTC) + timedelta(seconds=skew)  # the holder's wall clock, not ours
    assert standby.held_by_other(renewed("leader", stamp))
    clock.now += 14.9
    assert standby.held_by_other(renewed("leader", stamp))  # the same record: not yet expired
    clock.now += 0.1
    assert not standby.held_by_other(renewed("leader", stamp))


def test_each_renewal_seen_restarts_the_wait() -> None:
    clock = Clock()
    standby = LeaseObserver("standby", clock)
    stamp = datetime(2020, 1, 1, tzinfo=UTC)  # long past by our wall clock: irrelevant
    for renewal in range(10):
        assert standby.held_by_other(renewed("leader", stamp + timedelta(seconds=2 * renewal)))
        clock.now += 10
    assert standby.held_by_other(renewed("leader", stamp + timedelta(seconds=18)))
    clock.now += 15
    assert not standby.held_by_other(renewed("leader", stamp + timedelta(seconds=18)))


def test_a_released_lease_or_our_own_is_not_held_by_another() -> None:
    clock = Clock()
    standby = LeaseObserver("standby", clock)
    assert not standby.held_by_other(renewed("", datetime.now(UTC)))
    assert not standby.held_by_other(renewed("standby", datetime.now(UTC)))


def test_writes_pass_only_while_the_renew_deadline_has_not_passed_on_the_local_clock() -> None:
    clock = Clock()
    fence = WriteFence(clock)
    with pytest.raises(NotLeading, match="PATCH /api/v1/x"):
        fence.check("PATCH /api/v1/x")  # closed until the lease is taken
    fence.open_until(clock.now + 10)
    assert fence.check("PATCH /api/v1/x") == 10
    clock.now += 9.5
    assert fence.check("PATCH /api/v1/x") == 0.5
    clock.now += 0.5
    with pytest.raises(NotLeading):
        fence.check("PATCH /api/v1/x")  # the leader's own loop may not have noticed yet
    fence.open_until(clock.now + 10)
    fence.close()  # lost or released: at once, whatever the deadline
    with pytest.raises(NotLeading):
        fence.check("PATCH /api/v1/x")


def test_a_closed_fence_keeps_writes_off_the_wire_and_lets_reads_through(tmp_path: Path) -> None:
    listener = Listener()
    try:
        fence = WriteFence()
        clients = clients_at(listener.url, tmp_path)
        bound_requests(clients.api, 5.0, fence)
        with pytest.raises(NotLeading, match="/api/v1/namespaces/reports/configmaps"):
            clients.core.create_namespaced_config_map("reports", {"metadata": {"name": "flag"}})
        assert listener.count() == 0, "a refused write reached the server"
        with pytest.raises(ApiException):  # the stand-in answers 400: it was sent
            clients.core.read_namespaced_config_map("flag", "reports")
        assert listener.count() == 1
        fence.open_until(time.monotonic() + 5)
        with pytest.raises(ApiException):
            clients.core.create_namespaced_config_map("reports", {"metadata": {"name": "flag"}})
        assert listener.count() == 2
    finally:
        listener.close()
