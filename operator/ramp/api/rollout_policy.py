"""RolloutPolicy (ramp.dev/v1alpha1, short name rp): health checks, analysis defaults, failure
policy, notifications, promotion windows and a freeze, written once for the Rollouts of a
namespace that name it in `spec.policy`. How a policy and a Rollout combine is
engine/effective.py (docs/policies.md)."""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from ramp.api.base import SpecModel, StatusModel, cel, validations
from ramp.api.spec import (
    Duration,
    FailurePolicy,
    Metric,
    Notification,
    PrometheusSource,
)
from ramp.api.windows import Freeze, PromotionWindow

POLICY_KIND = "RolloutPolicy"
POLICY_PLURAL = "rolloutpolicies"
POLICY_SINGULAR = "rolloutpolicy"
POLICY_SHORT_NAMES = ("rp",)

ARG_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
TEMPLATE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
"""A `{{ name }}` in a query."""
BUILT_IN = ("flag", "namespace", "name")
"""What every query may use: the Rollout's flag key, its namespace and its name."""

_ONLY_KNOWN_CEL = (
    r"^([^{]|[{][^{]|[{][{]\\s*(flag|namespace|name|args[.][A-Za-z_][A-Za-z0-9_]*)\\s*[}][}])*[{]?$"
)
"""A query in which every `{{` opens a known name (RE2, linear in the query's length)."""
TEMPLATE_MESSAGE = (
    "a query may use only {{ flag }}, {{ namespace }}, {{ name }} and {{ args.NAME }} for an "
    "arg declared in spec.args"
)


def placeholders(query: str) -> list[str]:
    """The names a query's `{{ }}` use, in order."""
    return [m.group(1) for m in TEMPLATE.finditer(query)]


class PolicyArg(SpecModel):
    """A value each Rollout supplies in spec.policyArgs, used as {{ args.NAME }} in queries."""

    name: str = Field(
        pattern=ARG_NAME_PATTERN, max_length=63, description="Name used as {{ args.NAME }}."
    )
    default: str | None = Field(
        None,
        pattern=r"^[-A-Za-z0-9_.:/]*$",
        max_length=253,
        description="Value when the Rollout supplies none; without it every Rollout must.",
    )


class PolicyAnalysis(SpecModel):
    """Analysis defaults for the Rollouts using the policy."""

    interval: Duration | None = Field(
        None, description="Time between two evaluations (Go duration, at least 1s)."
    )
    prometheus: PrometheusSource | None = Field(None, description="Where the queries run.")
    error_limit: int | None = Field(
        None, ge=1, le=100, description="Consecutive query errors after which a metric fails."
    )


class RolloutPolicySpec(SpecModel):
    """What the Rollouts naming this policy in spec.policy share. A Rollout's own fields win,
    field by field (docs/policies.md)."""

    args: list[PolicyArg] | None = Field(
        None,
        max_length=20,
        description="Named values the Rollouts supply in spec.policyArgs, for the queries.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        },
    )
    metrics: list[Metric] | None = Field(
        None,
        max_length=20,
        description="Metric templates, as spec.analysis.metrics; queries may use {{ flag }}, "
        "{{ namespace }}, {{ name }} and {{ args.NAME }}. A Rollout metric of the same name "
        "replaces one.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        },
    )
    analysis: PolicyAnalysis | None = Field(
        None, description="interval, prometheus and errorLimit for the Rollouts' analysis."
    )
    failure_policy: FailurePolicy | None = Field(
        None, description="What a sustained critical breach does, unless the Rollout says."
    )
    notifications: list[Notification] | None = Field(
        None, max_length=10, description="Webhooks, unless the Rollout names its own."
    )
    promotion_windows: list[PromotionWindow] | None = Field(
        None,
        max_length=20,
        description="Weekly windows in which the Rollouts may promote, unless a Rollout names "
        "its own.",
    )
    freeze: Freeze | None = Field(
        None,
        description="No Rollout of this policy promotes until the freeze ends or is removed.",
    )

    # Admission checks the names' shape; whether an args.NAME is declared is the model's check
    # (a CEL rule looping over queries and args is past the apiserver's cost budget), so a
    # policy using an undeclared arg holds its Rollouts with PolicyResolved False naming it.
    model_config = {
        "json_schema_extra": validations(
            cel(
                "!has(self.metrics) || self.metrics.all(m, !has(m.query) || "
                f"m.query.matches('{_ONLY_KNOWN_CEL}'))",
                TEMPLATE_MESSAGE,
                ".metrics",
            ),
        )
    }

    @model_validator(mode="after")
    def _templates(self) -> RolloutPolicySpec:
        declared = {a.name for a in self.args or []}
        for i, metric in enumerate(self.metrics or []):
            for used in placeholders(metric.query or ""):
                arg = used.removeprefix("args.")
                known = used in BUILT_IN or (used.startswith("args.") and arg in declared)
                if not known:
                    raise ValueError(
                        f"spec.metrics[{i}].query: {{{{ {used} }}}} is unknown; {TEMPLATE_MESSAGE}"
                    )
        return self


class RolloutPolicy(SpecModel):
    """The whole object, as the shell reads it from the watch."""

    spec: RolloutPolicySpec


class PolicyStatus(StatusModel):
    """The RolloutPolicy a Rollout was decided with (status.policy)."""

    name: str = Field(description="Name of the RolloutPolicy (spec.policy).")
    generation: int | None = Field(
        None, description="metadata.generation of the policy in force; absent while unresolved."
    )
    contributed: list[str] = Field(
        default_factory=list,
        description="What of the effective spec came from the policy (field paths; a metric "
        "by name).",
    )


__all__ = [
    "POLICY_KIND",
    "POLICY_PLURAL",
    "POLICY_SHORT_NAMES",
    "POLICY_SINGULAR",
    "PolicyArg",
    "PolicyStatus",
    "RolloutPolicy",
    "RolloutPolicySpec",
]
