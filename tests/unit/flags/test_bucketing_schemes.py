"""Every bucketing scheme keeps Ramp's promises: raising the percentage only adds users, and the
share of users on is the percentage within sampling error. The scheme travels in flags.json."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramp.api.spec import BucketingScheme
from ramp.flags import SCHEMES, FlagFile, is_on
from ramp.k8s.flagd import render_flags_json

FLAG = "async-reports"
SAMPLE = [f"user-{i}" for i in range(20_000)]
percentages = st.integers(0, 10_000).map(lambda w: w / 100)


def test_the_api_offers_exactly_the_schemes_ramp_flags_implements() -> None:
    assert get_args(BucketingScheme) == SCHEMES


@pytest.mark.parametrize("scheme", SCHEMES)
@settings(max_examples=400, deadline=None)
@given(
    flag_key=st.text(min_size=1, max_size=40),
    targeting_key=st.text(min_size=1, max_size=80),
    low=percentages,
    high=percentages,
)
def test_raising_the_percentage_only_adds_users(
    scheme: str, flag_key: str, targeting_key: str, low: float, high: float
) -> None:
    low, high = min(low, high), max(low, high)
    assert is_on(flag_key, targeting_key, low, scheme) <= is_on(
        flag_key, targeting_key, high, scheme
    )
    assert not is_on(flag_key, targeting_key, 0, scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("percentage", [1, 5, 25, 50, 75, 99])
def test_share_of_users_on_matches_the_percentage(scheme: str, percentage: float) -> None:
    on = sum(is_on(FLAG, key, percentage, scheme) for key in SAMPLE)
    p = percentage / 100
    sigma = math.sqrt(p * (1 - p) / len(SAMPLE))
    share = on / len(SAMPLE)
    assert abs(share - p) < 4 * sigma, f"{scheme}: {share:.4f} on at {percentage}%"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_flag_file_reads_the_scheme_from_flags_json(scheme: str, tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(render_flags_json(FLAG, True, 25, scheme), encoding="utf-8")
    flags = FlagFile(path)
    keys = SAMPLE[:3000]
    assert [flags.is_enabled(FLAG, k) for k in keys] == [is_on(FLAG, k, 25, scheme) for k in keys]


def test_schemes_put_different_users_on() -> None:
    on = {s: {k for k in SAMPLE[:5000] if is_on(FLAG, k, 25, s)} for s in SCHEMES}
    for a in SCHEMES:
        for b in SCHEMES:
            if a < b:
                assert on[a] != on[b], f"{a} and {b} agree: the scheme would not matter"


def test_unknown_scheme_in_flags_json_is_off_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ramp.flags")
    path = tmp_path / "flags.json"
    text = render_flags_json(FLAG, True, 100).replace('"FlagdGoCore"', '"FlagdV9"')
    path.write_text(text, encoding="utf-8")
    assert FlagFile(path).is_enabled(FLAG, "user-1") is False
    assert any("unknown bucketing scheme 'FlagdV9'" in r.getMessage() for r in caplog.records)


def test_unknown_scheme_is_refused_when_writing() -> None:
    with pytest.raises(ValueError, match="unknown bucketing scheme 'Crc32'"):
        render_flags_json(FLAG, True, 5, "Crc32")
