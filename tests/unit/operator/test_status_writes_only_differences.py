"""The operator writes a status patch holding exactly what changed, and nothing when nothing did."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ramp.k8s.patches import merge_patch
from tests.support.patches import apply_merge_patch

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=3), json_values, max_size=4)


def strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    return value


@given(json_objects, json_objects)
def test_applying_the_patch_yields_the_desired_status(current: Any, desired: Any) -> None:
    desired = strip_nulls(desired)
    assert apply_merge_patch(current, merge_patch(current, desired)) == desired


@given(json_objects)
def test_no_patch_when_nothing_changed(status: Any) -> None:
    assert merge_patch(status, status) == {}


def test_patch_carries_only_changed_leaves_and_removals() -> None:
    current = {"phase": "Progressing", "percentage": 5, "control": {"pause": {"at": "t"}}}
    desired = {"phase": "Progressing", "percentage": 25, "control": {}}
    assert merge_patch(current, desired) == {"percentage": 25, "control": {"pause": None}}
