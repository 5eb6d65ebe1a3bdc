"""Audiences: named groups of users (internal accounts, beta testers) a phase serves ahead of its
percentage. Defined once in `spec.flag.audiences`, named by `spec.phases[].audiences`.

The bounds keep flags.json (and the Rollout itself) far below the 1 MiB a ConfigMap or any
object may hold: at most 10 audiences, 5,000 values and 50,000 characters in all, each value
at most 64 characters. flags.json takes at most 6 bytes per character (a control character
escaped in JSON; 4 for any other) plus about 24 per value, so it stays under 450 KB even at
the limit, and about 45 KB for a thousand user ids of 20 characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, Field, model_validator

from ramp.api.base import Rule, SpecModel, cel, validations

MAX_AUDIENCES = 10
"""Audiences a Rollout may define (and a phase may name)."""
MAX_VALUES = 5_000
"""Values in all of a Rollout's audiences together."""
MAX_CHARACTERS = 50_000
"""Characters of all values of a Rollout's audiences together."""
MAX_AFFIXES = 100
"""Values of one `endsWith` or `startsWith` (each is one comparison per decision)."""
MAX_VALUE_LENGTH = 64
"""Characters of one value: a user id, an email address, a domain."""

ATTRIBUTE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
"""An evaluation-context attribute at the top level (no dots: flagd would read a dotted name as
a path into nested objects, which apps rarely mean)."""
AUDIENCE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

AudienceName = Annotated[str, Field(pattern=AUDIENCE_NAME_PATTERN, max_length=63)]
AudienceValue = Annotated[str, Field(min_length=1, max_length=MAX_VALUE_LENGTH)]

ONE_MATCHER = (
    "an audience needs exactly one of in, endsWith or startsWith (an audience with two would "
    "be read differently by different readers; define two audiences instead)"
)
UNIQUE_NAMES = "spec.flag.audiences: audience names must be unique"
TOO_MANY_VALUES = (
    f"spec.flag.audiences: at most {MAX_VALUES:,} values in all audiences together (flags.json "
    "must stay far below the 1 MiB a ConfigMap holds); put larger groups behind an attribute "
    "the app sets, e.g. attribute: plan, in: [beta]"
)
TOO_MANY_CHARACTERS = (
    f"spec.flag.audiences: at most {MAX_CHARACTERS:,} characters in all values together "
    "(flags.json must stay far below the 1 MiB a ConfigMap holds); put larger groups behind an "
    "attribute the app sets, e.g. attribute: plan, in: [beta]"
)
DEFINED = (
    "spec.phases[].audiences: every audience a phase names must be defined in spec.flag.audiences"
)
INCLUDES_PREVIOUS = (
    "spec.phases[].audiences: a phase's audiences must include those of every phase before it "
    "(exposure never shrinks on the way up), except in a phase at 100 %"
)

# Kubernetes escapes CEL keywords used as property names: `in` is `__in__` in a rule.
_COUNT = (
    "(has(a.__in__) ? size(a.__in__) : 0) + (has(a.endsWith) ? size(a.endsWith) : 0)"
    " + (has(a.startsWith) ? size(a.startsWith) : 0)"
)
_CHARACTERS = " + ".join(
    f"(has(a.{field}) ? a.{field}.map(v, size(v)).sum() : 0)"
    for field in ("__in__", "endsWith", "startsWith")
)


class Audience(SpecModel):
    """A named group of users served ahead of the percentage in the phases that name it."""

    name: AudienceName = Field(description="Name the phases use (spec.phases[].audiences).")
    attribute: str = Field(
        "targetingKey",
        pattern=ATTRIBUTE_PATTERN,
        max_length=63,
        description="Evaluation-context attribute the values are compared with (default "
        "targetingKey; e.g. email, set by the app in the evaluation context). A user without "
        "it, or with a value that is not a string, is not a member.",
    )
    in_: list[AudienceValue] | None = Field(
        None,
        alias="in",
        min_length=1,
        max_length=MAX_VALUES,
        description="Members: the attribute equals one of these values (e.g. user ids).",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    ends_with: list[AudienceValue] | None = Field(
        None,
        min_length=1,
        max_length=MAX_AFFIXES,
        description='Members: the attribute ends with one of these (e.g. "@example.com").',
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    starts_with: list[AudienceValue] | None = Field(
        None,
        min_length=1,
        max_length=MAX_AFFIXES,
        description='Members: the attribute starts with one of these (e.g. "test-").',
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )

    model_config = {
        "json_schema_extra": validations(
            cel(
                "[has(self.__in__), has(self.endsWith), has(self.startsWith)]"
                ".filter(x, x).size() == 1",
                ONE_MATCHER,
            )
        )
    }

    @model_validator(mode="after")
    def _one_matcher(self) -> Audience:
        if sum(m is not None for m in (self.in_, self.ends_with, self.starts_with)) != 1:
            raise ValueError(ONE_MATCHER)
        for field, values in self.matchers():
            if len(set(values)) != len(values):
                raise ValueError(f"{field}: duplicate values")
        return self

    def matchers(self) -> list[tuple[str, list[str]]]:
        """(operator, values) of the one matcher: in, endsWith or startsWith."""
        named = (("in", self.in_), ("endsWith", self.ends_with), ("startsWith", self.starts_with))
        return [(field, values) for field, values in named if values is not None]

    @property
    def size(self) -> int:
        return sum(len(values) for _, values in self.matchers())

    @property
    def characters(self) -> int:
        return sum(len(v) for _, values in self.matchers() for v in values)


def _audience_list(audiences: list[Audience] | None) -> list[Audience] | None:
    if audiences is None:
        return None
    seen: set[str] = set()
    for i, audience in enumerate(audiences):
        if audience.name in seen:
            raise ValueError(f"{UNIQUE_NAMES} ([{i}] repeats {audience.name!r})")
        seen.add(audience.name)
    total = sum(a.size for a in audiences)
    if total > MAX_VALUES:
        raise ValueError(f"{TOO_MANY_VALUES} ({total:,} given)")
    characters = sum(a.characters for a in audiences)
    if characters > MAX_CHARACTERS:
        raise ValueError(f"{TOO_MANY_CHARACTERS} ({characters:,} given)")
    return audiences


Audiences = Annotated[
    list[Audience] | None,
    Field(
        max_length=MAX_AUDIENCES,
        description="Named groups of users (internal accounts, beta testers) that phases serve "
        f"ahead of their percentage. At most {MAX_AUDIENCES} audiences, {MAX_VALUES:,} values "
        f"and {MAX_CHARACTERS:,} characters in all, each value at most {MAX_VALUE_LENGTH} "
        "characters. Published as flagd targeting in flags.json; env keys cannot express them.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            **validations(
                cel(f"self.map(a, {_COUNT}).sum() <= {MAX_VALUES}", TOO_MANY_VALUES),
                cel(f"self.map(a, {_CHARACTERS}).sum() <= {MAX_CHARACTERS}", TOO_MANY_CHARACTERS),
            ),
        },
    ),
    AfterValidator(_audience_list),
]
"""The type of `spec.flag.audiences`."""


