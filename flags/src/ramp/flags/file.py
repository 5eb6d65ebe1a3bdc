"""Read a Ramp flag from flagd's ``flags.json`` and decide per user, exactly as flagd does.

Buckets as :mod:`ramp.flags.bucketing` says; the first variant whose cumulative weight exceeds
the bucket wins.

Supported subset, which is what Ramp writes (:mod:`ramp.k8s.flagd`): ``state``,
``variants``, ``defaultVariant``, ``metadata`` (``bucketing`` names the scheme) and
``targeting: {"fractional": [[variant, weight], ...]}`` in the shorthand form (no explicit
bucketing expression), and that fractional inside ``{"if": [AUDIENCES, variant, ...]}`` for a
Rollout's audiences (:mod:`ramp.flags.targeting` says which conditions, decided as the flagd Go
core decides them). Any other targeting is reported once and evaluates to off. For that
subset every decision equals the implementation the scheme is named after: in
``PythonProviderCBOR`` the provider's ``get_boolean_value(flag_key, False,
EvaluationContext(targeting_key=...))``, including its corner cases (a missing or empty
targeting key, or one that is not valid UTF-8, gets the default variant; a ``DISABLED`` flag, a
variant that is not a boolean and an unknown variant give off); in ``FlagdGoCore`` the flagd Go
core's (which buckets an empty targeting key as the flag key alone).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ramp.flags.bucketing import (
    FLAGD_GO_CORE,
    LEGACY_SCHEME,
    METADATA_KEY,
    SCHEMES,
    bucketing_prefix,
    fraction_index,
    targeting_bytes,
)
from ramp.flags.metrics import variant_labels
from ramp.flags.targeting import Rule, Unsupported, compile_audiences, is_member

ON_VARIANT = "on"
"""Variant Ramp's flags.json serves to users who get the feature."""
OFF_VARIANT = "off"
"""Variant of everyone else (and the default variant)."""

logger = logging.getLogger("ramp.flags")

_MAX_WEIGHT_SUM = 2_147_483_647  # flagd rejects fractional weights summing to more than MaxInt32
_FLAG_FIELDS = frozenset(
    {"state", "variants", "defaultVariant", "targeting", "metadata", "source", "selector"}
)


class _InvalidFlags(ValueError):
    """The document is not a flagd flag set (flagd would reject the whole file)."""


@dataclass(frozen=True)
class _Flag:
    default: bool
    """Value when targeting does not pick a variant (or there is no targeting)."""
    prefix: bytes | None
    """Bucketing bytes before the targeting key; None when the flag key is not encodable."""
    scheme: str
    """How targeting keys are bucketed (:mod:`ramp.flags.bucketing`), from the flag's metadata."""
    weights: tuple[int, ...]
    values: tuple[bool, ...] | None
    """The value of each fraction, by weight; None for no (or no usable) fractional targeting."""
    on_share: float
    """Percentage of (bucketed) targeting keys that get True."""
    problem: str | None = None
    """Why the flag always evaluates to off, reported once."""
    audiences: tuple[Rule, ...] = ()
    """Who gets ``member_value`` ahead of the fractional (:mod:`ramp.flags.targeting`)."""
    member_value: bool = False


