"""Hole 4 of issue 21: a ConfigMap that already exists lost data. A publish replaced the whole
flags.json with a document holding only the Rollout's flag, so another team's flag in the same
file was deleted. Now the Rollout's flag is merged in: through publishing, progressing and
rolling back, every other flag, top-level key and data key stays as it was."""

from __future__ import annotations

import json
from typing import Any

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, flag_data, ramp, rollout_manifest, status

CONFIG_MAP = "team-flags"
PHASES = [
    {"name": "canary", "percentage": 10, "duration": "2s"},
    {"name": "half", "percentage": 50, "duration": "1h"},
    {"name": "all", "percentage": 100},
]
PAYMENTS_FLAG = {
    "state": "ENABLED",
    "variants": {"blue": "#00f", "red": "#f00", "ratio": 0.25, "big": 12345678901234567},
    "defaultVariant": "blue",
    "targeting": {"if": [{"in": ["@example.com", {"var": "email"}]}, "red", None]},
    "metadata": {"team": "payments", "ticket": "PAY-1234"},
}
TEAM_FILE = {
    "$schema": "https://flagd.dev/schema/v0/flags.json",
    "metadata": {"flagSetId": "shop", "version": "7"},
    "$evaluators": {"emailWithFaas": {"ends_with": [{"var": "email"}, "@faas.com"]}},
    "flags": {"payments-v2": PAYMENTS_FLAG},
}
OTHER_DATA = {"LOG_LEVEL": "debug", "settings.yaml": "retries: 3\ntimeout: 5s\n"}


def served(cluster: Cluster, namespace: str) -> dict[str, Any]:
    data = flag_data(cluster, namespace, CONFIG_MAP) or {}
    return {"data": data, "flags": json.loads(data.get("flags.json", "{}"))}


def assert_team_data_kept(cluster: Cluster, namespace: str, when: str) -> None:
    now = served(cluster, namespace)
    for key, value in OTHER_DATA.items():
        assert now["data"].get(key) == value, f"{when}: data key {key} changed"
    document = now["flags"]
    for key in ("$schema", "metadata", "$evaluators"):
        assert document.get(key) == TEAM_FILE[key], f"{when}: top-level {key} of flags.json changed"
    assert document["flags"].get("payments-v2") == PAYMENTS_FLAG, (
        f"{when}: the payments team's flag in flags.json changed or was deleted"
    )


def reports_on_at(cluster: Cluster, namespace: str, weight: int) -> bool:
    flag = served(cluster, namespace)["flags"].get("flags", {}).get("reports") or {}
    return dict((flag.get("targeting") or {}).get("fractional") or []).get("on") == weight


def test_existing_configmap_keeps_another_teams_flag_through_publish_progress_and_rollback(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    cluster.core.create_namespaced_config_map(
        namespace,
        {  # type: ignore[arg-type]
            "metadata": {"name": CONFIG_MAP, "labels": {"team": "payments"}},
            "data": {**OTHER_DATA, "flags.json": json.dumps(TEAM_FILE, indent=2)},
        },
    )
    flag = {"key": "reports", "configMap": CONFIG_MAP, "env": {"percentage": "REPORTS_PCT"}}
    apply(cluster, namespace, rollout_manifest("reports", PHASES, flag=flag))

    eventually(lambda: reports_on_at(cluster, namespace, 1000), timeout=30, what="10 % published")
    assert_team_data_kept(cluster, namespace, "after the first publish")

    eventually(lambda: reports_on_at(cluster, namespace, 5000), timeout=30, what="50 % published")
    assert_team_data_kept(cluster, namespace, "after progressing to 50 %")
    assert served(cluster, namespace)["data"]["REPORTS_PCT"] == "50"

    ramp(cluster, "abort", "reports", "-n", namespace)
    eventually(
        lambda: (
            status(cluster, namespace, "reports").get("phase") == "RolledBack"
            and reports_on_at(cluster, namespace, 0)
        ),
        timeout=30,
        what="the rollback to 0 % published",
    )
    assert_team_data_kept(cluster, namespace, "after the rollback")
    meta = cluster.core.read_namespaced_config_map(CONFIG_MAP, namespace).metadata
    assert meta.labels == {"team": "payments"}, "labels of a ConfigMap Ramp did not create changed"
    assert not meta.owner_references, "Ramp took ownership of a ConfigMap it did not create"
    assert json.loads(meta.annotations["ramp.dev/flag-owners"]) == {"reports": "reports"}


def test_a_flags_json_that_is_not_a_flag_set_is_left_alone_and_the_rollout_says_so(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    broken = '{"flags": {"payments-v2": {"state": "ENABLED",'  # cut short by a bad edit
    cluster.core.create_namespaced_config_map(
        namespace,
        {"metadata": {"name": CONFIG_MAP}, "data": {"flags.json": broken}},  # type: ignore[arg-type]
    )
    flag = {"key": "reports", "configMap": CONFIG_MAP}
    apply(cluster, namespace, rollout_manifest("reports", PHASES, flag=flag))

    def said() -> str:
        conditions = status(cluster, namespace, "reports").get("conditions") or []
        published = next((c for c in conditions if c["type"] == "Published"), {})
        return str(published.get("message", "")) if published.get("status") == "False" else ""

    message = eventually(
        lambda: "not a flagd flag set" in said() and said(),
        timeout=30,
        what="the Published condition to say flags.json is not a flag set",
    )
    assert "team-flags" in message and "fix or remove" in message, message
    assert flag_data(cluster, namespace, CONFIG_MAP) == {"flags.json": broken}, "Ramp wrote over it"
