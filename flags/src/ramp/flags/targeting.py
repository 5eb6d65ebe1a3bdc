"""Audiences in flagd targeting: who gets a variant ahead of the ``fractional``.

Ramp writes a Rollout's audiences (``spec.flag.audiences``) into flags.json as::

    {"if": [{"or": [RULE, ...]}, "on", {"fractional": [...]}]}

where each RULE is ``{"in": [{"var": ATTR}, [VALUE, ...]]}``, ``{"starts_with": [{"var": ATTR},
VALUE]}`` or ``{"ends_with": [{"var": ATTR}, VALUE]}``. This module reads exactly that shape
(a single RULE without the ``or`` too) and decides membership as the flagd Go core does
(JSONLogic by github.com/diegoholiveira/jsonlogic v3, flagd's ``starts_with``/``ends_with``):

- ``in`` compares a string attribute with each value exactly; a number (not a boolean) equals a
  value when Go's ``strconv.ParseFloat`` of the value gives that number, a value it cannot parse
  counting as 0 (so the number 0 is a member of any audience with such a value, as in Go);
  booleans, null, lists and objects are never members.
- ``starts_with``/``ends_with`` need a string attribute; anything else is not a member.
- A string is compared as Go decoded it from JSON: a lone surrogate is U+FFFD.

Anything else (another operator, a dotted attribute, a ``var`` with a default) is targeting
this module cannot evaluate exactly: :func:`compile_audiences` raises :class:`Unsupported`
saying what it found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
# Go's float syntax: an underscore may stand between two digits, or after a base prefix.
_DIGITS = r"[0-9](?:_?[0-9])*"
_HEX_DIGITS = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
_GO_DECIMAL = re.compile(
    rf"[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?\Z"
)
_GO_HEX = re.compile(
    rf"[+-]?0[xX](?:_?{_HEX_DIGITS}(?:\.(?:{_HEX_DIGITS})?)?|\.{_HEX_DIGITS})"
    rf"[pP][+-]?{_DIGITS}\Z"
)
_GO_INFINITY = re.compile(r"([+-]?)(inf|infinity)\Z", re.IGNORECASE)


class Unsupported(ValueError):
    """Targeting this module cannot evaluate exactly as flagd does."""


def go_parse_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)`` as jsonlogic's ToNumber uses it, the error ignored: a
    syntax error is 0, out of range is ±Inf."""
    if _GO_DECIMAL.match(text):
        return float(text.replace("_", ""))  # correctly rounded, ±inf past the range: as Go
    if _GO_HEX.match(text):
        sign = -1.0 if text.startswith("-") else 1.0
        try:
            return sign * float.fromhex(text.lstrip("+-").replace("_", ""))
        except OverflowError:
            return sign * math.inf
    infinity = _GO_INFINITY.match(text)
    if infinity:
        return -math.inf if infinity.group(1) == "-" else math.inf
    if text.lower() == "nan":
        return math.nan
    return 0.0


def go_string(value: str) -> str:
    """``value`` as Go decodes it from JSON: each lone surrogate replaced by U+FFFD (a pair of
    surrogates is the character they encode)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


@dataclass(frozen=True)
class Rule:
    """One membership test on one evaluation-context attribute."""

    attribute: str
    operator: str
    """``in``, ``starts_with`` or ``ends_with``."""
    values: frozenset[str] | tuple[str, ...]
    numbers: frozenset[float] = frozenset()
    """For ``in``: what Go's ParseFloat makes of each value (a number attribute's members)."""

    def matches(self, targeting_key: str | None, attributes: Mapping[str, Any]) -> bool:
        if self.attribute == "targetingKey":
            value: Any = targeting_key
        else:
            value = attributes.get(self.attribute)
        if self.operator == "in":
            if isinstance(value, str):
                return go_string(value) in self.values
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            try:
                return float(value) in self.numbers
            except OverflowError:  # an int past float64: no JSON number Go could read
                return False
        if not isinstance(value, str):
            return False
        text = go_string(value)
        affix = next(iter(self.values))
        return text.startswith(affix) if self.operator == "starts_with" else text.endswith(affix)


def _rule(expression: Any) -> Rule:
    if not isinstance(expression, dict) or len(expression) != 1:
        raise Unsupported(f"a condition that is not one operation: {expression!r:.80}")
    ((operator, operands),) = expression.items()
    if operator not in ("in", "starts_with", "ends_with"):
        raise Unsupported(f"operator {operator!r} (ramp.flags reads in, starts_with, ends_with)")
    if not isinstance(operands, list) or len(operands) != 2:
        raise Unsupported(f"{operator} without exactly two operands")
    var, target = operands
    attribute = var.get("var") if isinstance(var, dict) and len(var) == 1 else None
    if not isinstance(attribute, str) or not _ATTRIBUTE.match(attribute):
        raise Unsupported(f"{operator} on {var!r:.60} (ramp.flags reads a plain var)")
    if operator == "in":
        if not isinstance(target, list) or not all(isinstance(v, str) for v in target):
            raise Unsupported("in without a list of strings")
        parsed = frozenset(n for v in target if not math.isnan(n := go_parse_float(v)))
        return Rule(attribute, operator, frozenset(map(go_string, target)), parsed)
    if not isinstance(target, str):
        raise Unsupported(f"{operator} with a target that is not a string")
    return Rule(attribute, operator, (go_string(target),))


def compile_audiences(condition: Any) -> tuple[Rule, ...]:
    """The rules of an ``if`` condition Ramp wrote: an ``or`` of rules, or one rule."""
    if isinstance(condition, dict) and len(condition) == 1 and "or" in condition:
        operands = condition["or"]
        if not isinstance(operands, list) or not operands:
            raise Unsupported("an or without operands")
        return tuple(_rule(r) for r in operands)
    return (_rule(condition),)


def is_member(
    rules: tuple[Rule, ...], targeting_key: str | None, attributes: Mapping[str, Any]
) -> bool:
    """Whether the evaluation context (the targeting key, None when there is none, and the
    other attributes) is in any audience."""
    return any(rule.matches(targeting_key, attributes) for rule in rules)


__all__ = ["Rule", "Unsupported", "compile_audiences", "go_parse_float", "is_member"]