def _compile_flag(key: str, spec: Any) -> _Flag:
    if not isinstance(spec, dict):
        raise _InvalidFlags(f"flag {key!r} is not an object")
    unknown = set(spec) - _FLAG_FIELDS
    if unknown:
        raise _InvalidFlags(f"flag {key!r} has unknown fields {sorted(unknown)}")
    state = spec.get("state")
    if state not in ("ENABLED", "DISABLED"):
        raise _InvalidFlags(f"flag {key!r} has invalid state {state!r}")
    variants = spec.get("variants")
    if not variants or not isinstance(variants, dict):
        raise _InvalidFlags(f"flag {key!r} has no variants")
    default_variant = spec.get("defaultVariant")
    if default_variant and not isinstance(default_variant, (str, bool)):
        raise _InvalidFlags(f"flag {key!r} has invalid defaultVariant {default_variant!r}")
    metadata = spec.get("metadata")
    _check_metadata(f"flag {key!r}", metadata)
    scheme = (metadata or {}).get(METADATA_KEY, LEGACY_SCHEME)
    if scheme not in SCHEMES:
        return _unsupported(
            None,
            f"flag {key!r}: metadata.{METADATA_KEY} names an unknown bucketing scheme "
            f"{scheme!r} (this ramp-flags knows {', '.join(SCHEMES)}; upgrade ramp-flags)",
        )

    try:
        prefix: bytes | None = bucketing_prefix(key, scheme)
    except UnicodeEncodeError:
        prefix = None

    if state == "DISABLED":
        return _Flag(False, prefix, scheme, (), None, 0.0, f"flag {key!r} is DISABLED; serving off")

    problems: list[str] = []
    default = False
    if isinstance(default_variant, bool) or default_variant:  # flagd: "" and null mean none
        default = _lookup(key, variants, default_variant, problems)
    static = _Flag(default, prefix, scheme, (), None, 100.0 if default else 0.0)

    targeting = spec.get("targeting")
    if not targeting:
        return dataclasses.replace(static, problem=_first(problems))
    try:
        if isinstance(targeting, dict) and "if" in targeting:
            return _compile_audiences(key, targeting, variants, static, problems)
        return _compile_fractional(key, targeting, variants, static, problems)
    except Unsupported as e:
        return _unsupported(prefix, f"flag {key!r}: {e}")


def _compile_audiences(
    key: str,
    targeting: dict[str, Any],
    variants: Mapping[str, Any],
    static: _Flag,
    problems: list[str],
) -> _Flag:
    """``{"if": [audiences, variant, {"fractional": ...}]}``, as Ramp writes audiences."""
    branches = targeting["if"]
    try:
        if len(targeting) != 1 or not isinstance(branches, list) or len(branches) != 3:
            raise Unsupported("an if that is not [condition, variant, fractional]")
        condition, then, otherwise = branches
        if not isinstance(then, str):
            raise Unsupported("an if whose then-branch is not a variant name")
        rules = compile_audiences(condition)
    except Unsupported as e:
        raise Unsupported(
            f"targeting ramp.flags cannot evaluate exactly as flagd does ({e}); it reads the "
            "audiences Ramp writes"
        ) from e
    member = _lookup(key, variants, then, problems)
    fractional = _compile_fractional(key, otherwise, variants, static, problems)
    return dataclasses.replace(
        fractional, audiences=rules, member_value=member, problem=_first(problems)
    )


def _compile_fractional(
    key: str, targeting: Any, variants: Mapping[str, Any], static: _Flag, problems: list[str]
) -> _Flag:
    prefix, scheme, default = static.prefix, static.scheme, static.default
    fractions = targeting.get("fractional") if isinstance(targeting, dict) else None
    if not isinstance(targeting, dict) or len(targeting) != 1 or not isinstance(fractions, list):
        raise Unsupported("unsupported targeting")
    if fractions and not isinstance(fractions[0], list):
        raise Unsupported(
            "fractional with a bucketing expression is not supported (Ramp writes the "
            "shorthand form)"
        )
    if any(isinstance(f, list) and f and isinstance(f[0], (dict, list)) for f in fractions):
        raise Unsupported("unsupported targeting")

    weights: list[int] = []
    values: list[bool] = []
    end = on = 0
    for fraction in fractions:
        if not isinstance(fraction, list) or not 1 <= len(fraction) <= 2:
            values = []  # flagd: invalid fraction -> no variant for anyone -> default variant
            break
        weight = fraction[1] if len(fraction) == 2 else 1
        if isinstance(weight, bool) or not isinstance(weight, int):
            values = []
            break
        weight = max(0, weight)  # flagd clamps negative weights
        # A null variant makes fractional return null: the default variant applies.
        value = default if fraction[0] is None else _lookup(key, variants, fraction[0], problems)
        end += weight
        on += weight if value else 0
        weights.append(weight)
        values.append(value)
    if not values or not 0 < end <= _MAX_WEIGHT_SUM:
        # flagd logs and returns no variant for every key: the default variant applies.
        return dataclasses.replace(static, problem=_first(problems))
    share = on * 100 / end
    return _Flag(default, prefix, scheme, tuple(weights), tuple(values), share, _first(problems))


