"""Hole 4 of issue 21: a publish replaced the whole flags.json with a document holding only the
Rollout's own flag, so another team's flag in the same file was deleted. A Rollout now merges
its flag into the file: every other flag and top-level key keeps its JSON value, its own flag
and env keys are set, and per-key owners let Rollouts with distinct keys share the ConfigMap.

These test the pure merge (no cluster); the integration tests named
test_*configmap* play it against the real API server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramp.api import RolloutSpec
from ramp.engine import PublishFlag
from ramp.k8s.configmap import (
    FLAGS_FILE,
    config_map_patch,
    desired_config_map,
    find_clash,
    observe_flag,
    owners_in_doubt,
    read_published,
    rollouts_named,
)
from ramp.k8s.flagd import NotAFlagSet, build_flag_definition, merge_flag, render_flags_json
from ramp.k8s.ownership import ENV_OWNERS, FLAG_OWNERS, key_owners, rollout_labels
from ramp.runtime.reconcile import _watched
from tests.support.patches import apply_merge_patch

NAMESPACE = "shop"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
flag_keys = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
publishes = st.builds(
    PublishFlag,
    st.booleans(),
    st.integers(0, 10000).map(lambda w: w / 100),
    st.sampled_from(["FlagdGoCore", "FlagdSuiteV2", "PythonProviderCBOR"]),
)


def spec_of(key: str, env: dict[str, str] | None = None, config_map: str = "shared") -> RolloutSpec:
    flag: dict[str, Any] = {"key": key, "configMap": config_map}
    if env is not None:
        flag["env"] = env
    return RolloutSpec.model_validate(
        {"flag": flag, "phases": [{"name": "all", "percentage": 100}]}
    )


def rollout_of(name: str, spec: RolloutSpec) -> dict[str, Any]:
    return {
        "apiVersion": "ramp.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"uid-{name}"},
        "spec": spec.model_dump(by_alias=True, exclude_none=True, mode="json"),
    }


def ours(spec: RolloutSpec, publish: PublishFlag) -> dict[str, Any]:
    document = build_flag_definition(
        spec.flag.key, publish.enabled, publish.percentage, publish.bucketing
    )
    flag: dict[str, Any] = document["flags"][spec.flag.key]
    return flag


@settings(max_examples=300, deadline=None)
@given(
    others=st.dictionaries(flag_keys, json_values, max_size=4),
    top=st.dictionaries(st.sampled_from(["$schema", "$evaluators", "metadata", "x"]), json_values),
    key=flag_keys,
    publish=publishes,
)
def test_the_merge_keeps_every_other_flag_and_top_level_key(
    others: dict[str, Any], top: dict[str, Any], key: str, publish: PublishFlag
) -> None:
    others.pop(key, None)
    before = json.dumps({**top, "flags": others})
    spec = spec_of(key)
    merged = merge_flag(before, key, json.dumps(ours(spec, publish), sort_keys=True))
    after = json.loads(merged)
    assert {k: v for k, v in after.items() if k != "flags"} == top, "a top-level key changed"
    assert {k: v for k, v in after["flags"].items() if k != key} == others, "another flag changed"
    assert after["flags"][key] == ours(spec, publish)
    assert merge_flag(merged, key, json.dumps(ours(spec, publish), sort_keys=True)) == merged, (
        "merging again rewrote it"
    )
    # Disabled, the flag has no targeting: without env keys no percentage is served.
    served = publish if publish.enabled else PublishFlag(False, 0, publish.bucketing)
    assert read_published(spec, {FLAGS_FILE: merged}) == served


@settings(max_examples=200, deadline=None)
@given(
    other_flags=st.dictionaries(flag_keys, json_values, min_size=1, max_size=3),
    other_data=st.dictionaries(
        st.from_regex(r"[A-Z][A-Z_]{0,8}", fullmatch=True), st.text(max_size=20), max_size=3
    ),
    publish=publishes,
)
def test_a_publish_into_an_existing_configmap_changes_only_the_rollouts_keys(
    other_flags: dict[str, Any], other_data: dict[str, str], publish: PublishFlag
) -> None:
    other_flags.pop("reports", None)
    for taken in ("REPORTS_ON", "REPORTS_PCT"):
        other_data.pop(taken, None)
    text = json.dumps({"$schema": "x", "flags": other_flags}, indent=4)
    labels = {"team": "payments"}
    current = {
        "metadata": {
            "name": "shared",
            "namespace": NAMESPACE,
            "resourceVersion": "5",
            "labels": labels,
        },
        "data": {**other_data, FLAGS_FILE: text},
    }
    spec = spec_of("reports", {"enabled": "REPORTS_ON", "percentage": "REPORTS_PCT"})
    body = desired_config_map(rollout_of("reports", spec), spec, publish, current)
    assert body is not None
    assert body["metadata"]["resourceVersion"] == "5", "not written over the version read"
    assert body["metadata"]["labels"] == labels
    assert "ownerReferences" not in body["metadata"], "took a ConfigMap it did not create"
    data = body["data"]
    assert {k: data[k] for k in other_data} == other_data
    assert json.loads(data[FLAGS_FILE])["flags"] == {**other_flags, "reports": ours(spec, publish)}
    owners = key_owners(body["metadata"])
    assert dict(owners.flags) == {"reports": "reports"}
    assert dict(owners.env) == {"REPORTS_ON": "reports", "REPORTS_PCT": "reports"}
    again = desired_config_map(rollout_of("reports", spec), spec, publish, body)
    assert again is None, "a ConfigMap that serves the flag was written again"


def test_a_file_ramp_wrote_alone_stays_as_it_was_rendered() -> None:
    spec = spec_of("reports")
    publish = PublishFlag(True, 25, "FlagdGoCore")
    assert merge_flag(
        None, "reports", json.dumps(ours(spec, publish), sort_keys=True)
    ) == render_flags_json("reports", True, 25, "FlagdGoCore")


def test_a_file_that_is_not_a_flag_set_is_never_written_over() -> None:
    spec = spec_of("reports")
    for text in ("{not json", "[1, 2]", '{"flags": []}'):
        current = {
            "metadata": {"name": "shared", "resourceVersion": "1"},
            "data": {FLAGS_FILE: text},
        }
        with pytest.raises(NotAFlagSet):
            desired_config_map(rollout_of("reports", spec), spec, PublishFlag(True, 5), current)


def shared(created_by_ramp: bool) -> dict[str, Any]:
    """A ConfigMap where Rollouts `a` (flag a, env A_PCT) and `b` (flag b, env B_PCT) publish."""
    a, b = spec_of("a", {"percentage": "A_PCT"}), spec_of("b", {"percentage": "B_PCT"})
    first = desired_config_map(rollout_of("a", a), a, PublishFlag(True, 10), None)
    assert first is not None
    first["metadata"]["resourceVersion"] = "1"
    if not created_by_ramp:
        del first["metadata"]["labels"], first["metadata"]["ownerReferences"]
    both = desired_config_map(rollout_of("b", b), b, PublishFlag(True, 50), first)
    assert both is not None
    return both


def test_two_rollouts_with_distinct_keys_share_and_each_is_referenced() -> None:
    both = shared(created_by_ramp=True)
    flags = json.loads(both["data"][FLAGS_FILE])["flags"]
    assert set(flags) == {"a", "b"}
    assert both["data"]["A_PCT"] == "10" and both["data"]["B_PCT"] == "50"
    references = {(r["name"], r["controller"]) for r in both["metadata"]["ownerReferences"]}
    assert references == {("a", True), ("b", False)}, "garbage collection must wait for both"
    for name, key in (("a", "a"), ("b", "b")):
        spec = spec_of(key, {"percentage": f"{key.upper()}_PCT"})
        assert find_clash(name, spec, both["metadata"]) is None


def test_a_second_rollout_for_a_taken_key_is_refused_naming_the_owner() -> None:
    both = shared(created_by_ramp=True)
    same_key = spec_of("a", {"percentage": "C_PCT"})
    assert find_clash("c", same_key, both["metadata"]) == ("a", "spec.flag.key: flag a")
    same_env = spec_of("c", {"percentage": "B_PCT"})
    assert find_clash("c", same_env, both["metadata"]) == (
        "b",
        "spec.flag.env.percentage: key B_PCT",
    )
    seen = observe_flag(rollout_of("c", same_env), same_env, both)
    assert (seen.owner, seen.clash) == ("b", "spec.flag.env.percentage: key B_PCT")
    assert find_clash("c", same_key, both["metadata"], gone={"a"}) is None, (
        "a deleted owner holds nothing"
    )


def test_a_configmap_marked_by_an_older_ramp_belongs_to_its_rollout_until_it_records_keys() -> None:
    meta = {"labels": rollout_labels("checkout"), "name": "shared"}
    assert find_clash("intruder", spec_of("intruder"), meta) == ("checkout", None)
    assert find_clash("checkout", spec_of("checkout"), meta) is None


def test_a_deleted_rollouts_keys_leave_a_configmap_ramp_created() -> None:
    both = shared(created_by_ramp=True)
    b = spec_of("b", {"percentage": "B_PCT"})
    after = desired_config_map(rollout_of("b", b), b, PublishFlag(True, 50), both, gone={"a"})
    assert after is not None
    assert set(json.loads(after["data"][FLAGS_FILE])["flags"]) == {"b"}
    assert "A_PCT" not in after["data"]
    assert key_owners(after["metadata"]).rollouts() == {"b"}


def test_a_deleted_rollouts_flag_stays_in_a_configmap_ramp_did_not_create() -> None:
    both = shared(created_by_ramp=False)
    b = spec_of("b", {"percentage": "B_PCT"})
    after = desired_config_map(rollout_of("b", b), b, PublishFlag(True, 50), both, gone={"a"})
    assert after is not None
    assert set(json.loads(after["data"][FLAGS_FILE])["flags"]) == {"a", "b"}
    assert after["data"]["A_PCT"] == "10"
    assert key_owners(after["metadata"]).rollouts() == {"b"}, "the key is free for another"


def test_keys_a_rollout_no_longer_names_are_taken_out() -> None:
    both = shared(created_by_ramp=False)
    renamed = spec_of("a2", {"percentage": "A2_PCT"})
    after = desired_config_map(rollout_of("a", renamed), renamed, PublishFlag(True, 10), both)
    assert after is not None
    assert set(json.loads(after["data"][FLAGS_FILE])["flags"]) == {"a2", "b"}
    assert "A_PCT" not in after["data"] and after["data"]["A2_PCT"] == "10"
    annotations = after["metadata"]["annotations"]
    assert json.loads(annotations[FLAG_OWNERS]) == {"a2": "a", "b": "b"}
    assert json.loads(annotations[ENV_OWNERS]) == {"A2_PCT": "a", "B_PCT": "b"}


def test_an_owner_whose_reference_garbage_collection_took_is_asked_about() -> None:
    """GC takes a deleted Rollout's reference out, maybe before the watch tells of the deletion:
    that owner is then asked of the API server, not taken for alive from the index."""
    both = shared(created_by_ramp=True)
    assert owners_in_doubt("b", both, lambda name: True) == frozenset()
    assert owners_in_doubt("b", both, lambda name: name != "a") == {"a"}, "not in the index"
    meta = both["metadata"]
    collected = {**both, "metadata": {**meta, "ownerReferences": meta["ownerReferences"][1:]}}
    assert owners_in_doubt("b", collected, lambda name: True) == {"a"}
    unlabelled = shared(created_by_ramp=False)
    assert owners_in_doubt("b", unlabelled, lambda name: True) == frozenset()


def test_the_write_is_a_merge_patch_over_the_version_read() -> None:
    both = shared(created_by_ramp=True)
    both["metadata"]["resourceVersion"] = "2"
    b = spec_of("b", {"percentage": "B_PCT"})
    after = desired_config_map(rollout_of("b", b), b, PublishFlag(True, 75), both, gone={"a"})
    assert after is not None
    patch = config_map_patch(both, after)
    assert patch["metadata"]["resourceVersion"] == "2", "no precondition on the version read"
    assert patch["data"]["A_PCT"] is None, "a key to take out is not nulled"
    patched = apply_merge_patch(both, patch)
    assert patched["data"] == after["data"]
    assert patched["metadata"]["annotations"] == after["metadata"]["annotations"]
    assert patched["metadata"]["ownerReferences"] == after["metadata"]["ownerReferences"]


def test_every_sharer_is_woken_by_the_configmaps_changes_and_may_go_routine() -> None:
    """The watch wakes every Rollout a Ramp ConfigMap names, and each sharer counts it as
    watched (reconcile._watched), which the routine analyses need."""
    both = shared(created_by_ramp=True)
    assert rollouts_named(both["metadata"]) == {"a", "b"}
    assert _watched(both, "a") and _watched(both, "b")
    assert not _watched(both, "c"), "a Rollout that owns nothing in it is not woken"
    assert not _watched(shared(created_by_ramp=False), "b"), "the watch sees only Ramp's"
