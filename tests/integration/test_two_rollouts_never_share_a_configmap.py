"""Hole 7: two Rollouts naming one ConfigMap used to overwrite each other. The one that does not
own it is refused with a message and condition naming the owner, and writes nothing to it."""

from __future__ import annotations

from tests.conftest import Cluster
from tests.integration.conftest import OperatorProcess
from tests.support.eventually import eventually
from tests.support.rollouts import apply, flag_data, rollout_manifest, status

PHASES = [{"name": "canary", "percentage": 5, "duration": "1h"}, {"name": "all", "percentage": 100}]


def test_second_rollout_on_a_taken_configmap_is_refused_and_writes_nothing(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    flag = {"key": "checkout", "configMap": "shared-flag", "env": {"percentage": "PCT"}}
    apply(cluster, namespace, rollout_manifest("checkout", PHASES, flag=flag))
    eventually(
        lambda: (flag_data(cluster, namespace, "shared-flag") or {}).get("PCT") == "5",
        timeout=30,
        what="checkout to publish 5 % in shared-flag",
    )
    before = cluster.core.read_namespaced_config_map("shared-flag", namespace)

    intruder = {"key": "intruder", "configMap": "shared-flag", "env": {"percentage": "PCT"}}
    apply(
        cluster,
        namespace,
        rollout_manifest("intruder", [{"name": "all", "percentage": 100}], flag=intruder),
    )

    def refused() -> bool:
        conditions = {
            c["type"]: c for c in status(cluster, namespace, "intruder").get("conditions") or []
        }
        published = conditions.get("Published", {})
        return published.get("reason") == "ConfigMapConflict"

    eventually(refused, timeout=30, what="intruder refused with Published=False ConfigMapConflict")
    message = status(cluster, namespace, "intruder")["message"]
    assert "spec.flag.configMap" in message and "checkout" in message, message
    after = cluster.core.read_namespaced_config_map("shared-flag", namespace)
    assert after.metadata.resource_version == before.metadata.resource_version, (
        "the refused Rollout wrote to a ConfigMap it does not own"
    )
    assert "intruder" not in (after.data or {}).get("flags.json", "")
    assert status(cluster, namespace, "intruder").get("percentage", 0) == 0
