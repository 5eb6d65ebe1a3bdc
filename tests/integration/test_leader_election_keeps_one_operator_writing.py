"""High availability by leader election on a coordination.k8s.io Lease: of several operators,
only the Lease holder reconciles; a standby writes nothing at all, even when it joins late; it
takes over a killed leader once the Lease expires, and a stopped one at once (released), and goes
on from where the status says the rollout was."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes import client

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import TEST_LEASE_DURATION, OperatorProcess, stopping
from tests.support.rollouts import (
    apply,
    published_percentage,
    ramp,
    rollout_manifest,
    status,
    wait_phase,
    wait_published,
)

pytestmark = pytest.mark.cluster

LEASE = "ramp-operator"
"""The Lease `ramp run` campaigns for by default, in the first watched namespace."""

DURATION = float(TEST_LEASE_DURATION)
RETRY = DURATION * 2 / 15
"""How often a standby tries the Lease (controller-runtime's 2 s of 15, scaled)."""


def metric(process: OperatorProcess, name: str) -> float:
    """A metric of the operator's /metrics, summed over all its labels."""
    pattern = rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$"
    return sum(float(v) for v in re.findall(pattern, process.metrics(), re.M))


def writes(process: OperatorProcess) -> float:
    return metric(process, "ramp_api_writes_total")


def reconciles(process: OperatorProcess) -> float:
    return metric(process, "ramp_reconcile_duration_seconds_count")


def leads(process: OperatorProcess) -> bool:
    return metric(process, "ramp_leader") == 1


def identity(process: OperatorProcess) -> str:
    """The identity the operator campaigns with, as its log announces it."""
    found = re.search(r"campaigning as (\S+)", process.log.read_text(errors="replace"))
    assert found, f"the operator did not say who it campaigns as:\n{process.tail()}"
    return found.group(1)


def holder(cluster: Cluster, namespace: str) -> str:
    jsonpath = "-o=jsonpath={.spec.holderIdentity}"
    return cluster.kubectl("get", "lease", LEASE, "-n", namespace, jsonpath).stdout.strip()


def history_reasons(cluster: Cluster, namespace: str, name: str) -> list[str]:
    return [h["reason"] for h in status(cluster, namespace, name).get("history") or []]


Pair = Callable[..., tuple[OperatorProcess, OperatorProcess]]


@pytest.fixture
def operators(cluster: Cluster, namespace: str, rollout_crd: str, tmp_path: Path) -> Iterator[Pair]:
    """Makes two operators for the same namespace (with extra `ramp run` flags), not started."""
    made: list[OperatorProcess] = []

    def pair(*extra: str) -> tuple[OperatorProcess, OperatorProcess]:
        first = OperatorProcess(cluster, [namespace], tmp_path / "first.log", extra)
        second = OperatorProcess(cluster, [namespace], tmp_path / "second.log", extra)
        made.extend((first, second))
        return first, second

    try:
        with stopping(cluster, made):
            yield pair
    finally:
        for process in made:
            print(f"--- {process.log.name} ---\n{process.tail(30)}")


GATED = [
    {"name": "canary", "percentage": 10, "duration": "3s"},
    {"name": "half", "percentage": 50, "approval": "Manual"},
    {"name": "everyone", "percentage": 100},
]


def leader_works_while_late_standby_writes_nothing(
    cluster: Cluster, namespace: str, leader: OperatorProcess, standby: OperatorProcess
) -> None:
    """The leader runs a rollout from its canary soak to the Manual gate, and restores its
    deleted ConfigMap, while a standby that started later watches: the standby writes nothing,
    reconciles nothing, and the Lease names the leader throughout."""
    leader.start()
    eventually(lambda: leads(leader), timeout=30, what="the first operator to lead")
    apply(cluster, namespace, rollout_manifest("ha", GATED))
    eventually(
        lambda: status(cluster, namespace, "ha").get("currentPhase") == "canary",
        timeout=30,
        what="the leader to start the canary",
    )
    standby.start()  # late: the leader already holds the Lease and is mid-soak
    before = reconciles(leader)
    wait_phase(
        cluster,
        namespace,
        "ha",
        "AwaitingApproval",
        what="the leader to promote past the canary to the Manual gate",
    )
    wait_published(cluster, namespace, "ha-flag", "50")
    # Someone deletes the flag ConfigMap: both operators see it go; only the leader puts it back.
    cluster.core.delete_namespaced_config_map("ha-flag", namespace)
    wait_published(cluster, namespace, "ha-flag", "50")
    eventually(
        lambda: reconciles(leader) >= before + 2,
        timeout=10,
        what="the leader to reconcile while the standby runs",
    )
    assert writes(leader) > 0
    assert writes(standby) == 0, "the standby wrote to the API while the leader led"
    assert reconciles(standby) == 0, "the standby reconciled while the leader led"
    assert not leads(standby)
    assert holder(cluster, namespace) == identity(leader)
    listing = cluster.kubectl("get", "lease", "-n", namespace).stdout
    assert identity(leader) in listing, listing


def completed_once_from_the_gate(cluster: Cluster, namespace: str) -> None:
    """After a takeover the rollout goes on from its gate: not restarted, nothing applied twice."""
    assert status(cluster, namespace, "ha").get("phase") == "AwaitingApproval"
    assert published_percentage(cluster, namespace, "ha-flag") == "50"
    ramp(cluster, "promote", "ha", "-n", namespace)
    wait_phase(cluster, namespace, "ha", "Completed", what="the new leader to complete the rollout")
    wait_published(cluster, namespace, "ha-flag", "100")
    reasons = history_reasons(cluster, namespace, "ha")
    assert reasons.count("Started") == 1, f"the rollout was started again: {reasons}"
    assert reasons.count("Promoted") == 2, f"a promotion is missing or repeated: {reasons}"
    assert reasons.count("Completed") == 1, reasons


def test_a_late_standby_writes_nothing_and_takes_over_a_killed_leader_after_its_lease(
    cluster: Cluster, namespace: str, operators: Pair
) -> None:
    leader, standby = operators()
    leader_works_while_late_standby_writes_nothing(cluster, namespace, leader, standby)

    killed = time.monotonic()
    leader.kill()  # no goodbye: the Lease stays held until it expires
    eventually(
        lambda: leads(standby),
        timeout=DURATION + 10,
        what="the standby to take the expired Lease",
    )
    took = time.monotonic() - killed
    # Not before the Lease (renewed at most one retry period before the kill) expired ...
    assert took > DURATION - 2 * RETRY - 0.5, f"took an unexpired Lease after {took:.1f}s"
    # ... and at the first try after it did.
    assert took < DURATION + 2 * RETRY + 1.0, f"took over only after {took:.1f}s"
    assert holder(cluster, namespace) == identity(standby)
    completed_once_from_the_gate(cluster, namespace)
    assert writes(standby) > 0


def test_a_stopped_leader_releases_its_lease_and_the_standby_takes_over_at_once(
    cluster: Cluster, namespace: str, operators: Pair
) -> None:
    # The production lease: a takeover by expiry would take 13-15 s, by release a retry period.
    leader, standby = operators("--lease-duration", "15")
    leader_works_while_late_standby_writes_nothing(cluster, namespace, leader, standby)

    stopped = time.monotonic()
    leader.stop()  # SIGTERM: a rolling update or a drained node
    eventually(lambda: leads(standby), timeout=15, what="the standby to take over")
    took = time.monotonic() - stopped
    # Kopf's shutdown (~1 s) and the standby's next try (every 2 s), not the lease's 15 s.
    assert took < 7.5, f"took {took:.1f}s: the Lease was not released on SIGTERM"
    assert holder(cluster, namespace) == identity(standby)
    completed_once_from_the_gate(cluster, namespace)


def test_two_operators_started_together_never_both_reconcile(
    cluster: Cluster, namespace: str, operators: Pair
) -> None:
    pair = operators()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(OperatorProcess.start, pair))  # both race to create the Lease
    eventually(
        lambda: [leads(p) for p in pair].count(True) == 1,
        timeout=30,
        what="exactly one of the two operators to lead",
    )
    leader, standby = pair if leads(pair[0]) else reversed(pair)
    phases = [
        {"name": "canary", "percentage": 10, "duration": "2s"},
        {"name": "everyone", "percentage": 100},
    ]
    apply(cluster, namespace, rollout_manifest("together", phases))
    wait_phase(
        cluster, namespace, "together", "Completed", what="the leader to complete the rollout"
    )
    assert holder(cluster, namespace) == identity(leader)
    assert writes(standby) == 0, "the operator that does not hold the Lease wrote"
    assert reconciles(standby) == 0, "the operator that does not hold the Lease reconciled"
    assert not leads(standby)


