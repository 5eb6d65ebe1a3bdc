"""RolloutPolicies as the watch delivered them, and which Rollouts use each one.

Resolving a Rollout's policy reads the kept body: no API call per analysis. A policy event
wakes exactly the Rollouts that name it, found in a map kept from the Rollouts' own watch
events (`note`), not by scanning every Rollout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ramp.api import RolloutSpec
from ramp.engine.effective import resolve
from ramp.engine.observations import PolicyObservation
from ramp.runtime.index import BodyIndex, Key


@dataclass
class PolicyIndex(BodyIndex):
    """The RolloutPolicies by (namespace, name), and the Rollouts naming each."""

    users: dict[Key, set[str]] = field(default_factory=dict)
    """Rollout names by the (namespace, policy) their spec.policy names."""
    named: dict[Key, str] = field(default_factory=dict)
    """The policy each Rollout names, by (namespace, rollout)."""
    merged: dict[Key, tuple[str, str | None, tuple[RolloutSpec, PolicyObservation | None]]] = field(
        default_factory=dict
    )
    """The last merge per Rollout, with the Rollout's and the policy's resourceVersions it was
    made of: an analysis of an unchanged Rollout and policy merges nothing again."""
    looked_up: set[Key] = field(default_factory=set)
    """Policies read from the API once because the watch had not delivered them yet."""

    def note(self, namespace: str, rollout: str, body: Mapping[str, Any], deleted: bool) -> None:
        """A Rollout's watch event: remember which policy it names (none once deleted)."""
        key = (namespace, rollout)
        spec = body.get("spec") or {}
        wanted = None if deleted else spec.get("policy")
        if deleted:
            self.merged.pop(key, None)
        before = self.named.get(key)
        if before == wanted:
            return
        if before is not None:
            users = self.users.get((namespace, before), set())
            users.discard(rollout)
            if not users:
                self.users.pop((namespace, before), None)
        if isinstance(wanted, str):
            self.named[key] = wanted
            self.users.setdefault((namespace, wanted), set()).add(rollout)
        else:
            self.named.pop(key, None)

    def users_of(self, namespace: str, policy: str) -> list[str]:
        return sorted(self.users.get((namespace, policy), ()))

    def resolve(
        self, namespace: str, rollout: str, spec: RolloutSpec, version: str
    ) -> tuple[RolloutSpec, PolicyObservation | None]:
        """The spec to decide with (merged with its policy) and what was found of the policy;
        ``version`` is the Rollout's resourceVersion that ``spec`` was read from."""
        key = (namespace, rollout)
        if spec.policy is None:
            self.merged.pop(key, None)
            return spec, None
        policy = (namespace, spec.policy)
        known = self.version(policy)
        kept = self.merged.get(key)
        if kept is not None and kept[0] == version and kept[1] == known:
            return kept[2]
        result = resolve(spec, namespace, rollout, self.bodies.get(policy))
        self.merged[key] = (version, known, result)
        return result

    def version_of(self, namespace: str, spec: RolloutSpec) -> tuple[Key, str | None] | None:
        """The policy a Rollout names and its resourceVersion now (None: it names none)."""
        if spec.policy is None:
            return None
        key = (namespace, spec.policy)
        return key, self.version(key)
