"""I11 across an operator upgrade: a Rollout an operator from before `spec.flag.bucketing` left
at 25 % (flags.json for the CBOR scheme, without naming it; no status.bucketing) keeps exposing
the very same users once the current operator takes over, and a promotion only adds users."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from ramp.api import RolloutSpec
from ramp.engine import PublishFlag
from ramp.flags import DEFAULT_SCHEME, FLAGD_SUITE_V2, PYTHON_PROVIDER_CBOR, FlagFile, is_on
from ramp.k8s.configmap import build_flag_configmap, build_flag_data
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.invariants import check_bucketing_kept_while_exposed
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    GROUP,
    PLURAL,
    VERSION,
    apply,
    flags_json,
    get,
    ramp,
    rollout_manifest,
    status,
    wait_published,
)
from tests.support.trace import Recorder, moments

NAME = "upgrade"
CONFIG_MAP = "upgrade-flag"
KEYS = [f"user-{i}" for i in range(5000)]
PHASES = [
    {"name": "canary", "percentage": 5, "duration": "1h"},
    {"name": "quarter", "percentage": 25, "duration": "1h"},
    {"name": "half", "percentage": 50, "duration": "1h"},
    {"name": "all", "percentage": 100},
]
OLD_STATUS = {
    "phase": "Progressing",
    "currentPhase": "quarter",
    "currentPhaseIndex": 1,
    "percentage": 25,
    "enabled": True,
    "message": "waiting for quarter to soak",
}


def users_on(cluster: Cluster, namespace: str, tmp_path: Path) -> set[str]:
    """The targeting keys that get the feature from the flags.json the ConfigMap serves now,
    decided by ramp.flags as an app reading the mounted file does."""
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(flags_json(cluster, namespace, CONFIG_MAP)), encoding="utf-8")
    flags = FlagFile(path)
    return {key for key in KEYS if flags.is_enabled(NAME, key)}


def leave_as_an_older_operator_did(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """The Rollout at 25 % with the status and ConfigMap an operator from before schemes wrote."""
    apply(cluster, namespace, rollout_manifest(NAME, PHASES))
    rollout = get(cluster, namespace, NAME)
    spec = RolloutSpec.model_validate(rollout["spec"])
    old = build_flag_data(spec, PublishFlag(True, 25, PYTHON_PROVIDER_CBOR), name_scheme=False)
    assert "metadata" not in json.loads(old["flags.json"])["flags"][NAME]
    body = build_flag_configmap(rollout, old)
    cluster.core.create_namespaced_config_map(namespace, body)  # type: ignore[arg-type]
    started = rollout["metadata"]["creationTimestamp"]
    generation = rollout["metadata"]["generation"]
    stored = {**OLD_STATUS, "phaseStartedAt": started, "observedGeneration": generation}
    cluster.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, NAME, {"status": stored}
    )
    return rollout


def set_bucketing(cluster: Cluster, namespace: str, scheme: str) -> None:
    cluster.custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, NAME, {"spec": {"flag": {"bucketing": scheme}}}
    )


def named_scheme(cluster: Cluster, namespace: str) -> str | None:
    flags = flags_json(cluster, namespace, CONFIG_MAP) or {}
    metadata = flags.get("flags", {}).get(NAME, {}).get("metadata") or {}
    return metadata.get("bucketing")


def test_upgrade_mid_rollout_keeps_the_users_exposed_and_promotion_only_adds(
    cluster: Cluster, namespace: str, operator: OperatorProcess, tmp_path: Path
) -> None:
    operator.stop()  # the older operator is gone; the current one starts below
    recorder = Recorder(cluster, namespace).start()
    try:
        leave_as_an_older_operator_did(cluster, namespace)
        before = users_on(cluster, namespace, tmp_path)
        assert before == {k for k in KEYS if is_on(NAME, k, 25, PYTHON_PROVIDER_CBOR)}
        by_default = {k for k in KEYS if is_on(NAME, k, 25, DEFAULT_SCHEME)}
        assert len(before ^ by_default) > len(KEYS) / 5, "the default would reshuffle many"

        operator.start()
        eventually(
            lambda: named_scheme(cluster, namespace) == PYTHON_PROVIDER_CBOR,
            timeout=30,
            what="the current operator to republish flags.json naming the scheme it served",
        )
        assert status(cluster, namespace, NAME).get("bucketing") == PYTHON_PROVIDER_CBOR
        after = users_on(cluster, namespace, tmp_path)
        assert after == before, f"{len(after ^ before)} of {len(KEYS)} users reshuffled"

        def served() -> dict[str, Any] | None:
            conditions = status(cluster, namespace, NAME).get("conditions") or []
            return next(
                (c for c in conditions if c["type"] == "Published" and c["status"] == "True"),
                None,
            )

        published = eventually(
            served, timeout=30, what="the Published condition to say the ConfigMap serves it"
        )
        assert published is not None
        assert f"bucketing {PYTHON_PROVIDER_CBOR}" in published["message"], published
        shown = ramp(cluster, "status", NAME, "-n", namespace).stdout
        assert PYTHON_PROVIDER_CBOR in shown, shown

        # Admission: the scheme in use may be written into the spec, no other while exposed.
        with pytest.raises(client.ApiException) as refused:
            set_bucketing(cluster, namespace, FLAGD_SUITE_V2)
        assert refused.value.status == 422, refused.value
        assert "the scheme in use (status.bucketing) is always accepted" in str(refused.value.body)
        set_bucketing(cluster, namespace, PYTHON_PROVIDER_CBOR)

        ramp(cluster, "promote", NAME, "-n", namespace, "--skip-soak")
        wait_published(cluster, namespace, CONFIG_MAP, "50", timeout=30)
        promoted = users_on(cluster, namespace, tmp_path)
        assert before <= promoted, f"{len(before - promoted)} users lost the feature"
        assert abs(len(promoted) / len(KEYS) - 0.5) < 0.03, len(promoted)
    finally:
        recorder.stop()
    check_bucketing_kept_while_exposed(moments(recorder.snapshot(), NAME))


def test_admission_keeps_the_scheme_while_a_completed_rollout_exposes_only_some_users(
    cluster: Cluster, namespace: str, rollout_crd: str
) -> None:
    """Completed at 25 % still gives the feature to some users and not others."""
    apply(cluster, namespace, rollout_manifest(NAME, [{"name": "only", "percentage": 25}]))
    completed = {"phase": "Completed", "currentPhase": "only", "percentage": 25}
    cluster.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, NAME, {"status": completed}
    )
    with pytest.raises(client.ApiException) as refused:
        set_bucketing(cluster, namespace, FLAGD_SUITE_V2)
    assert refused.value.status == 422, refused.value
    cluster.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, NAME, {"status": {**completed, "percentage": 100}}
    )
    set_bucketing(cluster, namespace, FLAGD_SUITE_V2)  # everybody has it: nobody reshuffled
