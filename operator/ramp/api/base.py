"""The base every Rollout model shares: camelCase on the wire, snake_case in Python; and the
admission rules, each stated once for both of its checkers.

A rule that admission (CEL in the CRD) and the models (the operator, `ramp simulate`) must both
hold is one `Rule`: its CEL expression, its message, optionally a fieldPath and a reason, and a
Python predicate `holds` that says the same thing. `make crds` writes the CEL and the message into
`x-kubernetes-validations`; the model raises the same message when `holds` is false. Where it goes:

- a rule on one value (a duration, a URL, a list) is metadata of the field's type, beside `Field`:
  `interval: Annotated[Duration, AT_LEAST_A_SECOND] = Field("30s", ...)`; `holds` gets the value;
- a rule across a model's fields is listed in the model's `rules` (a class variable; `holds` gets
  the model, its fields in snake_case): `rules = (Rule("has(self.a) || has(self.b)", "...",
  lambda m: m.a is not None or m.b is not None),)`. They are checked in order, after the fields.

CEL reads the wire names (camelCase) and sees an optional field as absent (`has(...)`) where Python
sees None; write the predicate for the model's own values. Rules only one side can state stay
where they are: a transition rule reading `oldSelf` is plain `cel(...)` (see crd.build_crd), and
a check CEL cannot express (a regular expression built from another field) is a model validator.
The fuzzed-manifest test (tests/integration) sends hostile manifests through the real apiserver
and checks that what admission lets through, the model accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

V = TypeVar("V")

VALIDATIONS = "x-kubernetes-validations"


def cel(
    rule: str, message: str, field_path: str | None = None, reason: str | None = None
) -> dict[str, str]:
    """One `x-kubernetes-validations` entry: a CEL rule and the message admission returns."""
    entry = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    if reason is not None:
        entry["reason"] = reason
    return entry


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    return {VALIDATIONS: list(rules)}


@dataclass(frozen=True)
class Rule:
    """One admission rule for both checkers: CEL in the CRD, `holds` in the model, one message."""

    cel: str
    """The CEL expression admission evaluates (`self` is the value or the object, camelCase)."""
    message: str
    """What both admission and the model say when the rule does not hold."""
    holds: Callable[[Any], bool]
    """The same rule in Python, over the validated value or model."""
    field_path: str | None = None
    """Where admission points (`.phases`), relative to the object the rule is on."""
    reason: str | None = None
    """Admission's reason (FieldValueInvalid when absent)."""
    detail: Callable[[Any], str] | None = None
    """The model's message when it can say more than admission (which element breaks the rule);
    it contains `message`, so both still say the same."""

    @property
    def entry(self) -> dict[str, str]:
        return cel(self.cel, self.message, self.field_path, self.reason)

    def check(self, value: V) -> V:
        if not self.holds(value):
            raise ValueError(self.message if self.detail is None else self.detail(value))
        return value

    # As metadata of a field's type (`Annotated[str, RULE]`): checked after the type's own
    # validation, and written beside it in the schema.
    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json = handler(schema)
        json.setdefault(VALIDATIONS, []).append(self.entry)
        return json


def _model_rules(schema: dict[str, Any], model: type) -> None:
    rules: tuple[Rule, ...] = getattr(model, "rules", ())
    if rules:
        schema.setdefault(VALIDATIONS, []).extend(rule.entry for rule in rules)


class SpecModel(BaseModel):
    """Spec models refuse unknown fields, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        json_schema_extra=_model_rules,
    )

    rules: ClassVar[tuple[Rule, ...]] = ()
    """Rules across this model's fields (see the module's docstring)."""

    @model_validator(mode="after")
    def _keeps_its_rules(self) -> Self:
        for rule in self.rules:
            rule.check(self)
        return self


class StatusModel(BaseModel):
    """Status models tolerate fields they do not know (written by a newer operator)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


PLAINER = {
    "extra_forbidden": "unknown field (check its spelling and indentation)",
    "missing": "required field is missing",
}
"""Kubernetes' words for pydantic's messages where they differ."""


def field_problems(error: ValidationError, root: str = "spec") -> list[str]:
    """One line per invalid field, named as admission names it (`spec.phases[0].duration: ...`),
    without pydantic's types, inputs and links."""
    lines = []
    for problem in error.errors(include_url=False):
        path = root
        for part in problem["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = PLAINER.get(problem["type"]) or str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return lines
