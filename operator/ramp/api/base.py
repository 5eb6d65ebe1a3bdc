"""The base every Rollout model shares: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel


def cel(rule: str, message: str, field_path: str | None = None) -> dict[str, str]:
    """One `x-kubernetes-validations` entry: a CEL rule and the message admission returns."""
    entry = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


class SpecModel(BaseModel):
    """Spec models refuse unknown fields, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


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
