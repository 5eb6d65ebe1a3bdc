"""A spec the CRD's rules refuse, the model refuses with the same words: each rule is stated
once (api/base.py's Rule), so `ramp simulate` and the operator say what admission says."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ramp.api import RolloutSpec
from ramp.api.base import field_problems
from ramp.api.crd import build_crd

METRIC = {"name": "errors", "query": "sum(x)", "critical": {"above": 1}}


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "flag": {"key": "a", "configMap": "a"},
        "phases": [{"name": "a", "percentage": 5}, {"name": "b", "percentage": 100}],
        "analysis": {"prometheus": {"address": "http://prometheus:9090"}, "metrics": [METRIC]},
    }
    return {**base, **changes}


def with_metric(**metric: Any) -> dict[str, Any]:
    analysis = {"prometheus": {"address": "http://p:9090"}, "metrics": [{"name": "m", **metric}]}
    return spec(analysis=analysis)


def with_phase(**phase: Any) -> dict[str, Any]:
    return spec(phases=[{"name": "a", "percentage": 5, **phase}])


def crd_messages() -> set[str]:
    messages: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            messages.update(rule["message"] for rule in node.get("x-kubernetes-validations", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(build_crd())
    return messages


REFUSED = {
    "two decimals": with_phase(percentage=12.345),
    "not a duration": with_phase(duration="1d"),
    "over a year": with_phase(duration="9000h"),
    "interval under a second": spec(
        analysis={"interval": "500ms", "prometheus": {"address": "http://p"}, "metrics": [METRIC]}
    ),
    "no host": spec(analysis={"prometheus": {"address": "http://:9090"}, "metrics": [METRIC]}),
    "same env keys": spec(
        flag={"key": "a", "configMap": "a", "env": {"enabled": "X", "percentage": "X"}}
    ),
    "worker names nothing": spec(workers=[{}]),
    "phase workers empty": with_phase(workers={}),
    "min above max": with_phase(workers={"minReplicas": 3, "maxReplicas": 2}),
    "threshold without bound": with_metric(query="x", critical={"for": "1m"}),
    "same variants": with_metric(compare={"failures": "f", "total": "t", "control": "on"}),
    "query and compare": with_metric(query="x", compare={"failures": "f", "total": "t"}),
    "compare with threshold": with_metric(
        compare={"failures": "f", "total": "t"}, critical={"above": 1}
    ),
    "no threshold": with_metric(query="x"),
    "ratio without baseline": with_metric(query="x", critical={"aboveBaselineRatio": 2}),
    "decreasing": spec(phases=[{"name": "a", "percentage": 50}, {"name": "b", "percentage": 5}]),
    "unknown override": with_phase(metrics=[{"name": "nope"}]),
    "workers without spec.workers": with_phase(workers={"replicas": 2}),
}


@pytest.mark.parametrize("case", REFUSED)
def test_the_model_refuses_with_the_crd_message(case: str) -> None:
    with pytest.raises(ValidationError) as refused:
        RolloutSpec.model_validate(REFUSED[case])
    said = [line.split(": ", 1)[1] for line in field_problems(refused.value)]
    assert len(said) == 1 and said[0] in crd_messages(), said
