"""spec.flag.bucketing reaches the apps through flags.json, and admission refuses to change it
while users are exposed: another scheme would silently give the feature to other users."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from ramp.flags import FLAGD_GO_CORE, FLAGD_SUITE_V2, FlagFile, is_on
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    GROUP,
    PLURAL,
    VERSION,
    apply,
    flags_json,
    ramp,
    rollout_manifest,
    status,
)

PHASES = [{"name": "canary", "percentage": 5, "duration": "1h"}, {"name": "all", "percentage": 100}]


def published_scheme(cluster: Cluster, namespace: str) -> tuple[str, Any] | None:
    flags = flags_json(cluster, namespace, "scheme-flag")
    if flags is None or "targeting" not in flags["flags"]["scheme"]:
        return None
    flag = flags["flags"]["scheme"]
    return flag["metadata"]["bucketing"], flag["targeting"]["fractional"][0]


def set_bucketing(cluster: Cluster, namespace: str, scheme: str | None) -> None:
    cluster.custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "scheme", {"spec": {"flag": {"bucketing": scheme}}}
    )


def test_scheme_is_published_and_cannot_change_while_users_are_exposed(
    cluster: Cluster, namespace: str, operator: OperatorProcess, tmp_path: Path
) -> None:
    flag = {"key": "scheme", "configMap": "scheme-flag", "bucketing": FLAGD_SUITE_V2}
    apply(cluster, namespace, rollout_manifest("scheme", PHASES, flag=flag))
    eventually(
        lambda: published_scheme(cluster, namespace) == (FLAGD_SUITE_V2, ["on", 500]),
        timeout=30,
        what="flags.json to serve 5 % in the FlagdSuiteV2 scheme",
    )

    # An app reading the mounted file buckets in the Rollout's scheme with no code change.
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(flags_json(cluster, namespace, "scheme-flag")), encoding="utf-8")
    keys = [f"user-{i}" for i in range(2000)]
    decided = [FlagFile(path).is_enabled("scheme", k) for k in keys]
    assert decided == [is_on("scheme", k, 5, FLAGD_SUITE_V2) for k in keys]

    for other in (FLAGD_GO_CORE, None):  # None: the field removed, i.e. the default scheme
        with pytest.raises(client.ApiException) as refused:
            set_bucketing(cluster, namespace, other)
        assert refused.value.status == 422
        assert "spec.flag.bucketing cannot change while the rollout exposes users" in str(
            refused.value.body
        )

    ramp(cluster, "abort", "scheme", "-n", namespace)
    eventually(
        lambda: status(cluster, namespace, "scheme").get("percentage") == 0,
        timeout=30,
        what="the abort to bring the rollout to 0 %",
    )
    set_bucketing(cluster, namespace, FLAGD_GO_CORE)  # nobody exposed: allowed
    eventually(
        lambda: (
            (flags_json(cluster, namespace, "scheme-flag") or {})
            .get("flags", {})
            .get("scheme", {})
            .get("metadata", {})
            .get("bucketing")
            == FLAGD_GO_CORE
        ),
        timeout=30,
        what="flags.json to name the new scheme",
    )
