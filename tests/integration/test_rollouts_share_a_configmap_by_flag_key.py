"""Rollouts share one flag ConfigMap by flag key (apps mount one flags.json): each owns its flag
key and env keys, recorded in the ConfigMap's annotations. Two with distinct keys both progress
and never flip each other's flag; a second Rollout for a key another owns (or for its env key)
is refused with a condition naming the owner and writes nothing. Deleting one takes its keys
out of the ConfigMap Ramp created, which Kubernetes deletes only with the last of them.

(Hole 7 of an earlier review refused any second Rollout on a ConfigMap; hole 4 of issue 21 made
that per key: an unlabelled existing ConfigMap had no owner at all, and two Rollouts on it
overwrote each other back and forth.)"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from ramp.api import RolloutSpec
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    GROUP,
    PLURAL,
    VERSION,
    apply,
    flag_data,
    get,
    rollout_manifest,
    status,
)
from tests.support.trace import Recorder, published_values

CONFIG_MAP = "shared-flag"
PHASES = [
    {"name": "canary", "percentage": 10, "duration": "2s"},
    {"name": "half", "percentage": 50, "duration": "1h"},
    {"name": "all", "percentage": 100},
]
QUIET_WINDOW = 10.0
"""Seconds both Rollouts hold at 50 % while the ConfigMap's versions are counted."""


def flag_of(name: str) -> dict[str, Any]:
    return {"key": name, "configMap": CONFIG_MAP, "env": {"percentage": f"{name.upper()}_PCT"}}


def settled_at_half(cluster: Cluster, namespace: str, name: str) -> bool:
    now = status(cluster, namespace, name)
    data = flag_data(cluster, namespace, CONFIG_MAP) or {}
    return (
        now.get("currentPhase") == "half"
        and not now.get("awaitingPublishSince")
        and not now.get("outbox")
        and data.get(f"{name.upper()}_PCT") == "50"
    )


def start_both_and_wait_at_half(cluster: Cluster, namespace: str) -> None:
    """Rollouts alpha and beta on the shared ConfigMap, each with its own flag and env key."""
    for name in ("alpha", "beta"):
        apply(cluster, namespace, rollout_manifest(name, PHASES, flag=flag_of(name)))
    for name in ("alpha", "beta"):
        eventually(
            lambda name=name: settled_at_half(cluster, namespace, name),  # type: ignore[misc]
            timeout=60,
            what=f"{name} to hold at 50 % in the shared ConfigMap",
        )


def conditions(cluster: Cluster, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status(cluster, namespace, name).get("conditions") or []}


@pytest.mark.parametrize("existing", [False, True], ids=["created-by-ramp", "existing-unlabelled"])
def test_two_rollouts_with_distinct_keys_share_and_never_flip_each_other(
    cluster: Cluster, namespace: str, operator: OperatorProcess, existing: bool
) -> None:
    """Created by Ramp (the first Rollout's), or existing without Ramp's labels: the latter
    had no owner at all, and two Rollouts on it overwrote each other back and forth."""
    if existing:
        body = {"metadata": {"name": CONFIG_MAP}, "data": {"LOG_LEVEL": "debug"}}
        cluster.core.create_namespaced_config_map(namespace, body)  # type: ignore[arg-type]
    recorder = Recorder(cluster, namespace).start()
    try:
        start_both_and_wait_at_half(cluster, namespace)
        settled = cluster.core.read_namespaced_config_map(CONFIG_MAP, namespace)
        window_start = len(recorder.snapshot())
        time.sleep(QUIET_WINDOW)  # the scenario: both hold at 50 % while writes are counted
    finally:
        recorder.stop()
    versions = [v for v in recorder.snapshot() if v.kind == "ConfigMap" and v.name == CONFIG_MAP]
    later = [
        v.resource_version
        for v in recorder.snapshot()[window_start:]
        if v.kind == "ConfigMap" and v.name == CONFIG_MAP
    ]
    after = cluster.core.read_namespaced_config_map(CONFIG_MAP, namespace)
    assert after.metadata.resource_version == settled.metadata.resource_version and not later, (
        f"the shared ConfigMap was written {len(later)} times while both Rollouts held at 50 %"
    )
    # Over every version the ConfigMap ever had: once a Rollout's flag is served it stays
    # served, and its percentage only goes up (nobody's write took the other's flag back).
    for name in ("alpha", "beta"):
        spec = RolloutSpec.model_validate(get(cluster, namespace, name)["spec"])
        served = [published_values(v.obj, spec) for v in versions]
        first = next(i for i, p in enumerate(served) if p is not None)
        percentages = [p.percentage if p is not None else None for p in served[first:]]
        assert None not in percentages, f"{name}'s flag vanished from flags.json: {percentages}"
        assert percentages == sorted(percentages), f"{name}'s flag went back: {percentages}"
    assert len(versions) <= 8, f"{len(versions)} ConfigMap versions for 2 Rollouts x 2 phases"
    annotations = after.metadata.annotations
    assert json.loads(annotations["ramp.dev/flag-owners"]) == {"alpha": "alpha", "beta": "beta"}
    flags = json.loads(after.data["flags.json"])["flags"]
    assert set(flags) == {"alpha", "beta"}


