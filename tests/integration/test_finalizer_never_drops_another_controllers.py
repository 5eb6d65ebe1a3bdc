"""Hole 4: Ramp's finalizer is added and removed by a JSON patch that tests the exact entry, so
a finalizer another controller added after Ramp's read survives (a merge patch of the list
built from a stale read, sent with the fresh resourceVersion, used to drop it)."""

from __future__ import annotations

import asyncio
import copy

from ramp.k8s.finalizers import set_finalizer
from ramp.k8s.ownership import FINALIZER
from ramp.runtime.notifications import Notifier
from ramp.runtime.reconcile import Reconciler
from ramp.runtime.settings import OperatorSettings
from tests.support.cluster import Cluster
from tests.support.rollouts import GROUP, PLURAL, VERSION, apply, get, rollout_manifest

OTHER = "example.com/keep-backups"


def add_finalizer(cluster: Cluster, namespace: str, name: str, finalizer: str) -> None:
    """Another controller adds its finalizer (with the same test-guarded patch Ramp uses)."""
    set_finalizer(cluster, namespace, name, finalizer, present=True)


def test_a_stale_view_never_removes_another_controllers_finalizer(
    cluster: Cluster, rollout_crd: str, namespace: str
) -> None:
    apply(cluster, namespace, rollout_manifest("gc", [{"name": "all", "percentage": 100}]))
    reconciler = Reconciler(cluster, OperatorSettings(), Notifier())
    stale = copy.deepcopy(get(cluster, namespace, "gc"))  # read before the other controller
    add_finalizer(cluster, namespace, "gc", OTHER)

    asyncio.run(reconciler._ensure_finalizer(stale, present=True))
    assert get(cluster, namespace, "gc")["metadata"]["finalizers"] == [OTHER, FINALIZER]

    stale = copy.deepcopy(get(cluster, namespace, "gc"))
    add_finalizer(cluster, namespace, "gc", "example.com/second")
    asyncio.run(reconciler._ensure_finalizer(stale, present=False))
    assert get(cluster, namespace, "gc")["metadata"]["finalizers"] == [OTHER, "example.com/second"]

    cluster.custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "gc", {"metadata": {"finalizers": None}}
    )
