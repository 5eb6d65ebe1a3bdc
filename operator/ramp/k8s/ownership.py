"""Labels, owner references and the finalizer Ramp puts on what it creates or changes."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ramp.api import GROUP, KIND, VERSION

MANAGED_BY = "ramp"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ROLLOUT_LABEL = "ramp.dev/rollout"
FINALIZER = "ramp.dev/restore-workers"
"""Present only while Ramp holds worker scale it must put back when the Rollout is deleted."""


def rollout_labels(name: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY, ROLLOUT_LABEL: name}


def owner_reference(rollout: dict[str, Any]) -> dict[str, Any]:
    meta = rollout["metadata"]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
    }


FLAG_OWNERS = "ramp.dev/flag-owners"
"""Annotation on a flag ConfigMap: which Rollout owns which flag in its flags.json, as a JSON
object ``{"<flag key>": "<Rollout name>"}``. Ownership is per key, so Rollouts with distinct
keys share one ConfigMap (and apps mount one file)."""

ENV_OWNERS = "ramp.dev/env-owners"
"""Annotation on a flag ConfigMap: which Rollout owns which env key (``spec.flag.env``), as a
JSON object ``{"<data key>": "<Rollout name>"}``."""


@dataclass(frozen=True)
class KeyOwners:
    """The Rollouts that own keys in one ConfigMap, as its annotations record them."""

    flags: Mapping[str, str] = field(default_factory=dict)
    """Flag key in flags.json -> Rollout name."""

    env: Mapping[str, str] = field(default_factory=dict)
    """Env key (a key of the ConfigMap's data) -> Rollout name."""

    def rollouts(self) -> frozenset[str]:
        return frozenset(self.flags.values()) | frozenset(self.env.values())

    def annotations(self) -> dict[str, str]:
        """The annotations that record these owners (sorted JSON: the same owners, the same
        text, so nothing is rewritten for nothing)."""
        return {
            FLAG_OWNERS: json.dumps(dict(self.flags), sort_keys=True),
            ENV_OWNERS: json.dumps(dict(self.env), sort_keys=True),
        }


@functools.lru_cache(maxsize=4096)
def _owner_map(text: str | None) -> Mapping[str, str]:
    """One owner annotation, parsed (cached: every reconcile reads the same few; read-only)."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        value = {}  # edited into nonsense: the next write of each owner records it again
    if not isinstance(value, dict):
        value = {}
    owners = {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
    return MappingProxyType(owners)


def key_owners(meta: Mapping[str, Any]) -> KeyOwners:
    """The key owners a ConfigMap's metadata records (none: no Rollout recorded any)."""
    annotations = meta.get("annotations") or {}
    return KeyOwners(
        _owner_map(annotations.get(FLAG_OWNERS)), _owner_map(annotations.get(ENV_OWNERS))
    )
