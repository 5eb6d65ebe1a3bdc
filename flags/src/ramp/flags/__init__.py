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
from ramp.flags.dual_run import Comparison, DualRun, Fallback, dual_run, values_match, with_fallback
from ramp.flags.file import OFF_VARIANT, ON_VARIANT, FlagFile
from ramp.flags.metrics import VARIANT_LABELS, OutcomeCounter, variant_labels
from ramp.flags.served import SERVED_PERCENTAGE, export_served_percentage, served_percentage

__all__ = [
    "BUCKETS",
    "DEFAULT_SCHEME",
    "FLAGD_GO_CORE",
    "FLAGD_SUITE_V2",
    "OFF_VARIANT",
    "ON_VARIANT",
    "PYTHON_PROVIDER_CBOR",
    "SCHEMES",
    "SERVED_PERCENTAGE",
    "VARIANT_LABELS",
    "Comparison",
    "DualRun",
    "Fallback",
    "FlagFile",
    "OutcomeCounter",
    "bucket",
    "bucketing_bytes",
    "dual_run",
    "export_served_percentage",
    "is_on",
    "served_percentage",
    "values_match",
    "variant_labels",
    "with_fallback",
]
