"""The RolloutPolicy CRD is generated from its model (no drift), and the model refuses what
admission refuses, naming the field: unknown `{{ }}` names, undeclared args, times, zones,
days and freeze dates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ramp.api.base import field_problems
from ramp.api.policy_crd import build_policy_crd, render_policy_crd
from ramp.api.rollout_policy import RolloutPolicySpec

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_policy_crd_and_the_charts_copy_are_generated() -> None:
    name = "ramp.dev_rolloutpolicies.yaml"
    assert (ROOT / "crds" / name).read_text() == render_policy_crd(), "run `make crds`"
    assert (ROOT / "charts" / "ramp" / "crds" / name).read_text() == render_policy_crd()
    names = build_policy_crd()["spec"]["names"]
    assert (names["kind"], names["shortNames"]) == ("RolloutPolicy", ["rp"])


def problems(spec: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as error:
        RolloutPolicySpec.model_validate(spec)
    return field_problems(error.value)


def metric(query: str) -> dict[str, Any]:
    return {"name": "errors", "query": query, "critical": {"above": 0.1}}


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (
            {"metrics": [metric("sum(errors{flag='{{ flagg }}'})")]},
            "spec.metrics[0].query: {{ flagg }} is unknown",
        ),
        (
            {"metrics": [metric("sum(errors{svc='{{ args.service }}'})")]},
            "spec.metrics[0].query: {{ args.service }} is unknown",
        ),
        (
            {"promotionWindows": [{"start": "25:00", "end": "05:00"}]},
            "spec.promotionWindows.0.start",
        ),
        (
            {"promotionWindows": [{"start": "02:00", "end": "02:00"}]},
            "start and end must differ",
        ),
        (
            {"promotionWindows": [{"start": "02:00", "end": "05:00", "timeZone": "Mars/Base"}]},
            "'Mars/Base' must be an IANA time zone",
        ),
        (
            {"promotionWindows": [{"days": ["Monday"], "start": "02:00", "end": "05:00"}]},
            "spec.promotionWindows.0.days.0",
        ),
        ({"freeze": {"reason": "x", "until": "next friday"}}, "spec.freeze.until"),
        ({"freeze": {"reason": "x", "until": "2026-12-24T00:00:00"}}, "spec.freeze.until"),
    ],
)
def test_the_model_refuses_a_bad_policy_naming_the_field(spec: dict[str, Any], says: str) -> None:
    found = "; ".join(problems(spec)).replace("[", ".").replace("]", "")
    assert says.replace("[", ".").replace("]", "") in found


def test_declared_args_and_built_in_names_are_accepted() -> None:
    RolloutPolicySpec.model_validate(
        {
            "args": [{"name": "service"}],
            "metrics": [
                metric(
                    "sum(e{f='{{flag}}',n='{{ namespace }}',r='{{ name }}',s='{{ args.service }}'})"
                )
            ],
        }
    )
