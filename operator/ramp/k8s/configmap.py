"""The ConfigMap apps read: env keys for `envFrom` and flagd's flags.json.

One ConfigMap may serve several Rollouts, each owning its flag key in flags.json and its env
keys, as the annotations ``ramp.dev/flag-owners`` and ``ramp.dev/env-owners`` record (see
k8s/ownership.py). A Rollout writes only what it owns, merged into the ConfigMap as read and
written over the version read, so nobody else's flag, key or concurrent update is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from kubernetes import client

from ramp import telemetry
from ramp.api import KIND, RolloutSpec
from ramp.engine import format_percentage
from ramp.engine.effects import PublishFlag
from ramp.k8s.clients import Clients, is_conflict, is_not_found
from ramp.k8s.flagd import (
    ON_VARIANT,
    ON_WEIGHT_TOTAL,
    AudienceRule,
    NotAFlagSet,
    audiences_named,
    flag_in,
    merge_flag,
    parse_flag_set,
    render_flags_json,
    scheme_of,
)
from ramp.k8s.ownership import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ROLLOUT_LABEL,
    KeyOwners,
    key_owners,
    owner_reference,
    rollout_labels,
)
from ramp.k8s.patches import merge_patch

FLAGS_FILE = "flags.json"

WRITE_ATTEMPTS = 5
"""Writes over a version another writer changed first, each merged again on a fresh read,
before the reconcile gives up and decides anew."""


def _env_data(spec: RolloutSpec, publish: PublishFlag) -> dict[str, str]:
    data: dict[str, str] = {}
    if spec.flag.env is not None:
        if spec.flag.env.enabled:
            data[spec.flag.env.enabled] = "true" if publish.enabled else "false"
        if spec.flag.env.percentage:
            data[spec.flag.env.percentage] = format_percentage(publish.percentage)
    return data


def _env_fields(spec: RolloutSpec) -> list[tuple[str, str]]:
    env = spec.flag.env
    if env is None:
        return []
    named = [("enabled", env.enabled), ("percentage", env.percentage)]
    return [(field, key) for field, key in named if key]


def audience_rules(spec: RolloutSpec, names: Sequence[str]) -> tuple[AudienceRule, ...]:
    """The audiences ``names`` as spec.flag.audiences defines them, in the order named; a name
    no longer defined (an edit took it out) is left out: fewer users, never others."""
    defined = {a.name: a for a in spec.flag.audiences or []}
    return tuple(
        (name, audience.attribute, matcher, tuple(values))
        for name in names
        if (audience := defined.get(name)) is not None
        for matcher, values in audience.matchers()
    )


def _flag_json(spec: RolloutSpec, publish: PublishFlag, *, name_scheme: bool = True) -> str:
    """The Rollout's flag definition as canonical JSON (both steps cached)."""
    document = render_flags_json(
        spec.flag.key,
        publish.enabled,
        publish.percentage,
        publish.bucketing,
        name_scheme=name_scheme,
        audiences=audience_rules(spec, publish.audiences),
    )
    flag = flag_in(document, spec.flag.key)
    assert flag is not None
    return flag


def build_flag_data(
    spec: RolloutSpec, publish: PublishFlag, *, name_scheme: bool = True
) -> dict[str, str]:
    """The keys of a ConfigMap that serves this Rollout's flag alone, with their values.
    ``name_scheme=False``: flags.json as Ramp wrote it before schemes existed (no metadata)."""
    flag = _flag_json(spec, publish, name_scheme=name_scheme)
    return {FLAGS_FILE: merge_flag(None, spec.flag.key, flag), **_env_data(spec, publish)}


def build_flag_configmap(rollout: dict[str, Any], data: dict[str, str]) -> dict[str, Any]:
    """A ConfigMap Ramp creates for ``rollout``: labelled as Ramp's, garbage-collected with it."""
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
    """What the ConfigMap serves of this Rollout's keys; None when it is missing or they
    disagree."""

    owner: str | None
    """Another Rollout that owns this Rollout's flag key or an env key of it in the ConfigMap
    (then Ramp must not write to it)."""

    config_map: Mapping[str, Any] | None = None
    """The ConfigMap's body as read (None: it does not exist), not to be changed: the version a
    publish writes over, so one reconcile reads it once."""

    clash: str | None = None
    """What of this Rollout's the owner holds (``spec.flag.key: flag checkout``); None with an
    owner: the whole ConfigMap, as a Ramp from before per-key owners recorded it."""


