"""Thousands of kept Rollouts hold one copy of each key: every body parsed from the watch has
its own key strings, and the index keeps them interned (ramp.runtime.index), still as a deep
copy."""

from __future__ import annotations

import json

from ramp.runtime.index import RolloutIndex

BODY = {
    "metadata": {"namespace": "shop", "name": "checkout", "resourceVersion": "7"},
    "spec": {"phases": [{"name": "canary", "percentage": 10}]},
    "status": {"conditions": [{"type": "Ready", "lastTransitionTime": "2026-12-03T00:00:00Z"}]},
}


def parsed(name: str) -> dict[str, object]:
    """A body as the watch delivers it: parsed on its own, with key strings of its own."""
    text = json.dumps(BODY).replace('"checkout"', json.dumps(name))
    body = json.loads(text)
    assert isinstance(body, dict)
    return body


def keys_of(value: object) -> list[str]:
    if isinstance(value, dict):
        return [k for k, v in value.items() for k in (k, *keys_of(v))]
    if isinstance(value, list):
        return [k for v in value for k in keys_of(v)]
    return []


def test_two_kept_bodies_hold_the_same_key_objects() -> None:
    first, second = parsed("checkout"), parsed("payments")
    long_key = "lastTransitionTime"
    assert (
        keys_of(first)[keys_of(first).index(long_key)]
        is not (keys_of(second)[keys_of(second).index(long_key)])
    ), "the parser shared the keys already: this test shows nothing"
    index = RolloutIndex()
    index.observe("shop", "checkout", first, deleted=False)
    index.observe("shop", "payments", second, deleted=False)
    kept = [keys_of(index.bodies[("shop", n)]) for n in ("checkout", "payments")]
    assert kept[0] == kept[1]
    assert all(a is b for a, b in zip(*kept, strict=True)), "a kept body has keys of its own"


def test_the_kept_body_is_a_copy_all_the_way_down() -> None:
    delivered = parsed("checkout")
    index = RolloutIndex()
    index.observe("shop", "checkout", delivered, deleted=False)
    delivered["status"]["conditions"][0]["type"] = "Stalled"  # type: ignore[index]
    kept = index.bodies[("shop", "checkout")]
    assert kept["status"]["conditions"][0]["type"] == "Ready"
    assert kept == BODY
