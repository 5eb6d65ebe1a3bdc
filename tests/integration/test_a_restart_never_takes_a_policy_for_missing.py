"""An operator that starts may get a Rollout's watch event before its policy's: the reconcile
reads the policy instead of taking it for missing, so a Rollout of a policy never pauses (nor
notifies) for nothing after a restart; and a policy that truly is missing is read once, then
left to the watch."""

from __future__ import annotations

import asyncio
from typing import Any

from ramp.k8s.clients import Clients
from ramp.runtime.notifications import Notifier
from ramp.runtime.reconcile import Reconciler
from ramp.runtime.settings import OperatorSettings
from tests.support.cluster import Cluster
from tests.support.rollouts import GROUP, VERSION, apply, get, rollout_manifest, status


def frozen_policy() -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RolloutPolicy",
        "metadata": {"name": "train"},
        "spec": {"freeze": {"reason": "release train"}},
    }


def fresh_operator(cluster: Cluster, namespace: str, *names: str) -> Reconciler:
    """A just-started operator whose Rollout watch delivered ``names`` and whose policy watch
    delivered nothing yet."""
    reconciler = Reconciler(Clients(cluster.api), OperatorSettings(), Notifier())
    for name in names:
        reconciler.index.store((namespace, name), get(cluster, namespace, name))
    return reconciler


def test_a_rollout_decided_before_its_policys_event_reads_the_policy(
    cluster: Cluster, rollout_crd: str, namespace: str
) -> None:
    apply(cluster, namespace, frozen_policy())
    phases = [{"name": "all", "percentage": 100}]
    apply(cluster, namespace, rollout_manifest("early", phases, policy="train"))
    reconciler = fresh_operator(cluster, namespace, "early")
    asyncio.run(reconciler.reconcile(namespace, "early"))
    got = status(cluster, namespace, "early")
    assert got["phase"] == "Pending" and "release train" in got["message"], got
    assert [h["reason"] for h in got.get("history") or []] == []
    resolved = next(c for c in got["conditions"] if c["type"] == "PolicyResolved")
    assert resolved["status"] == "True", resolved


def test_a_missing_policy_is_read_once_then_left_to_the_watch(
    cluster: Cluster, rollout_crd: str, namespace: str
) -> None:
    phases = [{"name": "all", "percentage": 100}]
    apply(cluster, namespace, rollout_manifest("orphan", phases, policy="absent"))
    reconciler = fresh_operator(cluster, namespace, "orphan")
    asyncio.run(reconciler.reconcile(namespace, "orphan"))
    assert status(cluster, namespace, "orphan")["phase"] == "Paused"
    assert (namespace, "absent") in reconciler.policies.looked_up
