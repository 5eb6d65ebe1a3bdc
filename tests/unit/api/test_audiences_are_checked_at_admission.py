"""spec.flag.audiences and spec.phases[].audiences: the model refuses what admission refuses,
with the same words and the field named (tests/integration/test_admission_checks_audiences.py
sends the same cases to the real apiserver)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from ramp.api import RolloutSpec
from ramp.api.audiences import (
    DEFINED,
    INCLUDES_PREVIOUS,
    MAX_CHARACTERS,
    MAX_VALUE_LENGTH,
    MAX_VALUES,
    ONE_MATCHER,
    TOO_MANY_CHARACTERS,
    TOO_MANY_VALUES,
    UNIQUE_NAMES,
)
from ramp.api.base import field_problems
from ramp.api.crd import build_crd

SPEC: dict[str, Any] = {
    "flag": {
        "key": "async-processing",
        "configMap": "async-processing-flags",
        "audiences": [
            {"name": "internal", "attribute": "email", "endsWith": ["@example.com"]},
            {"name": "beta", "in": ["user-1017", "user-2203"]},
        ],
    },
    "phases": [
        {"name": "internal", "audiences": ["internal"], "percentage": 0, "approval": "Manual"},
        {"name": "beta", "audiences": ["internal", "beta"], "percentage": 0},
        {"name": "ten", "audiences": ["internal", "beta"], "percentage": 10},
        {"name": "everyone", "percentage": 100},
    ],
}


def problems(spec: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as refused:
        RolloutSpec.model_validate(spec)
    return "\n".join(field_problems(refused.value))


def edited(path: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    node: Any = spec
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return spec


def test_the_issue_example_is_valid_and_the_attribute_defaults_to_the_targeting_key() -> None:
    spec = RolloutSpec.model_validate(SPEC)
    assert spec.flag.audiences is not None
    assert spec.flag.audiences[1].attribute == "targetingKey"
    assert spec.phases[2].audiences == ["internal", "beta"]
    assert spec.phases[3].audiences is None


def test_audience_names_are_unique() -> None:
    said = problems(edited("flag.audiences.1.name", "internal"))
    assert "spec.flag.audiences" in said and UNIQUE_NAMES in said


def test_a_phase_names_only_defined_audiences() -> None:
    said = problems(edited("phases.1.audiences", ["internal", "gamma"]))
    assert "spec.phases[1].audiences: 'gamma' is not defined" in said and DEFINED in said


def test_a_phase_naming_audiences_needs_spec_flag_audiences() -> None:
    spec = edited("phases", [{"name": "a", "audiences": ["internal"], "percentage": 0}])
    del spec["flag"]["audiences"]
    assert DEFINED in problems(spec)


def test_a_phase_keeps_the_audiences_of_the_phase_before() -> None:
    said = problems(edited("phases.2.audiences", ["beta"]))
    assert "spec.phases[2].audiences: lacks 'internal'" in said and INCLUDES_PREVIOUS in said


def test_a_phase_without_audiences_after_one_with_them_shrinks_exposure() -> None:
    said = problems(edited("phases.2.audiences", None))
    assert "spec.phases[2].audiences: lacks 'internal', 'beta'" in said


def test_a_phase_at_100_percent_needs_no_audiences() -> None:
    RolloutSpec.model_validate(edited("phases.3.audiences", []))
    RolloutSpec.model_validate(edited("phases.3.audiences", ["beta"]))


def test_an_audience_has_exactly_one_matcher() -> None:
    both = edited("flag.audiences.0.in", ["alice@example.com"])
    assert "spec.flag.audiences[0]" in problems(both) and ONE_MATCHER in problems(both)
    none = edited("flag.audiences.0", {"name": "internal", "attribute": "email"})
    assert ONE_MATCHER in problems(none)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("flag.audiences.1.in", [], "spec.flag.audiences[1].in"),
        ("flag.audiences.1.in", ["x" * (MAX_VALUE_LENGTH + 1)], "spec.flag.audiences[1].in[0]"),
        ("flag.audiences.1.in", [""], "spec.flag.audiences[1].in[0]"),
        ("flag.audiences.1.in", ["a", "a"], "spec.flag.audiences[1]"),
        ("flag.audiences.0.endsWith", ["@x"] * 101, "spec.flag.audiences[0].endsWith"),
        ("flag.audiences.0.attribute", "user.email", "spec.flag.audiences[0].attribute"),
        ("flag.audiences.0.attribute", "$flagd", "spec.flag.audiences[0].attribute"),
        ("flag.audiences.0.name", "Internal", "spec.flag.audiences[0].name"),
        ("phases.1.audiences", ["internal", "internal"], "spec.phases[1].audiences"),
    ],
)
def test_bounds_and_shapes_name_the_field(path: str, value: Any, field: str) -> None:
    assert field in problems(edited(path, value))


def test_at_most_ten_audiences() -> None:
    many = [{"name": f"a{i}", "in": [f"u{i}"]} for i in range(11)]
    assert "spec.flag.audiences" in problems(edited("flag.audiences", many))


def test_at_most_ten_thousand_values_in_all() -> None:
    half = [f"user-{i}" for i in range(MAX_VALUES // 2 + 1)]
    audiences = [{"name": "a", "in": half}, {"name": "b", "in": [f"x{v}" for v in half]}]
    spec = edited("flag.audiences", audiences)
    spec["phases"] = [{"name": "all", "percentage": 100}]
    assert TOO_MANY_VALUES in problems(spec)
    audiences[1]["in"] = audiences[1]["in"][:-2]
    RolloutSpec.model_validate(spec)


def too_many_characters() -> dict[str, Any]:
    """1,000 values of 60 characters: few values, but more characters than flags.json holds."""
    values = [f"{i:04d}" + "x" * 56 for i in range(MAX_CHARACTERS // 60 + 1)]
    spec = edited("flag.audiences", [{"name": "long", "in": values}])
    spec["phases"] = [{"name": "all", "percentage": 100}]
    return spec


def test_at_most_fifty_thousand_characters_in_all() -> None:
    assert TOO_MANY_CHARACTERS in problems(too_many_characters())


def test_the_crd_carries_the_same_rules_with_the_same_messages() -> None:
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]
    messages = [v["message"] for v in spec["x-kubernetes-validations"]]
    assert DEFINED in messages and INCLUDES_PREVIOUS in messages
    audiences = spec["properties"]["flag"]["properties"]["audiences"]
    assert audiences["maxItems"] == 10
    rules = audiences["x-kubernetes-validations"]
    assert [v["message"] for v in rules] == [TOO_MANY_VALUES, TOO_MANY_CHARACTERS]
    item = audiences["items"]
    assert [v["message"] for v in item["x-kubernetes-validations"]] == [ONE_MATCHER]
    assert item["properties"]["in"]["maxItems"] == MAX_VALUES
    assert item["properties"]["in"]["items"]["maxLength"] == MAX_VALUE_LENGTH
