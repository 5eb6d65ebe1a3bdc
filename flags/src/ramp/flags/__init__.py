"""Decide per user from the ``flags.json`` a Ramp Rollout publishes, as flagd would.

This is the whole of the ``ramp-flags`` distribution: applications install it alone
(``pip install ramp-flags``); it needs only the standard library and ``mmh3``.
"""

from __future__ import annotations

from ramp.flags.bucketing import (
    BUCKETS,
    DEFAULT_SCHEME,
    FLAGD_GO_CORE,
    FLAGD_SUITE_V2,
    PYTHON_PROVIDER_CBOR,
    SCHEMES,
    bucket,
    bucketing_bytes,
    is_on,
)
from ramp.flags.file import OFF_VARIANT, ON_VARIANT, FlagFile
from ramp.flags.metrics import VARIANT_LABELS, OutcomeCounter, variant_labels

__all__ = [
    "BUCKETS",
    "DEFAULT_SCHEME",
    "FLAGD_GO_CORE",
    "FLAGD_SUITE_V2",
    "OFF_VARIANT",
    "ON_VARIANT",
    "PYTHON_PROVIDER_CBOR",
    "SCHEMES",
    "VARIANT_LABELS",
    "FlagFile",
    "OutcomeCounter",
    "bucket",
    "bucketing_bytes",
    "is_on",
    "variant_labels",
]
