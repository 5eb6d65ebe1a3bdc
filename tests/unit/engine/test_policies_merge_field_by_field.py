"""A RolloutPolicy fills in what its Rollouts leave out; what a Rollout says wins, field by
field; a policy that is missing or cannot be used holds the Rollout, naming it."""

from __future__ import annotations

from typing import Any

from ramp.api import RolloutSpec
from ramp.engine.effective import resolve
from tests.support.engine import Run, make_spec

THRESHOLDS: dict[str, Any] = {
    "args": [{"name": "service"}, {"name": "window", "default": "5m"}],
    "metrics": [
        {
            "name": "error-rate",
            "query": 'sum(rate(errors_total{flag="{{ flag }}",service="{{ args.service }}"}'
            '[{{ args.window }}])) / sum(rate(requests_total{namespace="{{ namespace }}"}[5m]))',
            "critical": {"above": 0.01},
        },
        {"name": "p99", "query": 'max(p99{rollout="{{ name }}"})', "warning": {"above": 2}},
    ],
    "analysis": {"interval": "1m", "prometheus": {"address": "http://prometheus:9090"}},
    "failurePolicy": {"action": "Rollback", "rollbackTo": "PreviousPhase"},
    "promotionWindows": [{"start": "02:00", "end": "05:00", "timeZone": "Europe/Berlin"}],
}


def policy(spec: dict[str, Any], generation: int = 3) -> dict[str, Any]:
    return {"metadata": {"name": "reptate", "generation": generation}, "spec": spec}


def rollout(**spec: Any) -> RolloutSpec:
    return make_spec(policy="reptate", policyArgs={"service": "api"}, **spec)


def test_templates_are_rendered_for_each_rollout_and_defaults_fill_the_rest() -> None:
    effective, seen = resolve(rollout(), "reptate", "safe-eval", policy(THRESHOLDS))
    assert seen is not None and seen.problem is None and seen.generation == 3
    assert effective.analysis is not None
    assert [m.query for m in effective.analysis.metrics] == [
        'sum(rate(errors_total{flag="feature",service="api"}[5m])) / '
        'sum(rate(requests_total{namespace="reptate"}[5m]))',
        'max(p99{rollout="safe-eval"})',
    ]
    assert effective.analysis.interval == "1m"
    assert effective.failure_policy.rollback_to == "PreviousPhase"
    assert effective.promotion_windows is not None and len(effective.promotion_windows) == 1
    assert seen.contributed == (
        "analysis.metrics[error-rate]",
        "analysis.metrics[p99]",
        "analysis.interval",
        "analysis.prometheus",
        "failurePolicy",
        "promotionWindows",
    )


def test_what_the_rollout_says_wins_field_by_field() -> None:
    own = rollout(
        analysis={
            "interval": "10s",
            "prometheus": {"address": "http://thanos:9090"},
            "metrics": [
                {"name": "p99", "query": "max(my_p99)", "critical": {"above": 5}},
                {"name": "dlq", "query": "max(dlq)", "critical": {"above": 0}},
            ],
        },
        failurePolicy={"action": "Pause"},
        promotionWindows=[],
        phases=[{"name": "canary", "percentage": 5, "metrics": [{"name": "error-rate"}]}],
    )
    effective, seen = resolve(own, "reptate", "safe-eval", policy(THRESHOLDS))
    assert seen is not None and seen.problem is None
    assert effective.analysis is not None
    assert [(m.name, m.query) for m in effective.analysis.metrics][1:] == [
        ("p99", "max(my_p99)"),
        ("dlq", "max(dlq)"),
    ]
    assert effective.analysis.interval == "10s"
    assert effective.analysis.prometheus.address == "http://thanos:9090"
    assert effective.failure_policy.action == "Pause"
    assert effective.promotion_windows == []
    assert seen.contributed == ("analysis.metrics[error-rate]",)


def test_a_missing_policy_holds_the_rollout_with_a_condition_naming_it() -> None:
    spec, seen = resolve(rollout(), "reptate", "safe-eval", None)
    assert seen is not None and seen.reason == "PolicyNotFound"
    run = Run(spec)
    run.policy = seen
    run.step()
    assert (run.phase, run.status.percentage) == ("Paused", 0)
    assert run.status.message is not None and "RolloutPolicy reptate" in run.status.message
    resolved = {c.type: c for c in run.status.conditions or []}["PolicyResolved"]
    assert (resolved.status, resolved.reason) == ("False", "PolicyNotFound")
    assert "RolloutPolicy reptate (spec.policy) not found in namespace reptate" in resolved.message
    # Created: the rollout resumes and starts.
    effective, seen = resolve(
        rollout(), "reptate", "safe-eval", policy({"args": [{"name": "service"}]})
    )
    run.spec, run.policy = effective, seen
    run.step()
    assert run.phase == "Progressing"
    assert run.status.policy is not None and run.status.policy.generation == 3
    resolved = {c.type: c for c in run.status.conditions or []}["PolicyResolved"]
    assert (resolved.status, resolved.reason) == ("True", "Resolved")


def test_an_arg_the_rollout_does_not_supply_or_an_unknown_one_makes_the_policy_unusable() -> None:
    _, seen = resolve(make_spec(policy="reptate"), "ns", "r", policy(THRESHOLDS))
    assert seen is not None and seen.reason == "PolicyInvalid"
    assert seen.problem is not None and "spec.policyArgs.service is missing" in seen.problem
    typo = make_spec(policy="reptate", policyArgs={"service": "api", "servce": "x"})
    _, seen = resolve(typo, "ns", "r", policy(THRESHOLDS))
    assert seen is not None and seen.problem is not None
    assert "spec.policyArgs.servce: the policy declares no arg servce" in seen.problem


def test_a_policy_the_operator_cannot_read_names_the_field() -> None:
    broken = {**THRESHOLDS, "promotionWindows": [{"start": "2:00", "end": "05:00"}]}
    _, seen = resolve(rollout(), "ns", "r", policy(broken))
    assert seen is not None and seen.reason == "PolicyInvalid"
    assert seen.problem is not None
    assert "RolloutPolicy reptate is invalid: spec.promotionWindows[0].start" in seen.problem


def test_a_policy_with_metrics_needs_a_prometheus_somewhere() -> None:
    _, seen = resolve(rollout(), "ns", "r", policy({**THRESHOLDS, "analysis": {}}))
    assert seen is not None and seen.problem is not None
    assert "no analysis.prometheus" in seen.problem
