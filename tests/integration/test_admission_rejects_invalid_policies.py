"""Admission refuses invalid RolloutPolicies and release rules on Rollouts (templates, window
times and zones, days, freeze dates), naming the field; the pydantic models refuse the same
with the same words, so the operator never decides on what admission would have refused."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from pydantic import ValidationError

from ramp.api import RolloutSpec
from ramp.api.rollout_policy import TEMPLATE_MESSAGE, RolloutPolicySpec
from ramp.api.windows import SAME_TIMES, ZONE_MESSAGE
from tests.support.cluster import Cluster
from tests.support.rollouts import GROUP, PLURAL, VERSION

POLICIES = "rolloutpolicies"
WINDOW = {"days": ["Mon", "Tue"], "start": "22:00", "end": "05:00", "timeZone": "Europe/Berlin"}
VALID_POLICY: dict[str, Any] = {
    "args": [{"name": "service"}],
    "metrics": [
        {
            "name": "errors",
            "query": 'sum(rate(e{flag="{{ flag }}",svc="{{ args.service }}"}[5m]))',
            "critical": {"above": 0.01},
        }
    ],
    "analysis": {"interval": "1m", "prometheus": {"address": "http://prometheus:9090"}},
    "promotionWindows": [WINDOW],
    "freeze": {"reason": "Black Friday", "until": "2026-11-30T00:00:00Z"},
}
ROLLOUT: dict[str, Any] = {
    "flag": {"key": "feature", "configMap": "feature-flag"},
    "phases": [{"name": "all", "percentage": 100}],
    "policy": "reptate",
    "policyArgs": {"service": "api"},
}

CASES = [
    (
        "unknown template name",
        {"metrics": [{**VALID_POLICY["metrics"][0], "query": "sum(e{x='{{ flagg }}'})"}]},
        "spec.metrics",
        TEMPLATE_MESSAGE,
    ),
    (
        "start equals end",
        {"promotionWindows": [{**WINDOW, "end": "22:00"}]},
        "spec.promotionWindows[0]",
        SAME_TIMES,
    ),
    (
        "time zone not a zone name",
        {"promotionWindows": [{**WINDOW, "timeZone": "GMT +1"}]},
        "spec.promotionWindows[0].timeZone",
        ZONE_MESSAGE,
    ),
    (
        "hour 24",
        {"promotionWindows": [{**WINDOW, "start": "24:30"}]},
        "spec.promotionWindows[0].start",
        "should match",
    ),
    (
        "freeze date",
        {"freeze": {"reason": "x", "until": "Friday"}},
        "spec.freeze.until",
        "date-time",
    ),
]


def create(cluster: Cluster, namespace: str, plural: str, kind: str, spec: dict[str, Any]) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": "subject"},
        "spec": spec,
    }
    cluster.custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, body, field_validation="Strict"
    )


def test_a_valid_policy_and_a_rollout_naming_it_are_admitted(
    cluster: Cluster, namespace: str, rollout_crd: str
) -> None:
    create(cluster, namespace, POLICIES, "RolloutPolicy", VALID_POLICY)
    create(cluster, namespace, PLURAL, "Rollout", {**ROLLOUT, "promotionWindows": [WINDOW]})
    RolloutPolicySpec.model_validate(VALID_POLICY)
    RolloutSpec.model_validate({**ROLLOUT, "promotionWindows": [WINDOW]})


@pytest.mark.parametrize(("what", "change", "field", "words"), CASES, ids=[c[0] for c in CASES])
def test_admission_and_the_models_refuse_alike_naming_the_field(
    cluster: Cluster,
    namespace: str,
    rollout_crd: str,
    what: str,
    change: dict[str, Any],
    field: str,
    words: str,
) -> None:
    with pytest.raises(client.ApiException) as refused:
        create(cluster, namespace, POLICIES, "RolloutPolicy", {**VALID_POLICY, **change})
    assert refused.value.status == 422
    assert field in refused.value.body and words in refused.value.body, refused.value.body
    with pytest.raises(ValidationError) as invalid:
        RolloutPolicySpec.model_validate({**VALID_POLICY, **change})
    if words != "should match" and words != "date-time":
        assert words in str(invalid.value)
    if "metrics" in change:
        return  # templates live on policies only
    with pytest.raises(client.ApiException) as refused:
        create(cluster, namespace, PLURAL, "Rollout", {**ROLLOUT, **change})
    assert field in refused.value.body and words in refused.value.body, refused.value.body
    with pytest.raises(ValidationError):
        RolloutSpec.model_validate({**ROLLOUT, **change})
