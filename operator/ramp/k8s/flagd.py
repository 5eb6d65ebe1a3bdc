"""flagd flag definitions for one Ramp-managed boolean flag (the ``flags.json`` Ramp publishes).

The flag always has the variants ``on: true`` / ``off: false`` and ``defaultVariant: off``.

- Enabled at P %: ``targeting: {"fractional": [["on", W], ["off", 10000 - W]]}`` with
  ``W = round(P * 100)``. The total weight is always :data:`ON_WEIGHT_TOTAL`, and "on" is listed
  first, so a targeting key's bucket never moves and raising P only adds users: bucket ``b`` is
  on exactly when ``b < W``. 0 % gives ``["on", 0]`` (nobody), 100 % gives ``["off", 0]``
  (everybody with a targeting key).
- Disabled: no ``targeting`` at all, so flagd serves the static default variant "off" to every
  caller, whatever default value the caller passes. (``state: DISABLED`` would not do: flagd then
  returns the *caller's* default value, which may be true.)

The fractional operation carries no bucketing expression, in every scheme: each implementation
then buckets on the flag key and the targeting key (the flagd Go core and the conformance suite
on the string ``flagKey + targetingKey``, provider 0.6.x on the CBOR of the array), and a caller
without a targeting key gets the default variant "off" (the Go core buckets an empty one). An
explicit ``{"cat": [{"var": "$flagd.flagKey"}, {"var": "targetingKey"}]}`` makes no two of them
agree that did not already: the Go core hashes the same string either way, and provider 0.6.x
would hash the CBOR of the string. What differs between schemes is the arithmetic after the
hash, which no expression can select, so the scheme is named in the flag's metadata
(``"metadata": {"bucketing": "FlagdGoCore"}``) for :mod:`ramp.flags` to read.

Audiences (``spec.flag.audiences`` named by the phase) come first: ``{"if": [{"or": [RULE,
...]}, "on", {"fractional": ...}]}`` with one RULE per audience matching ``in`` (``{"in":
[{"var": ATTR}, [VALUE, ...]]}``) and one per value of ``startsWith``/``endsWith``
(``{"starts_with": [{"var": ATTR}, VALUE]}``), so a member gets "on" whatever the percentage
and everyone else is bucketed as before. The flag's metadata names them (``"audiences":
"internal,beta"``) so that what a ConfigMap serves can be read back. flagd's daemon, its
in-process providers and :mod:`ramp.flags` (:mod:`ramp.flags.targeting`) decide alike on it.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Collection, Mapping
from typing import Any

from ramp.flags import BUCKETS, DEFAULT_SCHEME, OFF_VARIANT, ON_VARIANT, SCHEMES
from ramp.flags.bucketing import LEGACY_SCHEME, METADATA_KEY

FLAGD_SCHEMA = "https://flagd.dev/schema/v0/flags.json"
AUDIENCES_KEY = "audiences"
"""Flag metadata key naming the audiences the targeting serves, comma-separated."""

AudienceRule = tuple[str, str, str, tuple[str, ...]]
"""One audience as flags.json carries it: name, attribute, matcher (``in``, ``endsWith`` or
``startsWith``) and values."""

_OPERATORS = {"in": "in", "endsWith": "ends_with", "startsWith": "starts_with"}
ON_WEIGHT_TOTAL = BUCKETS  # the reader's constants: what Ramp writes is what ramp.flags reads


def on_weight(percentage: float) -> int:
    """Weight of the "on" variant out of :data:`ON_WEIGHT_TOTAL` (percentages have 2 decimals)."""
    if isinstance(percentage, bool) or not isinstance(percentage, int | float):
        raise TypeError(f"percentage must be a number, not {type(percentage).__name__}")
    if not math.isfinite(percentage) or not 0 <= percentage <= 100:
        raise ValueError(f"percentage must be between 0 and 100, got {percentage!r}")
    return round(percentage * ON_WEIGHT_TOTAL / 100)


def build_flag_definition(
    key: str,
    enabled: bool,
    percentage: float,
    bucketing: str | None = None,
    *,
    name_scheme: bool = True,
    audiences: tuple[AudienceRule, ...] = (),
) -> dict[str, Any]:
    """The flagd flag-definition document for flag ``key`` at ``percentage`` (0..100), for
    readers bucketing with scheme ``bucketing`` (:data:`ramp.flags.DEFAULT_SCHEME` if None),
    serving the members of ``audiences`` whatever the percentage.

    ``name_scheme=False`` leaves the metadata out, as Ramp wrote flags.json before schemes
    existed: readers then take it for :data:`LEGACY_SCHEME`, the only scheme it can stand for.
    """
    if not isinstance(key, str) or not key:
        raise ValueError("flag key must be a non-empty string")
    scheme = DEFAULT_SCHEME if bucketing is None else bucketing
    if scheme not in SCHEMES:
        raise ValueError(f"unknown bucketing scheme {scheme!r}; one of {', '.join(SCHEMES)}")
    if not name_scheme and scheme != LEGACY_SCHEME:
        raise ValueError(f"a flags.json without metadata.{METADATA_KEY} means {LEGACY_SCHEME}")
    weight = on_weight(percentage)
    flag: dict[str, Any] = {
        "state": "ENABLED",
        "variants": {ON_VARIANT: True, OFF_VARIANT: False},
        "defaultVariant": OFF_VARIANT,
        # Not read by flagd (its evaluator buckets one way); ramp.flags reads it, so an app
        # buckets as the fleet chose with no code change.
        "metadata": {METADATA_KEY: scheme},
    }
    if not name_scheme:
        del flag["metadata"]
    if enabled:
        fractional = {"fractional": [[ON_VARIANT, weight], [OFF_VARIANT, ON_WEIGHT_TOTAL - weight]]}
        flag["targeting"] = fractional
        if audiences and weight < ON_WEIGHT_TOTAL:
            flag["targeting"] = {"if": [audience_condition(audiences), ON_VARIANT, fractional]}
            flag.setdefault("metadata", {})[AUDIENCES_KEY] = ",".join(a[0] for a in audiences)
    return {"$schema": FLAGD_SCHEMA, "flags": {key: flag}}


def audience_condition(audiences: tuple[AudienceRule, ...]) -> dict[str, Any]:
    """The JSONLogic that is true for a member of any of ``audiences``."""
    rules: list[dict[str, Any]] = []
    for _, attribute, matcher, values in audiences:
        operator = _OPERATORS[matcher]
        if operator == "in":
            rules.append({"in": [{"var": attribute}, list(values)]})
        else:
            rules += [{operator: [{"var": attribute}, value]} for value in values]
    return {"or": rules}


def audiences_named(flag: Mapping[str, Any]) -> tuple[str, ...]:
    """The audiences a flag definition read from flags.json says its targeting serves."""
    metadata = flag.get("metadata")
    named = metadata.get(AUDIENCES_KEY) if isinstance(metadata, Mapping) else None
    if not named:
        return ()
    if not isinstance(named, str):
        raise ValueError(f"metadata.{AUDIENCES_KEY} must be a string, not {named!r}")
    return tuple(named.split(","))


@functools.lru_cache(maxsize=4096)
def render_flags_json(
    key: str,
    enabled: bool,
    percentage: float,
    bucketing: str | None = None,
    *,
    name_scheme: bool = True,
    audiences: tuple[AudienceRule, ...] = (),
) -> str:
    """:func:`build_flag_definition` as deterministic JSON: sorted keys, indent 2, final newline.
    Cached: every analysis compares the ConfigMap with the same few documents."""
    document = build_flag_definition(
        key, enabled, percentage, bucketing, name_scheme=name_scheme, audiences=audiences
    )
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


class NotAFlagSet(ValueError):
    """flags.json holds something that is not a flagd flag set: Ramp will not write over it."""


@functools.lru_cache(maxsize=4096)
def parse_flag_set(text: str) -> Mapping[str, Any]:
    """flags.json as a flagd flag set: a JSON object whose ``flags``, when present, is an object.
    An empty file is an empty set. Cached (every analysis reads the same few files): the result
    is shared, never to be changed. Raises :class:`NotAFlagSet` saying what is wrong."""
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except ValueError as e:
        raise NotAFlagSet(f"not JSON ({e})") from e
    if not isinstance(document, dict):
        raise NotAFlagSet(f"a JSON {type(document).__name__}, not an object")
    if not isinstance(document.get("flags", {}), dict):
        raise NotAFlagSet('its "flags" is not an object')
    return document


@functools.lru_cache(maxsize=4096)
def flag_in(text: str, key: str) -> str | None:
    """Flag ``key`` of flags.json ``text`` as canonical JSON (sorted keys: two flags are the same
    JSON exactly when these are equal; Python's ``==`` would take ``true`` for ``1``); None when
    the file has no such flag. Cached. Raises :class:`NotAFlagSet`.

    ``flag_in(render_flags_json(key, ...), key)`` is the canonical JSON of Ramp's flag."""
    flag = (parse_flag_set(text).get("flags") or {}).get(key)
    return None if flag is None else json.dumps(flag, sort_keys=True)


def merge_flag(text: str | None, key: str, flag: str, removed: Collection[str] = ()) -> str:
    """flags.json ``text`` (None: no file yet) with flag ``key`` set to ``flag`` (canonical JSON,
    see :func:`flag_in`) and the flags named in ``removed`` taken out; every other flag and
    top-level key (``$schema``, ``$evaluators``, ``metadata``...) keeps its JSON value and its
    place. A file that already says exactly this is returned as it is, byte for byte.

    Rendered with indent 2 in document order, Ramp's flag with sorted keys: a file holding only
    Ramp's flag is byte for byte :func:`render_flags_json`. Raises :class:`NotAFlagSet` when
    ``text`` is not a flag set (Ramp must not replace someone's file it cannot read).
    """
    current = parse_flag_set(text or "")
    flags: dict[str, Any] = dict(current.get("flags") or {})
    stale = any(k in flags for k in removed if k != key)
    if text is not None and not stale and flag_in(text, key) == flag:
        return text
    for gone in removed:
        if gone != key:
            flags.pop(gone, None)
    flags[key] = json.loads(flag)  # sorted keys, as the canonical JSON has them
    document: dict[str, Any] = dict(current) if current else {"$schema": FLAGD_SCHEMA}
    document["flags"] = flags
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def scheme_of(flag: Mapping[str, Any]) -> str:
    """The scheme a flag definition read from flags.json was written for: the one its metadata
    names, :data:`LEGACY_SCHEME` when it names none (written before schemes existed)."""
    metadata = flag.get("metadata")
    if metadata is None:
        return LEGACY_SCHEME
    if not isinstance(metadata, Mapping):
        raise ValueError(f"flag metadata must be an object, not {type(metadata).__name__}")
    scheme = metadata.get(METADATA_KEY, LEGACY_SCHEME)
    if scheme not in SCHEMES:
        raise ValueError(f"metadata.{METADATA_KEY}: unknown bucketing scheme {scheme!r}")
    return str(scheme)


__all__ = [
    "AUDIENCES_KEY",
    "FLAGD_SCHEMA",
    "OFF_VARIANT",
    "ON_VARIANT",
    "ON_WEIGHT_TOTAL",
    "AudienceRule",
    "NotAFlagSet",
    "audience_condition",
    "audiences_named",
    "build_flag_definition",
    "flag_in",
    "merge_flag",
    "on_weight",
    "parse_flag_set",
    "render_flags_json",
    "scheme_of",
]