def seize_lease(cluster: Cluster, namespace: str, intruder: str, seconds: int) -> None:
    """Another candidate takes the Lease over the leader's head (as if its renewals had not
    reached the apiserver and the Lease had been taken after expiring)."""
    api = client.CoordinationV1Api(cluster.api)
    lease = api.read_namespaced_lease(LEASE, namespace)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    spec = {"holderIdentity": intruder, "renewTime": now, "leaseDurationSeconds": seconds}
    body = {"metadata": {"resourceVersion": lease.metadata.resource_version}, "spec": spec}
    api.patch_namespaced_lease(LEASE, namespace, body)


def test_a_leader_that_loses_its_lease_stops_writing_and_campaigns_again(
    cluster: Cluster, namespace: str, operators: Pair
) -> None:
    leader, _ = operators()
    leader.start()
    eventually(lambda: leads(leader), timeout=30, what="the operator to lead")
    phases = [
        {"name": "canary", "percentage": 10, "duration": "3s"},
        {"name": "everyone", "percentage": 100},
    ]
    apply(cluster, namespace, rollout_manifest("seized", phases))
    eventually(
        lambda: status(cluster, namespace, "seized").get("currentPhase") == "canary",
        timeout=30,
        what="the canary to start",
    )
    seize_lease(cluster, namespace, "intruder", seconds=8)
    eventually(
        lambda: not leads(leader),
        timeout=2 * RETRY + 2,
        what="the leader to notice at its next renewal that it lost the Lease",
    )
    # A write the fence let through before the loss may still be landing (its reconcile was
    # cancelled, but a thread cannot be): count from once the counter holds still.
    seen: list[float] = []

    def landed() -> bool:
        seen.append(writes(leader))
        return len(seen) >= 2 and seen[-1] == seen[-2]

    eventually(landed, timeout=10, interval=0.5, what="the writes sent before the loss to land")
    stopped_writing = seen[-1]
    time.sleep(4)  # the scenario: the canary's 3 s soak ends while someone else holds the Lease
    assert writes(leader) == stopped_writing, "the operator wrote after losing the Lease"
    assert status(cluster, namespace, "seized").get("currentPhase") == "canary"
    assert holder(cluster, namespace) == "intruder"

    # The intruder goes silent: its Lease expires and the operator, still campaigning, leads again.
    eventually(lambda: leads(leader), timeout=8 + 5, what="the operator to take the Lease back")
    wait_phase(
        cluster,
        namespace,
        "seized",
        "Completed",
        what="the rollout to complete once the operator leads again",
    )
