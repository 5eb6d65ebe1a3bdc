"""The ConfigMap apps read: env keys for `envFrom` and flagd's flags.json."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from ramp import telemetry
from ramp.api import RolloutSpec
from ramp.engine import format_percentage
from ramp.engine.effects import PublishFlag
from ramp.flagconfig import render_flags_json
from ramp.k8s.clients import Clients, is_not_found
from ramp.k8s.ownership import MANAGED_BY, owner_reference, rollout_labels

FLAGS_FILE = "flags.json"


def build_flag_data(spec: RolloutSpec, publish: PublishFlag) -> dict[str, str]:
    """The keys Ramp owns in the ConfigMap, with their values; nothing else is touched."""
    data = {FLAGS_FILE: render_flags_json(spec.flag.key, publish.enabled, publish.percentage)}
    if spec.flag.env is not None:
        if spec.flag.env.enabled:
            data[spec.flag.env.enabled] = "true" if publish.enabled else "false"
        if spec.flag.env.percentage:
            data[spec.flag.env.percentage] = format_percentage(publish.percentage)
    return data


def build_flag_configmap(rollout: dict[str, Any], data: dict[str, str]) -> dict[str, Any]:
    meta = rollout["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": rollout["spec"]["flag"]["configMap"],
            "namespace": meta["namespace"],
            "labels": rollout_labels(meta["name"]),
            "ownerReferences": [owner_reference(rollout)],
        },
        "data": data,
    }


def publish_flag(
    clients: Clients, rollout: dict[str, Any], spec: RolloutSpec, publish: PublishFlag
) -> None:
    """Make the ConfigMap carry the published values, writing only when they differ.

    A ConfigMap that exists already keeps its other keys, labels and owners: Ramp writes only
    its own keys, and takes ownership (garbage collection) only of a ConfigMap it created.
    """
    namespace = rollout["metadata"]["namespace"]
    name = spec.flag.config_map
    data = build_flag_data(spec, publish)
    try:
        current = clients.core.read_namespaced_config_map(name, namespace)
    except client.ApiException as e:
        if not is_not_found(e):
            raise
        body = build_flag_configmap(rollout, data)
        clients.core.create_namespaced_config_map(namespace, body)  # type: ignore[arg-type]
        telemetry.writes.labels("ConfigMap").inc()
        return
    existing = current.data or {}
    changed = {key: value for key, value in data.items() if existing.get(key) != value}
    if changed:
        clients.core.patch_namespaced_config_map(name, namespace, {"data": changed})
        telemetry.writes.labels("ConfigMap").inc()


__all__ = ["FLAGS_FILE", "MANAGED_BY", "build_flag_configmap", "build_flag_data", "publish_flag"]