def test_a_second_rollout_for_a_taken_key_is_refused_naming_the_owner(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    soaking = [{**PHASES[0], "duration": "1h"}, PHASES[-1]]  # checkout writes nothing more
    apply(cluster, namespace, rollout_manifest("checkout", soaking, flag=flag_of("checkout")))
    eventually(
        lambda: (flag_data(cluster, namespace, CONFIG_MAP) or {}).get("CHECKOUT_PCT") == "10",
        timeout=30,
        what="checkout to publish 10 % in shared-flag",
    )
    same_key = {**flag_of("checkout"), "env": {"percentage": "INTRUDER_PCT"}}
    same_env = {**flag_of("intruder-env"), "env": {"percentage": "CHECKOUT_PCT"}}
    for name, flag in (("intruder", same_key), ("intruder-env", same_env)):
        apply(cluster, namespace, rollout_manifest(name, [PHASES[-1]], flag=flag))
    before = cluster.core.read_namespaced_config_map(CONFIG_MAP, namespace)

    expected = {
        "intruder": "spec.flag.key: flag checkout in ConfigMap shared-flag",
        "intruder-env": "spec.flag.env.percentage: key CHECKOUT_PCT in ConfigMap shared-flag",
    }
    for name, says in expected.items():

        def refused(name: str = name) -> bool:
            published = conditions(cluster, namespace, name).get("Published", {})
            return published.get("reason") == "ConfigMapConflict"

        eventually(refused, timeout=30, what=f"{name} refused with Published=False")
        message = status(cluster, namespace, name)["message"]
        assert message.startswith(says) and "belongs to Rollout checkout" in message, message
        assert status(cluster, namespace, name).get("percentage", 0) == 0
    after = cluster.core.read_namespaced_config_map(CONFIG_MAP, namespace)
    assert after.metadata.resource_version == before.metadata.resource_version, (
        "a refused Rollout wrote to the ConfigMap"
    )
    assert "INTRUDER_PCT" not in (after.data or {})
    assert set(json.loads(after.data["flags.json"])["flags"]) == {"checkout"}


def test_deleting_one_sharer_takes_its_keys_out_and_the_last_takes_the_configmap(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    start_both_and_wait_at_half(cluster, namespace)
    references = cluster.core.read_namespaced_config_map(CONFIG_MAP, namespace)
    assert {r.name for r in references.metadata.owner_references} == {"alpha", "beta"}
    beta_flag = json.loads(references.data["flags.json"])["flags"]["beta"]

    cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "alpha")

    def alpha_taken_out() -> bool:
        data = flag_data(cluster, namespace, CONFIG_MAP)
        return (
            data is not None
            and "ALPHA_PCT" not in data
            and set(json.loads(data["flags.json"])["flags"]) == {"beta"}
        )

    eventually(alpha_taken_out, timeout=60, what="alpha's flag and env key taken out")
    after = cluster.core.read_namespaced_config_map(CONFIG_MAP, namespace)
    assert json.loads(after.data["flags.json"])["flags"]["beta"] == beta_flag
    assert after.data["BETA_PCT"] == "50"
    assert json.loads(after.metadata.annotations["ramp.dev/flag-owners"]) == {"beta": "beta"}

    cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "beta")
    eventually(
        lambda: flag_data(cluster, namespace, CONFIG_MAP) is None,
        timeout=60,
        what="the ConfigMap garbage-collected with the last Rollout sharing it",
    )


def test_a_refused_rollout_takes_the_key_as_soon_as_its_owner_is_deleted(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    """The team that owned the key deletes its Rollout: the one that waited for the key takes
    it over at once, not at its next resync (a minute later)."""
    soaking = [{**PHASES[0], "duration": "1h"}, PHASES[-1]]
    apply(cluster, namespace, rollout_manifest("checkout", soaking, flag=flag_of("checkout")))
    eventually(
        lambda: (flag_data(cluster, namespace, CONFIG_MAP) or {}).get("CHECKOUT_PCT") == "10",
        timeout=30,
        what="checkout to publish 10 % in shared-flag",
    )
    successor = {**flag_of("checkout"), "env": {"percentage": "SUCCESSOR_PCT"}}
    apply(cluster, namespace, rollout_manifest("successor", soaking, flag=successor))
    eventually(
        lambda: (
            conditions(cluster, namespace, "successor").get("Published", {}).get("reason")
            == "ConfigMapConflict"
        ),
        timeout=30,
        what="successor refused while checkout owns the key",
    )
    cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "checkout")

    def taken_over() -> bool:
        data = flag_data(cluster, namespace, CONFIG_MAP) or {}
        return data.get("SUCCESSOR_PCT") == "10" and "CHECKOUT_PCT" not in data

    # Well under the one-minute resync that used to be the only thing waking it.
    eventually(taken_over, timeout=20, what="successor to publish the key checkout gave up")
    annotations = cluster.core.read_namespaced_config_map(
        CONFIG_MAP, namespace
    ).metadata.annotations
    assert json.loads(annotations["ramp.dev/flag-owners"]) == {"checkout": "successor"}
