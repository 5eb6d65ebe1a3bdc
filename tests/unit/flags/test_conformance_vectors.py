"""flagd's conformance vectors for `fractional` pass in the schemes `ramp.flags` claims.

`@fractional-v1` examples: `FlagdGoCore` (and the Go core itself, as a check on the vectors);
`@fractional-v2` examples: `FlagdSuiteV2`. The vectors are open-feature/flagd-testbed's,
kept as test data with their commit (data/flagd-testbed/SOURCE.md). Scenarios of features
`ramp.flags` does not implement (`@fractional-nested`, `@operator-errors`) are left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ramp.flags import FLAGD_GO_CORE, FLAGD_SUITE_V2
from ramp.flags.bucketing import fraction_index, utf8_text
from tests.support.flagd_go import build_flagd_eval, evaluate

DATA = Path(__file__).parent / "data" / "flagd-testbed"
TESTKIT = json.loads((DATA / "testkit-flags.json").read_text(encoding="utf-8"))
SCHEME_OF_TAG = {"@fractional-v1": FLAGD_GO_CORE, "@fractional-v2": FLAGD_SUITE_V2}
LEFT_OUT = {"@fractional-nested", "@operator-errors"}


@dataclass(frozen=True)
class Vector:
    scenario: str
    tag: str
    flag_key: str
    context: dict[str, Any]
    expected: str

    def __str__(self) -> str:
        return f"{self.tag} {self.scenario}: {json.dumps(self.context)} -> {self.expected}"


def read_vectors(feature: str) -> list[Vector]:
    """The examples of fractional.feature, one vector per row, with the tag that applies."""
    vectors: list[Vector] = []
    tags: list[str] = []
    scenario_tags: list[str] = []
    scenario = flag = ""
    context: dict[str, Any] = {}
    header: list[str] | None = None
    expected_literal: str | None = None
    for raw in feature.splitlines():
        line = raw.strip()
        if line.startswith("@"):
            tags = line.split()
        elif line.startswith(("Scenario", "Examples")):
            if line.startswith("Scenario"):
                scenario, scenario_tags, header = line.split(":", 1)[1].strip(), tags, None
                context, expected_literal = {}, None
            else:
                header = []
            example_tags = tags if line.startswith("Examples") else []
            current = [*scenario_tags, *example_tags]
            tags = []
        elif m := re.match(r'.*String-flag with key "([^"]+)"', line):
            flag = m.group(1)
        elif m := re.match(r'.*nested property with outer key "(\w+)" and inner key "(\w+)"', line):
            context["nested"] = (m.group(1), m.group(2))
        elif m := re.match(r'.*context containing a targeting key with value "([^"]*)"', line):
            context["targetingKey"] = m.group(1)
        elif m := re.match(r'.*resolved details value should be "([^"]*)"', line):
            expected_literal = m.group(1)
            if "<" not in expected_literal:  # a plain Scenario: one vector
                vectors.append(vector(scenario, current, flag, context, {}, expected_literal))
        elif line.startswith("|") and header is not None:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not header:
                header = cells
                continue
            row = dict(zip(header, cells, strict=True))
            value = row.get("value", expected_literal or "")
            vectors.append(vector(scenario, current, flag, context, row, value))
    return [v for v in vectors if v.tag]


def vector(
    scenario: str,
    tags: list[str],
    flag: str,
    context: dict[str, Any],
    row: dict[str, str],
    expected: str,
) -> Vector:
    if LEFT_OUT & set(tags):
        return Vector(scenario, "", flag, {}, expected)
    tag = next((t for t in tags if t in SCHEME_OF_TAG), "")
    ctx: dict[str, Any] = {}
    if "nested" in context:
        outer, inner = context["nested"]
        ctx[outer] = {inner: row.get(inner, row.get("name", ""))}
    if "targetingKey" in context:
        key = context["targetingKey"]
        ctx["targetingKey"] = row.get(key.strip("<>"), key) if key.startswith("<") else key
    return Vector(scenario, tag, flag, ctx, expected)


VECTORS = read_vectors((DATA / "fractional.feature").read_text(encoding="utf-8"))


def resolve(expression: Any, context: dict[str, Any], flag_key: str) -> Any:
    """The JSON Logic the vectors' bucketing expressions use: `cat` of literals and `var`s."""
    if isinstance(expression, str):
        return expression
    if "var" in expression:
        value: Any = {**context, "$flagd": {"flagKey": flag_key}}
        for part in expression["var"].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value
    if "cat" in expression:
        return "".join(str(resolve(e, context, flag_key)) for e in expression["cat"])
    raise AssertionError(f"unexpected bucketing expression {expression}")


def ramp_flags_value(v: Vector, scheme: str) -> Any:
    """What `ramp.flags`' bucketing in ``scheme`` resolves the vector's flag to."""
    flag = TESTKIT["flags"][v.flag_key]
    fractions = flag["targeting"]["fractional"]
    if isinstance(fractions[0], list):  # shorthand: the flag key and the targeting key
        value = v.flag_key + v.context["targetingKey"]
    else:
        value, fractions = resolve(fractions[0], v.context, v.flag_key), fractions[1:]
    weights = [f[1] if len(f) > 1 else 1 for f in fractions]
    index = fraction_index(utf8_text(value), weights, scheme)
    variant = flag["defaultVariant"] if index is None else fractions[index][0]
    return flag["variants"][variant]


def test_the_vectors_were_read() -> None:
    tags = [v.tag for v in VECTORS]
    assert tags.count("@fractional-v1") >= 15
    assert tags.count("@fractional-v2") >= 20


@pytest.mark.parametrize("v", VECTORS, ids=str)
def test_ramp_flags_passes_the_conformance_vector(v: Vector) -> None:
    assert ramp_flags_value(v, SCHEME_OF_TAG[v.tag]) == v.expected


def test_flagd_go_core_passes_the_v1_vectors(tmp_path: Path) -> None:
    binary = build_flagd_eval()
    failed = []
    for v in (v for v in VECTORS if v.tag == "@fractional-v1"):
        (result,) = evaluate(binary, DATA / "testkit-flags.json", v.flag_key, [v.context])
        if result["value"] != v.expected:
            failed.append(f"{v}: Go core says {result['value']}")
    assert failed == []