def read_published(spec: RolloutSpec, data: Mapping[str, str]) -> PublishFlag | None:
    """The values the ConfigMap serves, when the Rollout's flag in flags.json and its env keys
    agree on them, with the scheme its flag names (none named: the legacy one). Other flags in
    the file are not looked at."""
    try:
        text = data[FLAGS_FILE]
        flag = parse_flag_set(text)["flags"][spec.flag.key]
        named = isinstance(flag.get("metadata"), dict)
        targeting = flag.get("targeting")
        if targeting is None:
            enabled, percentage = False, 0.0
            env = spec.flag.env
            if env is not None and env.percentage and env.percentage in data:
                percentage = float(data[env.percentage])
        else:
            fractional = targeting["if"][2] if "if" in targeting else targeting
            on = dict(fractional["fractional"])[ON_VARIANT]
            enabled, percentage = True, float(on) * 100 / ON_WEIGHT_TOTAL
        audiences = audiences_named(flag) if enabled else ()
        candidate = PublishFlag(enabled, round(percentage, 2), scheme_of(flag), audiences)
        wanted = _flag_json(spec, candidate, name_scheme=named)
        env_wanted = _env_data(spec, candidate)
        served = flag_in(text, spec.flag.key)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if served != wanted or any(data.get(k) != v for k, v in env_wanted.items()):
        return None
    return candidate


def legacy_owner(rollout_name: str, meta: Mapping[str, Any]) -> str | None:
    """The other Rollout a ConfigMap wholly belongs to by Ramp's label or a controller owner
    reference: how a Ramp from before per-key owners marked the ConfigMaps it created."""
    labelled = (meta.get("labels") or {}).get(ROLLOUT_LABEL)
    if labelled and labelled != rollout_name:
        return str(labelled)
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == KIND and ref.get("controller") and ref.get("name") != rollout_name:
            return str(ref["name"])
    return None


def rollouts_named(meta: Mapping[str, Any]) -> frozenset[str]:
    """Every Rollout a ConfigMap names as an owner (of keys, by label or by reference): those
    its changes concern."""
    names = set(key_owners(meta).rollouts())
    labelled = (meta.get("labels") or {}).get(ROLLOUT_LABEL)
    if labelled:
        names.add(str(labelled))
    names.update(str(r["name"]) for r in meta.get("ownerReferences") or [] if r.get("kind") == KIND)
    return frozenset(names)