def _lookup(key: str, variants: Mapping[str, Any], variant: Any, problems: list[str]) -> bool:
    """The boolean a variant resolves to; False (flagd: an evaluation error) if there is none."""
    # flagd turns what targeting returned into a variant name this way before the lookup.
    if isinstance(variant, bool):
        name = str(variant).lower()
    else:
        name = variant if isinstance(variant, str) else str(variant)
    value = variants.get(name) if name else None  # flagd: "" is no variant, an error here
    if isinstance(value, bool):
        return value
    problems.append(f"flag {key!r}: variant {name!r} is not a boolean variant; serving off")
    return False


def _first(problems: list[str]) -> str | None:
    return problems[0] if problems else None


def _unsupported(prefix: bytes | None, problem: str) -> _Flag:
    return _Flag(False, prefix, LEGACY_SCHEME, (), None, 0.0, f"{problem}; serving off")


def _check_metadata(where: str, metadata: Any, *, required: bool = False) -> None:
    if not metadata and not required:  # flagd checks flag metadata only when it is truthy
        return
    if not isinstance(metadata, dict):
        raise _InvalidFlags(f"{where} has metadata that is not an object")
    for name, value in metadata.items():
        if not name or value is None or not isinstance(value, (str, int, float, bool)):
            raise _InvalidFlags(f"{where} has invalid metadata {name!r}: {value!r}")


def _compile(document: Any) -> dict[str, _Flag]:
    if not isinstance(document, dict):
        raise _InvalidFlags("the document is not a JSON object")
    flags = document.get("flags", {})
    if not isinstance(flags, dict):
        raise _InvalidFlags("`flags` is not an object")
    _check_metadata("the flag set", document.get("metadata", {}), required=True)
    return {key: _compile_flag(key, spec) for key, spec in flags.items()}


_Signature = tuple[int, int, int, int]


