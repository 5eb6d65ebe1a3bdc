"""How a flagd evaluator puts a targeting key in a bucket for a ``fractional`` flag.

flagd implementations do not all agree, so Ramp names each way (a *scheme*) after what it
matches and writes its name in the flag's metadata (``"metadata": {"bucketing": NAME}``):

``FlagdGoCore``
    ``github.com/open-feature/flagd/core`` v0.12.x, which the flagd daemon and sidecar, and so
    every RPC provider, and the Go in-process provider use (the conformance suite's
    ``@fractional-v1``): murmur3 (seed 0) of the string ``flagKey + targetingKey``, as a signed
    32-bit int, ``bucket = abs(hash) / MaxInt32 * 100``, compared in floating point with the
    cumulative percentages ``100 * weight / totalWeight``.
``FlagdSuiteV2``
    The conformance suite's ``@fractional-v2`` (open-feature/flagd-testbed): the same string,
    unsigned hash, ``bucket = (hash * totalWeight) >> 32`` against the cumulative weights.
``PythonProviderCBOR``
    ``openfeature-provider-flagd`` 0.6.x (``openfeature-flagd-core`` 2.0.0): murmur3 of the
    canonical CBOR encoding of ``[flagKey, targetingKey]``, unsigned,
    ``bucket = (hash * totalWeight) >> 32``. A flags.json without the metadata (written by Ramp
    before schemes existed) means this scheme.

The CBOR of two text strings is encoded here, so the module needs only ``mmh3``; the tests check
it byte for byte against ``cbor2``.
"""

from __future__ import annotations

from collections.abc import Sequence

import mmh3

BUCKETS = 10000
"""Number of buckets :func:`bucket` spreads targeting keys over (Ramp's total weight)."""

FLAGD_GO_CORE = "FlagdGoCore"
FLAGD_SUITE_V2 = "FlagdSuiteV2"
PYTHON_PROVIDER_CBOR = "PythonProviderCBOR"
SCHEMES = (FLAGD_GO_CORE, FLAGD_SUITE_V2, PYTHON_PROVIDER_CBOR)
"""Every bucketing scheme :mod:`ramp.flags` implements."""

DEFAULT_SCHEME = FLAGD_GO_CORE
"""What Ramp writes when ``spec.flag.bucketing`` is not set: the scheme the most measured
implementations agree on (bench/bucketing.py)."""

LEGACY_SCHEME = PYTHON_PROVIDER_CBOR
"""What a Ramp flags.json without ``metadata.bucketing`` was written for."""

METADATA_KEY = "bucketing"
"""Flag metadata key naming the scheme in flags.json."""

_MAX_INT32 = 2_147_483_647

_CBOR_SMALL_TEXT_HEADS = [bytes((0x60 | n,)) for n in range(24)]


def cbor_text(value: str) -> bytes:
    """Canonical (shortest-head) CBOR encoding of a text string; raises UnicodeEncodeError."""
    data = value.encode("utf-8")
    n = len(data)
    if n < 24:
        return _CBOR_SMALL_TEXT_HEADS[n] + data
    if n < 0x100:
        return bytes((0x78, n)) + data
    if n < 0x10000:
        return b"\x79" + n.to_bytes(2, "big") + data
    if n < 0x100000000:
        return b"\x7a" + n.to_bytes(4, "big") + data
    return b"\x7b" + n.to_bytes(8, "big") + data


def utf8_text(value: str) -> bytes:
    """UTF-8 as Go has it after decoding JSON: a lone surrogate became U+FFFD."""
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value).encode()


def bucketing_prefix(flag_key: str, scheme: str = PYTHON_PROVIDER_CBOR) -> bytes:
    """The hashed bytes before the targeting key's (for CBOR: the array head and the flag key).

    Raises UnicodeEncodeError for CBOR when the flag key is not valid UTF-8.
    """
    if scheme == PYTHON_PROVIDER_CBOR:
        return b"\x82" + cbor_text(flag_key)
    return utf8_text(flag_key)


def targeting_bytes(targeting_key: str, scheme: str) -> bytes:
    """The hashed bytes of the targeting key (raises UnicodeEncodeError as above)."""
    if scheme == PYTHON_PROVIDER_CBOR:
        return cbor_text(targeting_key)
    return utf8_text(targeting_key)


def fraction_index(data: bytes, weights: Sequence[int], scheme: str) -> int | None:
    """Index of the fraction (of these ``weights``, in order) that ``data`` falls in, the way
    ``scheme`` computes it; None when it falls in none (flagd then serves the default)."""
    if scheme == FLAGD_GO_CORE:
        signed = mmh3.hash(data, 0, True)
        point = abs(float(signed)) / _MAX_INT32 * 100  # Go: math.Abs(float64(h)) / MaxInt32 * 100
        total = sum(weights)
        end = 0.0
        for i, weight in enumerate(weights):
            end += 100 * float(weight) / float(total) if total else 0.0
            if point < end:
                return i
        return None
    b = bucket_of(data, sum(weights))
    cumulative = 0
    for i, weight in enumerate(weights):
        cumulative += weight
        if b < cumulative:
            return i
    return None


def bucketing_bytes(flag_key: str, targeting_key: str, scheme: str = PYTHON_PROVIDER_CBOR) -> bytes:
    """What ``scheme`` hashes for the shorthand ``fractional``: for CBOR
    ``cbor2.dumps([flag_key, targeting_key], canonical=True)``, else the UTF-8 of the two keys
    concatenated."""
    return bucketing_prefix(flag_key, scheme) + targeting_bytes(targeting_key, scheme)


def bucket_of(data: bytes, total_weight: int) -> int:
    """The bucket (``0 <= bucket < total_weight``) of already encoded bucketing bytes."""
    return (mmh3.hash(data, 0, False) * total_weight) >> 32


def bucket(flag_key: str, targeting_key: str, total_weight: int = BUCKETS) -> int:
    """The bucket (``0 <= bucket < total_weight``) of ``targeting_key`` in the
    ``PythonProviderCBOR`` scheme (provider 0.6.x); :func:`is_on` decides in any scheme.

    With Ramp's total weight of 10000 a user is on at P % exactly when the bucket is below
    ``round(P * 100)``. Raises ValueError for an empty targeting key or one that is not valid
    UTF-8 (flagd gives those the default variant instead of bucketing them).
    """
    if not isinstance(targeting_key, str) or not targeting_key:
        raise ValueError("targeting key must be a non-empty string")
    if total_weight <= 0:
        raise ValueError("total weight must be positive")
    try:
        data = bucketing_bytes(flag_key, targeting_key)
    except UnicodeEncodeError as e:
        raise ValueError(f"key is not encodable as UTF-8: {e}") from e
    return bucket_of(data, total_weight)


def is_on(
    flag_key: str, targeting_key: str, percentage: float, scheme: str = DEFAULT_SCHEME
) -> bool:
    """Whether ``targeting_key`` gets the feature at ``percentage`` in Ramp's flags.json written
    for ``scheme`` (an "on" weight of ``round(percentage * 100)`` out of :data:`BUCKETS`, listed
    first), without reading the file: for apps that take the percentage from env keys."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown bucketing scheme {scheme!r}; one of {', '.join(SCHEMES)}")
    if not isinstance(targeting_key, str) or (not targeting_key and scheme != FLAGD_GO_CORE):
        return False
    weight = round(percentage * 100)
    try:
        data = bucketing_bytes(flag_key, targeting_key, scheme)
    except UnicodeEncodeError:
        return False
    return fraction_index(data, (weight, BUCKETS - weight), scheme) == 0