def owners_in_doubt(
    rollout_name: str, current: Mapping[str, Any] | None, indexed: Callable[[str], bool]
) -> frozenset[str]:
    """The other Rollouts the ConfigMap ``current`` names as owners whose existence is to be
    asked of the API server: those not ``indexed`` (the watch does not know them), and in a
    ConfigMap Ramp created those no longer owner-referenced (garbage collection takes the
    reference of a deleted Rollout out, possibly before the watch tells of the deletion)."""
    if current is None:
        return frozenset()
    meta = current.get("metadata") or {}
    owners = key_owners(meta)
    named = set(owners.rollouts())
    if not owners.flags and not owners.env:
        legacy = legacy_owner(rollout_name, meta)
        if legacy is not None:
            named.add(legacy)
    named.discard(rollout_name)
    references = meta.get("ownerReferences") or []
    referenced = {str(r.get("name")) for r in references if r.get("kind") == KIND}
    created_by_ramp = (meta.get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY
    return frozenset(
        n for n in named if not indexed(n) or (created_by_ramp and n not in referenced)
    )


def gone_rollouts(clients: Clients, namespace: str, names: Collection[str]) -> frozenset[str]:
    """Those of the Rollouts ``names`` that the API server says do not exist (a 404)."""
    gone = set()
    for name in names:
        try:
            clients.get_rollout(namespace, name)
        except client.ApiException as e:
            if not is_not_found(e):
                raise
            gone.add(name)
    return frozenset(gone)


def find_clash(
    rollout_name: str,
    spec: RolloutSpec,
    meta: Mapping[str, Any],
    gone: Collection[str] = frozenset(),
) -> tuple[str, str | None] | None:
    """The other Rollout holding what this one would write, and what it holds (None: the whole
    ConfigMap, recorded before per-key owners); None when nothing of it is taken. A Rollout in
    ``gone`` no longer exists and holds nothing."""
    owners = key_owners(meta)

    def taken(holder: str | None) -> bool:
        return holder is not None and holder != rollout_name and holder not in gone

    holder = owners.flags.get(spec.flag.key)
    if taken(holder):
        assert holder is not None
        return holder, f"spec.flag.key: flag {spec.flag.key}"
    for field, key in _env_fields(spec):
        holder = owners.env.get(key)
        if taken(holder):
            assert holder is not None
            return holder, f"spec.flag.env.{field}: key {key}"
    if not owners.flags and not owners.env:
        legacy = legacy_owner(rollout_name, meta)
        if legacy is not None and legacy not in gone:
            return legacy, None
    return None


def observe_flag(
    rollout: Mapping[str, Any],
    spec: RolloutSpec,
    current: Mapping[str, Any] | None,
    gone: Collection[str] = frozenset(),
) -> FlagObservation:
    """What the flag ConfigMap ``current`` (None: missing) serves this Rollout, and whether
    another Rollout, not in ``gone``, holds what it would write."""
    if current is None:
        return FlagObservation(None, None)
    clash = find_clash(rollout["metadata"]["name"], spec, current.get("metadata") or {}, gone)
    owner, what = clash if clash is not None else (None, None)
    return FlagObservation(read_published(spec, current.get("data") or {}), owner, current, what)


def configmap_body(clients: Clients, config_map: client.V1ConfigMap) -> dict[str, Any]:
    """The JSON object of a ConfigMap the typed client returned, as the watch delivers it."""
    body = clients.api.sanitize_for_serialization(config_map)  # type: ignore[no-untyped-call]
    return cast(dict[str, Any], body)


def read_config_map(clients: Clients, namespace: str, name: str) -> Mapping[str, Any] | None:
    """The ConfigMap's body from the API server; None when it does not exist."""
    try:
        read = clients.core.read_namespaced_config_map(name, namespace)
    except client.ApiException as e:
        if not is_not_found(e):
            raise
        return None
    return configmap_body(clients, read)


def desired_config_map(
    rollout: Mapping[str, Any],
    spec: RolloutSpec,
    publish: PublishFlag,
    current: Mapping[str, Any] | None,
    gone: Collection[str] = frozenset(),
) -> dict[str, Any] | None:
    """The ConfigMap body to write so that it serves ``publish`` over ``current`` (None: it does
    not exist, the body to create); None when ``current`` serves it already.

    Only this Rollout's keys change: its flag in flags.json (merged, every other flag and
    top-level key kept), its env keys and its entries in the owner annotations. Keys it owned
    before and no longer names (a changed flag key or env key) are taken out. A Rollout in
    ``gone`` no longer exists: its owner entries are dropped, and in a ConfigMap Ramp created
    (labelled as Ramp's) so are its flag and env keys, as garbage collection takes a ConfigMap
    that was its alone. A ConfigMap Ramp created holds an owner reference to each Rollout that
    shares it, so Kubernetes deletes it once none of them exists.

    Raises :class:`ramp.k8s.flagd.NotAFlagSet` when flags.json is not a flag set.
    """
    name = rollout["metadata"]["name"]
    key = spec.flag.key
    flag = _flag_json(spec, publish)
    env = _env_data(spec, publish)
    if current is None:
        body = build_flag_configmap(dict(rollout), {FLAGS_FILE: merge_flag(None, key, flag), **env})
        owners = KeyOwners({key: name}, {k: name for k in env})
        body["metadata"]["annotations"] = owners.annotations()
        return body
    meta = current.get("metadata") or {}
    data: dict[str, str] = dict(current.get("data") or {})
    owners = key_owners(meta)
    created_by_ramp = (meta.get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY

    def released(holder: str) -> bool:
        return holder == name or holder in gone

    def removed(holder: str) -> bool:
        return holder == name or (holder in gone and created_by_ramp)

    dropped_flags = {k: o for k, o in owners.flags.items() if k != key and released(o)}
    dropped_env = {k: o for k, o in owners.env.items() if k not in env and released(o)}
    flag_owners = {k: o for k, o in owners.flags.items() if k not in dropped_flags}
    env_owners = {k: o for k, o in owners.env.items() if k not in dropped_env}
    flag_owners[key] = name
    env_owners.update({k: name for k in env})

    written = {k: v for k, v in data.items() if not (k in dropped_env and removed(dropped_env[k]))}
    written.update(env)
    taken_out = [k for k, o in dropped_flags.items() if removed(o)]
    written[FLAGS_FILE] = merge_flag(data.get(FLAGS_FILE), key, flag, taken_out)

    annotations = meta.get("annotations") or {}
    if flag_owners != owners.flags or env_owners != owners.env:
        annotations = {**annotations, **KeyOwners(flag_owners, env_owners).annotations()}
    references = list(meta.get("ownerReferences") or [])
    if created_by_ramp:
        references = _with_reference(rollout, references, claims=name not in owners.rollouts())
    if (
        written == data
        and annotations == (meta.get("annotations") or {})
        and references == list(meta.get("ownerReferences") or [])
    ):
        return None
    new_meta = {k: v for k, v in meta.items() if k != "managedFields"}
    new_meta["annotations"] = annotations
    if references:
        new_meta["ownerReferences"] = references
    return {
        **current,
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": new_meta,
        "data": written,
    }


def _with_reference(
    rollout: Mapping[str, Any], references: list[dict[str, Any]], *, claims: bool
) -> list[dict[str, Any]]:
    """The owner references of a ConfigMap Ramp created, with one to ``rollout``: garbage
    collection keeps the ConfigMap while any Rollout sharing it exists. One to a deleted
    Rollout of the same name is replaced (it would let the ConfigMap be collected); none is
    added unless the Rollout ``claims`` its keys now, so a reference a person removed stays
    removed."""
    name, uid = rollout["metadata"]["name"], rollout["metadata"]["uid"]
    same_name = [r for r in references if r.get("kind") == KIND and r.get("name") == name]
    if any(r.get("uid") == uid for r in same_name) or not (same_name or claims):
        return references
    others = [r for r in references if r not in same_name]
    reference = owner_reference(dict(rollout))
    reference["controller"] = not any(r.get("controller") for r in others)
    return [*others, reference]


def _written_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    return {
        "data": body.get("data") or {},
        "metadata": {
            "annotations": meta.get("annotations") or {},
            "ownerReferences": meta.get("ownerReferences") or [],
        },
    }


def config_map_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch that turns ``current`` into ``desired`` (from
    :func:`desired_config_map`) in what Ramp writes (data, annotations, owner references), over
    ``current``'s resourceVersion: a precondition, so it is refused with 409 when anyone wrote
    in between. (A patch, not an update: Ramp's RBAC grants no ``update`` on ConfigMaps.)"""
    patch = merge_patch(_written_fields(current), _written_fields(desired))
    version = (current.get("metadata") or {}).get("resourceVersion")
    patch.setdefault("metadata", {})["resourceVersion"] = version
    return patch


class FlagTaken(Exception):
    """Another Rollout took what this one would write, between the read and the write."""


def publish_flag(
    clients: Clients,
    rollout: Mapping[str, Any],
    spec: RolloutSpec,
    publish: PublishFlag,
    current: Mapping[str, Any] | None,
    indexed: Callable[[str], bool],
) -> tuple[bool, Mapping[str, Any] | None]:
    """Make the ConfigMap serve ``publish``, merged over ``current`` (its body as observed this
    reconcile; None: it did not exist), writing only when something differs. Returns whether
    it wrote, and the ConfigMap's body as it now is.

    Every write is over the version read (create: none existed), so another writer's update
    is never lost: on a conflict the ConfigMap is read again and the flag merged anew, up to
    WRITE_ATTEMPTS times (then the 409 is raised). Raises :class:`FlagTaken` when another
    Rollout that exists (``indexed``: the watch knows it; else asked of the API server, see
    :func:`owners_in_doubt`) holds this Rollout's keys in the version read, and
    :class:`ramp.k8s.flagd.NotAFlagSet` when its flags.json is not a flag set.
    """
    namespace, name = rollout["metadata"]["namespace"], rollout["metadata"]["name"]
    config_map = spec.flag.config_map
    for attempt in range(WRITE_ATTEMPTS):
        gone = gone_rollouts(clients, namespace, owners_in_doubt(name, current, indexed))
        if current is not None and find_clash(name, spec, current.get("metadata") or {}, gone):
            raise FlagTaken(f"ConfigMap {namespace}/{config_map}: taken by another Rollout")
        body = desired_config_map(rollout, spec, publish, current, gone)
        if body is None:
            return False, current
        try:
            if current is None:
                done = clients.core.create_namespaced_config_map(namespace, body)  # type: ignore[arg-type]
            else:
                done = clients.core.patch_namespaced_config_map(
                    config_map,
                    namespace,
                    config_map_patch(current, body),
                    _content_type="application/merge-patch+json",
                )
        except client.ApiException as e:
            # Another writer came first (409: changed or created meanwhile; 404: deleted):
            # read what it wrote and merge into that.
            retry = is_conflict(e) or (current is not None and is_not_found(e))
            if not retry or attempt == WRITE_ATTEMPTS - 1:
                raise
            current = read_config_map(clients, namespace, config_map)
            continue
        telemetry.writes.labels("ConfigMap").inc()
        return True, configmap_body(clients, done)
    raise AssertionError("unreachable: the last attempt returns or raises")


__all__ = [
    "FLAGS_FILE",
    "MANAGED_BY",
    "FlagObservation",
    "FlagTaken",
    "NotAFlagSet",
    "build_flag_configmap",
    "build_flag_data",
    "config_map_patch",
    "configmap_body",
    "desired_config_map",
    "find_clash",
    "gone_rollouts",
    "legacy_owner",
    "observe_flag",
    "owners_in_doubt",
    "publish_flag",
    "read_config_map",
    "read_published",
    "rollouts_named",
]
