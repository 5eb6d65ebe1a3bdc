"""The spec a Rollout is decided with: its own, merged with the RolloutPolicy it names.

What the Rollout says wins, field by field (docs/policies.md):

- `analysis.metrics`: the policy's templates, rendered for this Rollout, in the policy's order;
  a Rollout metric of the same name replaces one, and the Rollout's other metrics follow.
- `analysis.interval`, `analysis.errorLimit`: the Rollout's where it writes them, else the
  policy's `analysis`, else the defaults. `analysis.prometheus`: the Rollout's when it has
  `spec.analysis`, else the policy's.
- `failurePolicy`, `notifications`, `promotionWindows`, `freeze`: the Rollout's where it writes
  them (`promotionWindows: []` lifts the policy's windows), else the policy's.

Pure: the shell hands in the policy's body as the watch delivered it, or None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ramp.api.base import field_problems
from ramp.api.rollout_policy import TEMPLATE, RolloutPolicySpec
from ramp.api.spec import RolloutSpec
from ramp.engine.observations import PolicyObservation


class PolicyProblem(Exception):
    """The policy cannot be used for this Rollout; the message names the field."""


def render(query: str, values: Mapping[str, str]) -> str:
    """A query template with its `{{ }}` replaced (each name was checked at admission)."""
    return TEMPLATE.sub(lambda m: values[m.group(1)], query)


def resolve(
    spec: RolloutSpec, namespace: str, name: str, policy: Mapping[str, Any] | None
) -> tuple[RolloutSpec, PolicyObservation | None]:
    """The effective spec and what to tell of the policy. A policy that is missing or cannot be
    used leaves the Rollout's own spec, and the observation's problem holds the rollout."""
    wanted = spec.policy
    if wanted is None:
        return spec, None
    if policy is None:
        return spec, PolicyObservation(
            wanted,
            problem=f"RolloutPolicy {wanted} (spec.policy) not found in namespace {namespace}; "
            "create it or name another",
            reason="PolicyNotFound",
        )
    generation = (policy.get("metadata") or {}).get("generation")
    try:
        parsed = RolloutPolicySpec.model_validate(policy.get("spec") or {})
        effective, contributed = merge(spec, parsed, namespace, name)
    except ValidationError as e:
        problems = "; ".join(field_problems(e))
        return spec, _invalid(wanted, generation, f"RolloutPolicy {wanted} is invalid: {problems}")
    except PolicyProblem as e:
        return spec, _invalid(wanted, generation, f"RolloutPolicy {wanted}: {e}")
    return effective, PolicyObservation(wanted, generation, tuple(contributed))


def _invalid(name: str, generation: int | None, problem: str) -> PolicyObservation:
    return PolicyObservation(name, generation, problem=problem, reason="PolicyInvalid")


def merge(
    spec: RolloutSpec, policy: RolloutPolicySpec, namespace: str, name: str
) -> tuple[RolloutSpec, list[str]]:
    """The Rollout's spec with the policy's fields where it has none, and their paths."""
    values = {"flag": spec.flag.key, "namespace": namespace, "name": name}
    supplied = spec.policy_args or {}
    declared = {a.name for a in policy.args or []}
    for extra in sorted(set(supplied) - declared):
        raise PolicyProblem(f"spec.policyArgs.{extra}: the policy declares no arg {extra}")
    for arg in policy.args or []:
        value = supplied.get(arg.name, arg.default)
        if value is None:
            raise PolicyProblem(
                f"spec.policyArgs.{arg.name} is missing: the policy's queries use "
                f"{{{{ args.{arg.name} }}}}; supply it in spec.policyArgs"
            )
        values[f"args.{arg.name}"] = value

    document = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    contributed: list[str] = []
    own = spec.analysis
    defaults = policy.analysis
    own_metrics = {m.name: m for m in own.metrics} if own is not None else {}
    metrics: list[dict[str, Any]] = []
    for template in policy.metrics or []:
        if template.name in own_metrics:
            mine = own_metrics.pop(template.name)
            metrics.append(mine.model_dump(by_alias=True, exclude_none=True, mode="json"))
            continue
        metric = template.model_dump(by_alias=True, exclude_none=True, mode="json")
        if template.query is not None:
            metric["query"] = render(template.query, values)
        metrics.append(metric)
        contributed.append(f"analysis.metrics[{template.name}]")
    metrics += [
        m.model_dump(by_alias=True, exclude_none=True, mode="json") for m in own_metrics.values()
    ]
    if metrics:
        analysis: dict[str, Any] = dict(document.get("analysis") or {})
        for field, attribute in (("interval", "interval"), ("errorLimit", "error_limit")):
            if own is not None and attribute in own.model_fields_set:
                continue
            value = getattr(defaults, attribute) if defaults is not None else None
            if value is not None:
                analysis[field] = value
                contributed.append(f"analysis.{field}")
        if own is None:
            if defaults is None or defaults.prometheus is None:
                raise PolicyProblem(
                    "it has metrics but no analysis.prometheus, and the Rollout has no "
                    "spec.analysis naming one"
                )
            analysis["prometheus"] = defaults.prometheus.model_dump(
                by_alias=True, exclude_none=True, mode="json"
            )
            contributed.append("analysis.prometheus")
        analysis["metrics"] = metrics
        document["analysis"] = analysis
    for field, attribute in (
        ("failurePolicy", "failure_policy"),
        ("notifications", "notifications"),
        ("promotionWindows", "promotion_windows"),
        ("freeze", "freeze"),
    ):
        theirs = getattr(policy, attribute)
        if attribute in spec.model_fields_set and getattr(spec, attribute) is not None:
            continue
        if theirs is not None:
            document[field] = (
                [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in theirs]
                if isinstance(theirs, list)
                else theirs.model_dump(by_alias=True, exclude_none=True, mode="json")
            )
            contributed.append(field)
    effective = RolloutSpec.model_validate(document)
    defined = {m.name for m in effective.analysis.metrics} if effective.analysis else set()
    for i, phase in enumerate(effective.phases):
        for override in phase.metrics or []:
            if override.name not in defined:
                raise PolicyProblem(
                    f"spec.phases[{i}].metrics: {override.name!r} is defined neither in "
                    "spec.analysis.metrics nor in the policy's metrics"
                )
    return effective, contributed
