"""The real apiserver refuses bad audiences (spec.flag.audiences, spec.phases[].audiences) with
the field named, as the model does (tests/unit/api/test_audiences_are_checked_at_admission.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from pydantic import ValidationError

from ramp.api import RolloutSpec
from ramp.api.audiences import (
    DEFINED,
    INCLUDES_PREVIOUS,
    MAX_VALUE_LENGTH,
    MAX_VALUES,
    ONE_MATCHER,
    TOO_MANY_CHARACTERS,
    TOO_MANY_VALUES,
)
from tests.support.cluster import Cluster
from tests.unit.api.test_audiences_are_checked_at_admission import (
    SPEC,
    edited,
    too_many_characters,
)

GROUP, VERSION, PLURAL = "ramp.dev", "v1alpha1", "rollouts"


def manifest(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": "audiences"},
        "spec": spec,
    }


def refusal(cluster: Cluster, namespace: str, spec: dict[str, Any]) -> str:
    with pytest.raises(client.ApiException) as refused:
        cluster.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, manifest(spec), dry_run="All"
        )
    assert refused.value.status == 422, refused.value.body
    return str(json.loads(refused.value.body)["message"])


def _too_many() -> dict[str, Any]:
    half = [f"user-{i}" for i in range(MAX_VALUES // 2 + 1)]
    spec = edited("flag.audiences", [{"name": "a", "in": half}, {"name": "b", "in": half}])
    spec["phases"] = [{"name": "all", "percentage": 100}]
    return spec


CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("duplicate-name", edited("flag.audiences.1.name", "internal"), ["spec.flag.audiences[1]"]),
    ("undefined", edited("phases.1.audiences", ["internal", "gamma"]), ["spec.phases", DEFINED]),
    ("shrinks", edited("phases.2.audiences", ["beta"]), ["spec.phases", INCLUDES_PREVIOUS]),
    ("dropped", edited("phases.2.audiences", None), ["spec.phases", INCLUDES_PREVIOUS]),
    (
        "two-matchers",
        edited("flag.audiences.0.in", ["alice@example.com"]),
        ["spec.flag.audiences[0]", ONE_MATCHER],
    ),
    (
        "no-matcher",
        edited("flag.audiences.0", {"name": "internal", "attribute": "email"}),
        ["spec.flag.audiences[0]", ONE_MATCHER],
    ),
    ("empty-in", edited("flag.audiences.1.in", []), ["spec.flag.audiences[1].in"]),
    (
        "long-value",
        edited("flag.audiences.1.in", ["x" * (MAX_VALUE_LENGTH + 1)]),
        ["spec.flag.audiences[1].in[0]"],
    ),
    ("dotted-attribute", edited("flag.audiences.0.attribute", "a.b"), ["audiences[0].attribute"]),
    (
        "eleven-audiences",
        edited("flag.audiences", [{"name": f"a{i}", "in": [f"u{i}"]} for i in range(11)]),
        ["spec.flag.audiences"],
    ),
    ("too-many-values", _too_many(), ["spec.flag.audiences", TOO_MANY_VALUES]),
    ("too-many-characters", too_many_characters(), ["spec.flag.audiences", TOO_MANY_CHARACTERS]),
]


@pytest.mark.parametrize(("case", "spec", "said"), CASES, ids=[c[0] for c in CASES])
def test_bad_audiences_are_refused_naming_the_field(
    cluster: Cluster, namespace: str, rollout_crd: str, case: str, spec: Any, said: list[str]
) -> None:
    message = refusal(cluster, namespace, spec)
    for text in said:
        assert text in message, f"{case}: {text!r} not in {message}"
    with pytest.raises(ValidationError):
        RolloutSpec.model_validate(spec)


def test_the_issue_example_and_a_100_percent_phase_without_audiences_are_admitted(
    cluster: Cluster, namespace: str, rollout_crd: str
) -> None:
    for spec in (SPEC, edited("phases.3.audiences", ["beta"])):
        cluster.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, manifest(spec), dry_run="All"
        )
        RolloutSpec.model_validate(spec)