def _phase_audiences(names: list[str] | None) -> list[str] | None:
    if names is not None and len(set(names)) != len(names):
        raise ValueError("a phase names each audience once")
    return names


PhaseAudiences = Annotated[
    list[AudienceName] | None,
    Field(
        max_length=MAX_AUDIENCES,
        description="Audiences (spec.flag.audiences) served in this phase whatever the "
        "percentage: a member of any of them gets the feature, everyone else is bucketed by "
        "the percentage. Must include the previous phase's audiences, except at 100 %.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    ),
    AfterValidator(_phase_audiences),
]
"""The type of `spec.phases[].audiences`."""


def _phase_audiences_problem(spec: Any) -> str | None:
    try:
        check_phase_audiences(spec.flag.audiences, spec.phases)
    except ValueError as e:
        return str(e)
    return None


def _phases_name_defined(spec: Any) -> bool:
    names = {a.name for a in spec.flag.audiences or []}
    return all(n in names for p in spec.phases for n in p.audiences or [])


def _phases_include_previous(spec: Any) -> bool:
    return _phase_audiences_problem(spec) is None


def _detail(spec: Any) -> str:
    return _phase_audiences_problem(spec) or DEFINED


SPEC_RULES = (
    Rule(
        "!has(self.phases) || self.phases.all(p, !has(p.audiences) || p.audiences.all(n,"
        " has(self.flag.audiences) && self.flag.audiences.exists(a, a.name == n)))",
        DEFINED,
        _phases_name_defined,
        ".phases",
        detail=_detail,
    ),
    # Rule costs forbid comparing each phase with the one before by index. The same holds when
    # the phases below 100 % have audience sets that are nested pairwise (one includes the
    # other) and never fewer than the phase before: then each includes every earlier one.
    Rule(
        "!has(self.phases) || (self.phases.filter(p, p.percentage < 100.0)"
        ".map(p, has(p.audiences) ? size(p.audiences) : 0).isSorted()"
        " && self.phases.all(p, p.percentage >= 100.0 || !has(p.audiences) || self.phases.all(q,"
        " q.percentage >= 100.0 || !has(q.audiences) || p.audiences.all(n, n in q.audiences)"
        " || q.audiences.all(n, n in p.audiences))))",
        INCLUDES_PREVIOUS,
        _phases_include_previous,
        ".phases",
        detail=_detail,
    ),
)
"""Rules on the whole spec (they relate phases to spec.flag.audiences and to each other); the
model first says which phase and audience break them (`check_phase_audiences`)."""


class PhaseView(Protocol):
    """What `check_phase_audiences` reads of a phase (spec.Phase)."""

    @property
    def percentage(self) -> float: ...

    @property
    def audiences(self) -> list[str] | None: ...


def check_phase_audiences(defined: Sequence[Audience] | None, phases: Sequence[PhaseView]) -> None:
    """The rules of SPEC_RULES, with the phase and the audience named."""
    names = {a.name for a in defined or []}
    previous: list[str] = []
    for i, phase in enumerate(phases):
        own = phase.audiences or []
        for name in own:
            if name not in names:
                raise ValueError(
                    f"spec.phases[{i}].audiences: {name!r} is not defined in spec.flag.audiences"
                    f" ({DEFINED})"
                )
        missing = [n for n in previous if n not in own]
        if missing and phase.percentage < 100:
            raise ValueError(
                f"spec.phases[{i}].audiences: lacks {', '.join(map(repr, missing))} of the "
                f"phase before ({INCLUDES_PREVIOUS})"
            )
        previous = own if phase.percentage < 100 else previous
