"""Audiences published as flagd targeting: `ramp.flags` decides exactly as flagd's Go core on
generated evaluation contexts (members, non-members, missing attribute, non-string attribute,
empty string, unicode, no targeting key), and refuses targeting it cannot evaluate exactly."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import pytest

from ramp.flags import FlagFile
from ramp.flags.targeting import go_parse_float
from ramp.k8s.flagd import AudienceRule, render_flags_json
from tests.support.flagd_go import build_flagd_eval, evaluate

FLAG = "async-processing"
ODD_VALUES = [
    *("5", "0x1p3", "0x_1p4", "0x1p1_0", "inf", "-Infinity", "infinit", "nan", "+nan", "1e400"),
    *("-0", " 7", "1_000", "1__0", "_1", "1_", "12.50", "1e1_1", ".5", "5.", "0x1"),
]
"""Values Go's ParseFloat reads as numbers (or not), for number attributes."""
BETA = [f"user-{i}" for i in range(1000)] + ["ünïcødé-🦊", "e\u0301", "\ufffd", *ODD_VALUES]
AUDIENCES: tuple[AudienceRule, ...] = (
    ("internal", "email", "endsWith", ("@example.com", "@corp.example")),
    ("beta", "targetingKey", "in", tuple(BETA)),
    ("plans", "plan", "in", ("gold", "beta", *ODD_VALUES)),
    ("testers", "team", "startsWith", ("qa-", "ü")),
)
ODD: list[Any] = [
    None,
    True,
    False,
    0,
    5,
    5.0,
    8,
    12.5,
    -0.0,
    1.5,
    1000,
    7,
    16,
    1e11,
    0.5,
    10**400 // 10**390,
    [],
    ["gold"],
    {"a": 1},
    "",
    "\ud800",
    "\ud83e\udd8a",
]
"""Attribute values that are not plain member strings: non-strings, empty, lone surrogates."""


def contexts(n: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    strings = [
        "alice@example.com",
        "bob@EXAMPLE.com",
        "@example.com",
        "example.com",
        "x@corp.example",
        "x@corp.example.org",
        "qa-1",
        "QA-1",
        "ü",
        "u\u0308",
        "gold",
        "Gold",
        "beta ",
        *BETA[:3],
        *BETA[-len(ODD_VALUES) - 3 :],
        "user-1000",
        "🦊",
    ]
    found = []
    for _ in range(n):
        context: dict[str, Any] = {}
        if rnd.random() < 0.9:
            context["targetingKey"] = rnd.choice(
                [rnd.choice(BETA), f"user-{rnd.getrandbits(40):x}", rnd.choice(strings), ""]
            )
        for attribute in ("email", "plan", "team"):
            roll = rnd.random()
            if roll < 0.4:
                context[attribute] = rnd.choice(strings)
            elif roll < 0.7:
                context[attribute] = rnd.choice(ODD)
        found.append(context)
    return found


@pytest.fixture(scope="module")
def flagd_eval() -> Path:
    return build_flagd_eval()


@pytest.mark.parametrize("percentage", [0, 25, 99.99])
def test_every_decision_with_audiences_equals_flagd_go_core(
    flagd_eval: Path, tmp_path: Path, percentage: float
) -> None:
    path = tmp_path / "flags.json"
    path.write_text(render_flags_json(FLAG, True, percentage, audiences=AUDIENCES), "utf-8")
    generated = contexts(4000, seed=int(percentage * 100) + 23)
    expected = [
        r["value"] is True and not r.get("error")
        for r in evaluate(flagd_eval, path, FLAG, generated)
    ]
    flags = FlagFile(path)
    actual = []
    for context in generated:
        attributes = {k: v for k, v in context.items() if k != "targetingKey"}
        actual.append(flags.is_enabled(FLAG, context.get("targetingKey"), attributes))
    disagreements = [
        (json.dumps(c)[:120], e, a)
        for c, e, a in zip(generated, expected, actual, strict=True)
        if e != a
    ]
    assert disagreements == [], "\n".join(map(str, disagreements))
    members = sum(actual)
    assert 0 < members < len(generated), "the contexts must hold members and non-members"


def test_members_get_the_feature_at_zero_percent_and_others_do_not(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(render_flags_json(FLAG, True, 0, audiences=AUDIENCES), "utf-8")
    flags = FlagFile(path)
    assert flags.is_enabled(FLAG, "user-17")
    assert flags.is_enabled(FLAG, "someone", {"email": "alice@example.com"})
    assert flags.variant(FLAG, None, {"email": "alice@example.com"}) == "on"
    assert flags.labels(FLAG, "user-17")["feature_flag_result_variant"] == "on"
    assert not flags.is_enabled(FLAG, "someone", {"email": "alice@example.org"})
    assert not flags.is_enabled(FLAG, "someone")
    assert not flags.is_enabled(FLAG, "someone", {"email": 5})


def test_go_parse_float_reads_values_as_go_does() -> None:
    assert go_parse_float("5") == 5.0
    assert go_parse_float("0x1p3") == 8.0
    assert go_parse_float("-Infinity") == float("-inf")
    assert go_parse_float("1e400") == float("inf")
    assert go_parse_float(" 7") == 0.0  # a syntax error counts as 0 in jsonlogic
    assert go_parse_float("1_000") == 1000.0
    assert go_parse_float("1__0") == 0.0
    assert go_parse_float("+nan") == 0.0


@pytest.mark.parametrize(
    "targeting",
    [
        {"if": [{"==": [{"var": "email"}, "a"]}, "on", {"fractional": [["on", 0], ["off", 1]]}]},
        {"if": [{"in": [{"var": "user.email"}, ["a"]]}, "on", "off"]},
        {"if": [{"in": [{"var": ["email", "x"]}, ["a"]]}, "on", "off"]},
        {"if": [{"in": [{"var": "email"}, "abc"]}, "on", "off"]},
        {"if": [{"or": [{"in": [{"var": "email"}, ["a"]]}, {"and": []}]}, "on", "off"]},
    ],
)
def test_targeting_it_cannot_evaluate_exactly_is_refused_with_a_clear_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, targeting: dict[str, Any]
) -> None:
    flag = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": {FLAG: {**flag, "targeting": targeting}}}), "utf-8")
    with caplog.at_level(logging.WARNING, logger="ramp.flags"):
        assert FlagFile(path).is_enabled(FLAG, "a", {"email": "a"}) is False
    assert any(
        "cannot evaluate exactly as flagd does" in r.message and "serving off" in r.message
        for r in caplog.records
    ), caplog.text
