"""spec.analysis.served: the model refuses what admission refuses, with the same words."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ramp.api.base import field_problems
from ramp.api.crd import build_crd
from ramp.api.served import MATCHERS_MESSAGE
from ramp.api.spec import RolloutSpec


def spec_with(served: dict[str, Any]) -> dict[str, Any]:
    return {
        "flag": {"key": "checkout", "configMap": "checkout-flag"},
        "phases": [{"name": "all", "percentage": 100}],
        "analysis": {
            "prometheus": {"address": "http://prometheus:9090"},
            "metrics": [{"name": "errors", "query": "vector(0)", "critical": {"above": 1}}],
            "served": served,
        },
    }


def problems(served: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as e:
        RolloutSpec.model_validate(spec_with(served))
    return "\n".join(field_problems(e.value))


def test_defaults_and_the_series_queried() -> None:
    spec = RolloutSpec.model_validate(spec_with({}))
    assert spec.analysis is not None and spec.analysis.served is not None
    assert spec.analysis.served.within == "5m"
    assert spec.analysis.served.selector("checkout") == (
        'ramp_flag_served_percentage{feature_flag_key="checkout"}'
    )


@pytest.mark.parametrize("within", ["0s", "500ms", "25h", "1d"])
def test_within_out_of_range_names_the_field(within: str) -> None:
    assert "spec.analysis.served.within:" in problems({"within": within})


@pytest.mark.parametrize("label", ["feature_flag_key", "1pod", "pod-name", ""])
def test_a_bad_matcher_label_says_what_a_label_is(label: str) -> None:
    assert MATCHERS_MESSAGE in problems({"matchers": {label: "x"}})


def test_admission_says_the_same() -> None:
    crd = build_crd()
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    served = schema["properties"]["spec"]["properties"]["analysis"]["properties"]["served"]
    rules = served["properties"]["matchers"]["x-kubernetes-validations"]
    assert [r["message"] for r in rules] == [MATCHERS_MESSAGE]
    within = served["properties"]["within"]["x-kubernetes-validations"]
    assert "spec.analysis.served.within must be between 1s and 24h" in [
        r["message"] for r in within
    ]
