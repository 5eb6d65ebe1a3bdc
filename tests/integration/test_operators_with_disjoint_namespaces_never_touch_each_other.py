"""Sharding: when one operator is not enough, run one per set of namespaces (`ramp run
--namespace ...`, the chart's `watchNamespaces`). Two operators with disjoint sets never read,
write or reconcile each other's Rollouts, and each keeps its own leader Lease."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from tests.support.cluster import Cluster, fresh_namespace
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess, running_operator
from tests.support.rollouts import (
    apply,
    flag_data,
    get,
    ramp,
    rollout_manifest,
    settled_at_gate,
    status,
    wait_phase,
)

PHASES = [
    {"name": "canary", "percentage": 5, "approval": "Manual"},
    {"name": "everyone", "percentage": 100},
]


def rollout_series(operator: OperatorProcess) -> set[str]:
    """The namespaces of the Rollouts an operator has reconciled, from its /metrics."""
    return set(
        re.findall(r'^ramp_rollout_percentage\{namespace="([^"]+)"', operator.metrics(), re.M)
    )


@pytest.fixture
def other_namespace(cluster: Cluster) -> Iterator[str]:
    with fresh_namespace(cluster) as name:
        yield name


def test_two_operators_with_disjoint_namespaces_never_touch_each_others_rollouts(
    cluster: Cluster,
    rollout_crd: str,
    namespace: str,
    other_namespace: str,
    operator: OperatorProcess,
    tmp_path: Path,
) -> None:
    ours, theirs = namespace, other_namespace
    # Created first, in a namespace this operator does not watch ...
    apply(cluster, theirs, rollout_manifest("b", PHASES))
    apply(cluster, ours, rollout_manifest("a", PHASES))
    wait_phase(cluster, ours, "a", "AwaitingApproval", what=f"{ours}/a to await approval")
    # ... and still untouched once this operator has settled its own.
    assert not status(cluster, theirs, "b"), "an operator reconciled a namespace it does not watch"
    assert flag_data(cluster, theirs, "b-flag") is None, "an operator wrote outside its namespaces"

    with running_operator(cluster, [theirs], tmp_path / "other-operator.log") as other:
        eventually(
            lambda: settled_at_gate(status(cluster, theirs, "b")),
            timeout=30,
            what=f"{theirs}/b to settle awaiting approval under its own operator",
        )
        eventually(
            lambda: rollout_series(other) == {theirs},
            timeout=10,
            what="the second operator to have reconciled its Rollout",
        )
        counted: list[dict[str, float]] = []

        def quiet() -> bool:
            # No request over five looks a second apart: the echoes of its own writes passed.
            # (A loaded full run once counted one request more after the promote than before
            # it; the count then took two reads of /metrics, which a Lease renewal between them
            # made one too low. It is one read now, by method and resource, so a failure names
            # the request.)
            counted.append(other.work_requests())
            return len(counted) >= 5 and all(c == counted[-1] for c in counted[-5:])

        eventually(quiet, timeout=40, interval=1.0, what="the second operator to go quiet")
        idle_requests = other.work_requests()
        theirs_before = get(cluster, theirs, "b")["metadata"]["resourceVersion"]

        ramp(cluster, "promote", "a", "-n", ours)
        wait_phase(cluster, ours, "a", "Completed", what=f"{ours}/a to complete after promote")

        assert rollout_series(operator) == {ours}, "the first operator reconciled another's"
        assert rollout_series(other) == {theirs}, "the second operator reconciled another's"
        assert get(cluster, theirs, "b")["metadata"]["resourceVersion"] == theirs_before
        assert other.work_requests() == idle_requests, (
            "the second operator sent API requests while only the first one's Rollout changed"
        )
        leases = {
            lease.metadata.namespace
            for ns in (ours, theirs)
            for lease in client.CoordinationV1Api(cluster.api).list_namespaced_lease(ns).items
        }
        assert leases == {ours, theirs}, f"each operator leads by its own Lease, got {leases}"
