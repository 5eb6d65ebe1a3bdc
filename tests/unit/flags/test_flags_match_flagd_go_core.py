"""In the default scheme, `ramp.flags` decides exactly as flagd's Go core on Ramp's flags.json.

The Go core (github.com/open-feature/flagd/core, built by testbed/build-flagd.sh) is what the
flagd daemon and sidecar evaluate with, so every RPC provider in every language, and the Go
in-process provider. A user on in a Python service must be on in those services too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ramp.flags import DEFAULT_SCHEME, FLAGD_GO_CORE, FlagFile
from ramp.k8s.flagd import render_flags_json
from tests.support.flagd_go import build_flagd_eval, core_version, decisions
from tests.unit.flags.test_flags_match_flagd_provider import EDGE_KEYS, _random_keys

FLAG = "async-reports"
KEYS = _random_keys(3000, seed=14) + EDGE_KEYS


@pytest.fixture(scope="module")
def flagd_eval() -> Path:
    binary = build_flagd_eval()
    assert core_version(binary) == "v0.12.1"
    return binary


def test_the_default_scheme_is_the_flagd_go_cores() -> None:
    assert DEFAULT_SCHEME == FLAGD_GO_CORE


@pytest.mark.parametrize(
    ("enabled", "percentage"),
    [(True, p) for p in (0, 0.01, 5, 12.5, 25, 33.33, 50, 99.99, 100)] + [(False, 50)],
)
def test_every_decision_equals_flagd_go_core(
    flagd_eval: Path, tmp_path: Path, enabled: bool, percentage: float
) -> None:
    path = tmp_path / "flags.json"
    path.write_text(render_flags_json(FLAG, enabled, percentage), encoding="utf-8")
    expected = decisions(flagd_eval, path, FLAG, KEYS)
    flags = FlagFile(path)
    actual = [flags.is_enabled(FLAG, key) for key in KEYS]
    mismatches = [(k[:20], e, a) for k, e, a in zip(KEYS, expected, actual, strict=True) if e != a]
    assert mismatches == []
    if enabled and 0 < percentage < 100:
        share = 100 * sum(actual[:3000]) / 3000
        assert abs(share - percentage) < 3.5, f"{share}% on at {percentage}%"


def test_the_go_core_buckets_an_empty_targeting_key_and_so_does_ramp_flags(
    flagd_eval: Path, tmp_path: Path
) -> None:
    path = tmp_path / "flags.json"
    path.write_text(render_flags_json(FLAG, True, 100), encoding="utf-8")
    assert decisions(flagd_eval, path, FLAG, [""]) == [True]
    assert FlagFile(path).is_enabled(FLAG, "") is True
