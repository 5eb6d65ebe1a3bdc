"""High availability with Kopf peering: of two operators in one peering, only the one with the
higher priority works; when it goes away, the standby takes over where status says it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, Cluster
from tests.integration.conftest import OperatorProcess, release_rollouts
from tests.support.eventually import eventually
from tests.support.rollouts import apply, ramp, rollout_manifest, status, wait_published

PEERING_CRDS = ROOT / "tests" / "support" / "kopf-peering-crds.yaml"


@pytest.fixture
def peering(cluster: Cluster, namespace: str) -> str:
    cluster.kubectl("apply", "-f", str(PEERING_CRDS))
    for crd in ("kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"):
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
    manifest = "apiVersion: kopf.dev/v1\nkind: KopfPeering\nmetadata: {name: ramp-ha}\n"
    eventually(
        lambda: cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest),
        timeout=30,
        what="the KopfPeering object created",
    )
    return "ramp-ha"


LIFETIME = "5"
"""Seconds a killed peer counts as alive; short, so the SIGKILL test waits seconds, not a minute."""


@pytest.fixture
def peers(
    cluster: Cluster, namespace: str, peering: str, rollout_crd: str, tmp_path: Path
) -> Iterator[tuple[OperatorProcess, OperatorProcess]]:
    common = ("--peering", peering, "--peering-lifetime", LIFETIME)
    active = OperatorProcess(
        cluster, [namespace], tmp_path / "active.log", (*common, "--priority", "200")
    )
    standby = OperatorProcess(
        cluster, [namespace], tmp_path / "standby.log", (*common, "--priority", "100")
    )
    active.start()
    standby.start()
    yield active, standby
    try:
        running = [p for p in (active, standby) if p.proc is not None and p.proc.poll() is None]
        if running:
            release_rollouts(cluster, namespace)
    finally:
        active.stop()
        standby.stop()


def reconciles(process: OperatorProcess) -> float:
    for line in process.metrics().splitlines():
        if line.startswith("ramp_reconcile_duration_seconds_count"):
            return float(line.split()[-1])
    return 0.0


def peer_priorities(cluster: Cluster, namespace: str) -> list[int]:
    obj = cluster.custom.get_namespaced_custom_object(
        "kopf.dev", "v1", namespace, "kopfpeerings", "ramp-ha"
    )
    return sorted(int(p["priority"]) for p in (obj.get("status") or {}).values())


def gated_by_the_active_peer(
    cluster: Cluster, namespace: str, active: OperatorProcess, standby: OperatorProcess
) -> None:
    eventually(
        lambda: peer_priorities(cluster, namespace) == [100, 200],
        timeout=30,
        what="both operators registered in the peering",
    )
    phases = [
        {"name": "canary", "percentage": 10, "approval": "Manual"},
        {"name": "everyone", "percentage": 100},
    ]
    apply(cluster, namespace, rollout_manifest("ha", phases))
    eventually(
        lambda: status(cluster, namespace, "ha").get("phase") == "AwaitingApproval",
        timeout=30,
        what="the active operator to bring the canary to its gate",
    )
    # The reconcile that wrote the status is counted once it has also published the flag.
    eventually(lambda: reconciles(active) > 0, timeout=10, what="the active operator's reconciles")
    assert reconciles(standby) == 0, "the standby reconciled while the active one was alive"


def test_standby_waits_then_takes_over_where_the_active_one_was(
    cluster: Cluster, namespace: str, peers: tuple[OperatorProcess, OperatorProcess]
) -> None:
    active, standby = peers
    gated_by_the_active_peer(cluster, namespace, active, standby)
    active.stop()  # a rolling update or a drained node: SIGTERM, the peer leaves the peering
    ramp(cluster, "promote", "ha", "-n", namespace)
    eventually(
        lambda: status(cluster, namespace, "ha").get("phase") == "Completed",
        timeout=60,
        what="the standby to take over and complete the rollout",
    )
    wait_published(cluster, namespace, "ha-flag", "100")
    assert reconciles(standby) > 0
    history = status(cluster, namespace, "ha").get("history") or []
    started = [h for h in history if h.get("reason") == "Started"]
    assert len(started) == 1, f"the rollout was started twice: {history}"


def test_standby_takes_over_from_a_killed_peer_after_its_lifetime(
    cluster: Cluster, namespace: str, peers: tuple[OperatorProcess, OperatorProcess]
) -> None:
    active, standby = peers
    gated_by_the_active_peer(cluster, namespace, active, standby)
    active.kill()  # no goodbye: the peering still lists it until its lifetime runs out
    ramp(cluster, "promote", "ha", "-n", namespace)
    eventually(
        lambda: status(cluster, namespace, "ha").get("phase") == "Completed",
        timeout=60,
        what=f"the standby to take over {LIFETIME}s after the active peer went silent",
    )
    assert reconciles(standby) > 0
