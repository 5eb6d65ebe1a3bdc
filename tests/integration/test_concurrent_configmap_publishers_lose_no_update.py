"""Publishers racing on one flag ConfigMap lose no update (hole 4 of issue 21): every write is
made over the resourceVersion read, and a writer refused with 409 reads the ConfigMap again and
merges its flag into what the other wrote. Driven against the real API server with
`publish_flag`, several writers starting from the same version at the same instant."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ramp.api import RolloutSpec
from ramp.engine import PublishFlag
from ramp.k8s.clients import Clients
from ramp.k8s.configmap import publish_flag, read_config_map, read_published
from tests.support.cluster import Cluster
from tests.support.rollouts import apply, get, rollout_manifest

CONFIG_MAP = "raced-flag"
WRITERS = ("red", "green", "blue")
ROUNDS = 6
OTHER_TEAM = {"flags": {"payments-v2": {"state": "ENABLED", "variants": {"a": 1}}}}


def writers(cluster: Cluster, namespace: str) -> dict[str, tuple[dict[str, Any], RolloutSpec]]:
    """Real Rollouts (no operator runs here): the owner references of a ConfigMap they create
    point to objects that exist, so garbage collection leaves it alone."""
    found = {}
    for name in WRITERS:
        flag = {"key": name, "configMap": CONFIG_MAP, "env": {"percentage": f"{name.upper()}_PCT"}}
        apply(
            cluster,
            namespace,
            rollout_manifest(name, [{"name": "all", "percentage": 100}], flag=flag),
        )
        rollout = get(cluster, namespace, name)
        found[name] = (rollout, RolloutSpec.model_validate(rollout["spec"]))
    return found


def race(
    cluster: Cluster,
    namespace: str,
    rollouts: dict[str, tuple[dict[str, Any], RolloutSpec]],
    current: Mapping[str, Any] | None,
    percentage: float,
) -> list[bool]:
    """Every writer publishes ``percentage`` over the same ``current`` at the same instant."""
    clients: Clients = cluster
    start = threading.Barrier(len(rollouts))

    def publish(name: str) -> bool:
        rollout, spec = rollouts[name]
        start.wait(timeout=30)
        wrote, _ = publish_flag(
            clients, rollout, spec, PublishFlag(True, percentage), current, lambda _: True
        )
        return wrote

    with ThreadPoolExecutor(len(rollouts)) as pool:
        return list(pool.map(publish, rollouts))


def assert_every_writer_serves(
    cluster: Cluster,
    namespace: str,
    rollouts: dict[str, tuple[dict[str, Any], RolloutSpec]],
    percentage: float,
) -> dict[str, Any]:
    body = read_config_map(cluster, namespace, CONFIG_MAP)
    assert body is not None
    for name, (_, spec) in rollouts.items():
        served = read_published(spec, body["data"])
        assert served == PublishFlag(True, percentage), f"{name}'s update was lost: {served}"
    return dict(body)


def test_writers_racing_to_create_and_to_update_lose_no_update(
    cluster: Cluster, namespace: str
) -> None:
    rollouts = writers(cluster, namespace)
    assert all(race(cluster, namespace, rollouts, None, 5))  # all create at once: one wins
    body = assert_every_writer_serves(cluster, namespace, rollouts, 5)
    owners = json.loads(body["metadata"]["annotations"]["ramp.dev/flag-owners"])
    assert owners == {name: name for name in WRITERS}
    references = body["metadata"]["ownerReferences"]
    assert sorted(r["name"] for r in references) == sorted(WRITERS)
    assert [r["controller"] for r in references].count(True) == 1

    for round_ in range(1, ROUNDS + 1):
        stale = read_config_map(cluster, namespace, CONFIG_MAP)
        assert all(race(cluster, namespace, rollouts, stale, round_ * 10))
        assert_every_writer_serves(cluster, namespace, rollouts, round_ * 10)


def test_writers_racing_on_another_teams_configmap_keep_its_flag(
    cluster: Cluster, namespace: str
) -> None:
    rollouts = writers(cluster, namespace)
    team_file = json.dumps(OTHER_TEAM)
    cluster.core.create_namespaced_config_map(
        namespace,
        {"metadata": {"name": CONFIG_MAP}, "data": {"flags.json": team_file, "A": "b"}},  # type: ignore[arg-type]
    )
    for round_ in range(1, ROUNDS + 1):
        stale = read_config_map(cluster, namespace, CONFIG_MAP)
        assert all(race(cluster, namespace, rollouts, stale, round_ * 10))
        body = assert_every_writer_serves(cluster, namespace, rollouts, round_ * 10)
        flags = json.loads(body["data"]["flags.json"])["flags"]
        assert flags["payments-v2"] == OTHER_TEAM["flags"]["payments-v2"]
        assert body["data"]["A"] == "b"
        assert "ownerReferences" not in body["metadata"]
