"""Policies are kept from their watch: resolving one reads the kept body (no API call), a merge
is made again only when the Rollout or the policy changed, and a policy event wakes exactly the
Rollouts that name it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from ramp.api import RolloutSpec
from ramp.runtime import handlers
from ramp.runtime.policies import PolicyIndex


def body(name: str, policy: str | None, version: str = "1") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "flag": {"key": name, "configMap": f"{name}-flag"},
        "phases": [{"name": "all", "percentage": 100}],
    }
    if policy:
        spec["policy"] = policy
    return {"metadata": {"name": name, "resourceVersion": version}, "spec": spec}


def policy_body(version: str, reason: str | None = None) -> dict[str, Any]:
    spec = {"freeze": {"reason": reason}} if reason else {}
    return {"metadata": {"name": "reptate", "resourceVersion": version}, "spec": spec}


class Loops:
    def __init__(self) -> None:
        self.woken: list[tuple[str, str]] = []

    def wake(self, namespace: str, name: str) -> None:
        self.woken.append((namespace, name))

    def seen(self, namespace: str, name: str, deleted: bool) -> None:
        pass


def test_a_policy_event_wakes_exactly_the_rollouts_naming_it() -> None:
    policies, loops = PolicyIndex(), Loops()
    memo = SimpleNamespace(
        policies=policies, loops=loops, index=SimpleNamespace(observe=lambda *a: False)
    )

    async def deliver() -> None:
        for name, policy in (("a", "reptate"), ("b", "other"), ("c", "reptate"), ("d", None)):
            event = {"type": "ADDED", "object": body(name, policy)}
            await handlers.rollout_changed(event, "ns", name, memo)
        await handlers.rollout_changed(
            {"type": "MODIFIED", "object": body("c", "other", "2")}, "ns", "c", memo
        )
        await handlers.rollout_changed(
            {"type": "ADDED", "object": body("a", "reptate")}, "elsewhere", "a", memo
        )
        await handlers.policy_changed(
            {"type": "ADDED", "object": policy_body("7")}, "ns", "reptate", memo
        )

    asyncio.run(deliver())
    assert loops.woken == [("ns", "a")]  # c moved to another policy; elsewhere is another ns


def test_resolving_reads_the_kept_policy_and_merges_again_only_on_a_change() -> None:
    policies = PolicyIndex()
    spec = RolloutSpec.model_validate(body("a", "reptate")["spec"])
    effective, seen = policies.resolve("ns", "a", spec, "1")
    assert seen is not None and seen.reason == "PolicyNotFound"
    policies.observe("ns", "reptate", policy_body("7", "release train"), deleted=False)
    effective, seen = policies.resolve("ns", "a", spec, "1")
    assert effective.freeze is not None and effective.freeze.reason == "release train"
    assert policies.resolve("ns", "a", spec, "1")[0] is effective  # nothing changed: kept
    policies.observe("ns", "reptate", policy_body("8"), deleted=False)
    assert policies.resolve("ns", "a", spec, "1")[0].freeze is None