def _signature(st: os.stat_result) -> _Signature:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class FlagFile:
    """A flagd ``flags.json`` (a ConfigMap mounted as a directory), re-read when it changes.

    The file is read when the object is created and then, at most every ``reload_interval``
    seconds, on the next call: ``os.stat`` through the path (so through the kubelet's
    ``..data`` symlink swap) and a re-read when device, inode, size or mtime changed. Mount the
    ConfigMap as a directory; a ``subPath`` mount never sees updates.

    Never raises on bad input. When the file is missing, unreadable, not JSON or not a flagd
    flag set, every decision is off (the safe side of a rollout) until a good file is read,
    with a warning. With ``keep_last_good=True`` a failure after a good read keeps serving the
    last good content instead, as flagd's own file watcher does: a ConfigMap update is an
    atomic symlink swap, so a failed read there is a bad write rather than a rollback. Each
    distinct problem is logged once as a warning on the ``ramp.flags`` logger (again if it
    recurs after a good read); flag-level problems (absent, ``DISABLED``, unsupported
    targeting) are logged once per flag and problem.

    Thread-safe: one caller re-reads while the others keep using the current content.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        reload_interval: float = 1.0,
        keep_last_good: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self.reload_interval = reload_interval
        self.keep_last_good = keep_last_good
        self._flags: dict[str, _Flag] | None = None
        self._signature: _Signature | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self.refresh()

    def is_enabled(
        self,
        flag_key: str,
        targeting_key: str | None,
        attributes: Mapping[str, Any] | None = None,
    ) -> bool:
        """Whether ``targeting_key`` (a user, tenant, ...; None: the context has none) gets the
        feature; off on any problem. ``attributes`` is the rest of the evaluation context
        (``{"email": ...}``), which a Rollout's audiences may match on."""
        if time.monotonic() >= self._next_check:
            self._maybe_reload()
        flags = self._flags
        if flags is None:
            return False
        flag = flags.get(flag_key)
        if flag is None:
            self._warn(f"flag {flag_key!r} is not in {self.path}; serving off")
            return False
        if flag.problem is not None:
            self._warn(flag.problem)
        if flag.audiences and is_member(flag.audiences, targeting_key, attributes or {}):
            return flag.member_value
        values = flag.values
        if values is None:
            return flag.default
        # The flagd Go core buckets an empty targeting key (as the flag key alone); the others
        # serve the default variant.
        if not isinstance(targeting_key, str) or (
            not targeting_key and flag.scheme != FLAGD_GO_CORE
        ):
            self._warn(f"flag {flag_key!r}: no targeting key; serving the default variant")
            return flag.default
        try:
            if flag.prefix is None:
                raise UnicodeEncodeError("utf-8", flag_key, 0, 1, "flag key")
            data = flag.prefix + targeting_bytes(targeting_key, flag.scheme)
        except UnicodeEncodeError:
            self._warn(f"flag {flag_key!r}: a key is not valid UTF-8; serving the default variant")
            return flag.default
        index = fraction_index(data, flag.weights, flag.scheme)
        return flag.default if index is None else values[index]

    def variant(
        self,
        flag_key: str,
        targeting_key: str | None,
        attributes: Mapping[str, Any] | None = None,
    ) -> str:
        """``"on"`` or ``"off"``: the variant ``targeting_key`` gets, the same decision as
        :meth:`is_enabled`. Label outcome counters with it (see :mod:`ramp.flags.metrics`)."""
        return ON_VARIANT if self.is_enabled(flag_key, targeting_key, attributes) else OFF_VARIANT

    def labels(
        self,
        flag_key: str,
        targeting_key: str | None,
        attributes: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """Prometheus labels for one unit of work: ``counter.labels(**flags.labels(k, user))``.

        ``{"feature_flag_key": flag_key, "feature_flag_result_variant": "on" | "off"}``.
        """
        return variant_labels(flag_key, self.variant(flag_key, targeting_key, attributes))

    def percentage(self, flag_key: str) -> float | None:
        """Share (0..100) of targeting keys that get the feature; None if the flag is unknown."""
        if time.monotonic() >= self._next_check:
            self._maybe_reload()
        flags = self._flags
        flag = None if flags is None else flags.get(flag_key)
        return None if flag is None else flag.on_share

    def refresh(self) -> None:
        """Check the file now (blocking), instead of waiting for the reload interval."""
        with self._lock:
            self._next_check = time.monotonic() + self.reload_interval
            self._check()

    def _maybe_reload(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is checking; use the current content meanwhile
        try:
            now = time.monotonic()
            if now >= self._next_check:
                self._next_check = now + self.reload_interval
                self._check()
        finally:
            self._lock.release()

    def _check(self) -> None:
        doing = "stat"
        try:
            signature = _signature(os.stat(self.path))
            if signature == self._signature:
                return
            doing = "read"
            with open(self.path, "rb") as f:
                signature = _signature(os.fstat(f.fileno()))
                raw = f.read()
        except OSError as e:
            self._signature = None
            if isinstance(e, FileNotFoundError):
                self._file_problem(f"{self.path} does not exist")
            else:
                self._file_problem(f"cannot {doing} {self.path}: {e.strerror or e}")
            return
        self._signature = signature
        try:
            flags = _compile(json.loads(raw))
        except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, invalid
            self._file_problem(f"{self.path} is not a valid flagd flag set: {e}")
            return
        self._warned.clear()
        self._flags = flags

    def _file_problem(self, message: str) -> None:
        if self._flags is not None and self.keep_last_good:
            self._warn(f"{message}; keeping the last good flags")
        else:
            self._flags = None
            self._warn(f"{message}; serving off")

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            logger.warning("%s", message)


__all__ = ["FlagFile"]
