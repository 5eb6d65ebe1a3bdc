"""The ConfigMap apps read: env keys for `envFrom` and flagd's flags.json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from kubernetes import client

from ramp import telemetry
from ramp.api import RolloutSpec
from ramp.engine import format_percentage
from ramp.engine.effects import PublishFlag
from ramp.flagconfig import ON_VARIANT, ON_WEIGHT_TOTAL, render_flags_json, scheme_of
from ramp.k8s.clients import Clients, is_not_found
from ramp.k8s.ownership import MANAGED_BY, ROLLOUT_LABEL, owner_reference, rollout_labels

FLAGS_FILE = "flags.json"


def build_flag_data(
    spec: RolloutSpec, publish: PublishFlag, *, name_scheme: bool = True
) -> dict[str, str]:
    """The keys Ramp owns in the ConfigMap, with their values; nothing else is touched.
    ``name_scheme=False``: flags.json as Ramp wrote it before schemes existed (no metadata)."""
    flags_json = render_flags_json(
        spec.flag.key,
        publish.enabled,
        publish.percentage,
        publish.bucketing,
        name_scheme=name_scheme,
    )
    data = {FLAGS_FILE: flags_json}
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


@dataclass(frozen=True)
class FlagObservation:
    published: PublishFlag | None
    """What the ConfigMap serves; None when it is missing or Ramp's keys disagree."""

    owner: str | None
    """Another Rollout that owns the ConfigMap (then Ramp must not write to it)."""

    config_map: Mapping[str, Any] | None = None
    """The ConfigMap's body as read (None: it does not exist), not to be changed: the version a
    publish writes over, so one reconcile reads it once."""


def read_published(spec: RolloutSpec, data: Mapping[str, str]) -> PublishFlag | None:
    """The values the ConfigMap serves, when all of Ramp's keys agree on them, with the scheme
    its flags.json names (a file written before schemes existed names none: the legacy one)."""
    try:
        flag = json.loads(data[FLAGS_FILE])["flags"][spec.flag.key]
        named = isinstance(flag.get("metadata"), dict)
        targeting = flag.get("targeting")
        if targeting is None:
            enabled, percentage = False, 0.0
            env = spec.flag.env
            if env is not None and env.percentage and env.percentage in data:
                percentage = float(data[env.percentage])
        else:
            on = dict(targeting["fractional"])[ON_VARIANT]
            enabled, percentage = True, float(on) * 100 / ON_WEIGHT_TOTAL
        candidate = PublishFlag(enabled, round(percentage, 2), scheme_of(flag))
        wanted = build_flag_data(spec, candidate, name_scheme=named)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if any(data.get(key) != value for key, value in wanted.items()):
        return None
    return candidate


def configmap_owner(rollout_name: str, meta: Mapping[str, Any]) -> str | None:
    """The other Rollout that owns a ConfigMap, by Ramp's label or a Rollout owner reference."""
    labelled = (meta.get("labels") or {}).get(ROLLOUT_LABEL)
    if labelled and labelled != rollout_name:
        return str(labelled)
    for ref in meta.get("ownerReferences") or []:
        if (
            ref.get("kind") == "Rollout"
            and ref.get("controller")
            and ref.get("name") != rollout_name
        ):
            return str(ref["name"])
    return None


def configmap_body(clients: Clients, config_map: client.V1ConfigMap) -> dict[str, Any]:
    """The JSON object of a ConfigMap the typed client returned, as the watch delivers it."""
    body = clients.api.sanitize_for_serialization(config_map)  # type: ignore[no-untyped-call]
    return cast(dict[str, Any], body)


def observe_flag(
    clients: Clients,
    rollout: dict[str, Any],
    spec: RolloutSpec,
    known: Mapping[str, Any] | None = None,
) -> FlagObservation:
    """What the flag ConfigMap serves: ``known`` (its body as the watch delivered it; no API
    call), or read from the API server when the watch does not cover it (not labelled as
    Ramp's)."""
    namespace, name = rollout["metadata"]["namespace"], rollout["metadata"]["name"]
    current = known
    if current is None:
        try:
            read = clients.core.read_namespaced_config_map(spec.flag.config_map, namespace)
        except client.ApiException as e:
            if not is_not_found(e):
                raise
            return FlagObservation(None, None)
        current = configmap_body(clients, read)
    owner = configmap_owner(name, current.get("metadata") or {})
    return FlagObservation(read_published(spec, current.get("data") or {}), owner, current)


def flag_changes(
    spec: RolloutSpec, publish: PublishFlag, current: Mapping[str, Any]
) -> dict[str, str]:
    """Ramp's keys whose values in the ConfigMap body ``current`` differ from what ``publish``
    needs."""
    existing = current.get("data") or {}
    return {k: v for k, v in build_flag_data(spec, publish).items() if existing.get(k) != v}


def publish_flag(
    clients: Clients,
    rollout: dict[str, Any],
    spec: RolloutSpec,
    publish: PublishFlag,
    current: Mapping[str, Any] | None,
) -> tuple[bool, Mapping[str, Any]]:
    """Make the ConfigMap carry the published values, writing only when they differ, over
    ``current`` (the ConfigMap's body as observed this reconcile; None: it did not exist).
    Returns whether it wrote, and the ConfigMap's body as it now is.

    A ConfigMap that exists already keeps its other keys, labels and owners: Ramp writes only
    its own keys, and takes ownership (garbage collection) only of a ConfigMap it created.
    Either write is a 409 Conflict when the ConfigMap changed since ``current`` was read
    (including one created meanwhile): the caller reads again and decides anew.
    """
    namespace = rollout["metadata"]["namespace"]
    name = spec.flag.config_map
    if current is None:
        body = build_flag_configmap(rollout, build_flag_data(spec, publish))
        created = clients.core.create_namespaced_config_map(namespace, body)  # type: ignore[arg-type]
        telemetry.writes.labels("ConfigMap").inc()
        return True, configmap_body(clients, created)
    changed = flag_changes(spec, publish, current)
    if not changed:
        return False, current
    # Over the version read: a concurrent writer (another Rollout claiming the name, a person)
    # makes this a conflict to decide again on, never a blind overwrite.
    version = (current.get("metadata") or {}).get("resourceVersion")
    patch = {"metadata": {"resourceVersion": version}, "data": changed}
    written = clients.core.patch_namespaced_config_map(name, namespace, patch)
    telemetry.writes.labels("ConfigMap").inc()
    return True, configmap_body(clients, written)


__all__ = [
    "FLAGS_FILE",
    "MANAGED_BY",
    "FlagObservation",
    "build_flag_configmap",
    "build_flag_data",
    "configmap_body",
    "flag_changes",
    "observe_flag",
    "publish_flag",
    "read_published",
]
