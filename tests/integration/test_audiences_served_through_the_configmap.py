"""A Rollout with audiences on the testbed: the operator publishes them as flagd targeting,
ramp.flags (reading the ConfigMap's flags.json) gives the feature to members and not to others
at the internal phase, keeps doing so across an operator killed mid-phase, adds the beta users
on promotion, and after `ramp abort` serves nobody, audiences included. `kubectl get` shows the
audiences beside the percentage; env keys say what they cannot carry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ramp.flags import FlagFile
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, flag_data, ramp, rollout_manifest, status

NAME = "pdf"
FLAG = {
    "key": "async-pdf",
    "configMap": "pdf-flags",
    "env": {"enabled": "ASYNC_PROCESSING_ENABLED"},
    "audiences": [
        {"name": "internal", "attribute": "email", "endsWith": ["@example.com"]},
        {"name": "beta", "in": ["user-1017", "user-2203"]},
    ],
}
PHASES = [
    {"name": "internal", "audiences": ["internal"], "percentage": 0, "duration": "8s"},
    {"name": "beta", "audiences": ["internal", "beta"], "percentage": 0, "duration": "1h"},
    {"name": "everyone", "percentage": 100},
]
MEMBER = ("u-1", {"email": "ana@example.com"})
BETA_USER = ("user-1017", {"email": "bo@gmail.com"})
OTHERS = [("u-2", {"email": "ana@example.org"}), ("u-3", {}), ("user-1018", {"email": 7})]


def decisions(cluster: Cluster, namespace: str, tmp_path: Path) -> dict[str, bool] | None:
    """What an app reading the ConfigMap's flags.json decides for each user (None: no file)."""
    data = flag_data(cluster, namespace, "pdf-flags")
    if data is None or "flags.json" not in data:
        return None
    path = tmp_path / "flags.json"
    path.write_text(data["flags.json"], encoding="utf-8")
    flags = FlagFile(path)
    users: list[tuple[str, dict[str, Any]]] = [MEMBER, BETA_USER, *OTHERS]
    return {key: flags.is_enabled("async-pdf", key, attributes) for key, attributes in users}


def served(cluster: Cluster, namespace: str, tmp_path: Path, *on: str) -> bool:
    seen = decisions(cluster, namespace, tmp_path)
    return seen is not None and {k for k, v in seen.items() if v} == set(on)


def percent_column(cluster: Cluster, namespace: str) -> str:
    out = cluster.kubectl("get", "rollouts", "-n", namespace).stdout.splitlines()
    header = out[0]
    row = next(line for line in out[1:] if line.startswith(NAME))
    start = header.index("PERCENT")
    return row[start : header.index("HEALTH")].strip()


def test_members_first_then_beta_users_then_nobody_after_abort(
    cluster: Cluster, namespace: str, operator: OperatorProcess, tmp_path: Path
) -> None:
    apply(cluster, namespace, rollout_manifest(NAME, PHASES, flag=FLAG))
    eventually(
        lambda: served(cluster, namespace, tmp_path, "u-1"),
        timeout=30,
        what="the internal phase to serve its members and nobody else",
    )
    assert percent_column(cluster, namespace) == "0% +1"
    assert status(cluster, namespace, NAME)["audiences"] == ["internal"]
    conditions = {c["type"]: c for c in status(cluster, namespace, NAME)["conditions"]}
    assert conditions["EnvKeysComplete"]["reason"] == "AudiencesNotInEnv"
    assert flag_data(cluster, namespace, "pdf-flags")["ASYNC_PROCESSING_ENABLED"] == "true"  # type: ignore[index]

    # The operator dies mid-phase; the one started after it keeps the members served and
    # promotes on time to the beta users.
    operator.kill()
    assert served(cluster, namespace, tmp_path, "u-1")
    operator.start()
    eventually(
        lambda: (
            status(cluster, namespace, NAME).get("currentPhase") == "beta"
            and served(cluster, namespace, tmp_path, "u-1", "user-1017")
        ),
        timeout=60,
        what="the beta phase to serve the internal accounts and the beta users",
    )
    assert percent_column(cluster, namespace) == "0% +2"

    ramp(cluster, "abort", NAME, "-n", namespace)
    eventually(
        lambda: (
            status(cluster, namespace, NAME).get("phase") == "RolledBack"
            and served(cluster, namespace, tmp_path)
        ),
        timeout=30,
        what="the abort to serve nobody, audiences included",
    )
    assert percent_column(cluster, namespace) == "0%"
    assert "audiences" not in status(cluster, namespace, NAME)
