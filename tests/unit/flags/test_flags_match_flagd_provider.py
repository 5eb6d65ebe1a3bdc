"""`ramp.flags` decides exactly as OpenFeature's flagd provider (file mode) on Ramp's flags.json.

The reference is the real provider (openfeature-sdk 0.10.0, openfeature-provider-flagd 0.6.1),
reading the same file through the SDK, over thousands of targeting keys including unicode and
the edge cases flagd treats specially (empty key, lone surrogate, CBOR length-head boundaries).
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.contrib.tools.flagd.core.targeting.custom_ops import fractional
from openfeature.evaluation_context import EvaluationContext

from ramp.flags import BUCKETS, PYTHON_PROVIDER_CBOR, FlagFile, bucket, bucketing_bytes
from ramp.k8s.flagd import ON_WEIGHT_TOTAL, build_flag_definition, on_weight, render_flags_json
from tests.support.eventually import eventually

FLAG = "async-reports"
CBOR = PYTHON_PROVIDER_CBOR  # the scheme provider 0.6.1 buckets with
PERCENTAGES = [0, 0.01, 5, 12.5, 33.33, 50, 99.99, 100]

EDGE_KEYS = [
    "",  # flagd: no targeting key -> default variant
    "\ud800",  # not encodable as UTF-8 -> flagd cannot CBOR-encode it -> default variant
    "a" * 23,  # CBOR text heads change at 24, 256 and 65536 bytes
    "a" * 24,
    "é" * 127 + "a",
    "a" * 256,
    "a" * 65535,
    "ü" * 40000,
    " ",
    "0",
    "null",
    "user@example.com",
    "🦊" * 10,
]


def _random_keys(n: int, seed: int = 20240601) -> list[str]:
    rnd = random.Random(seed)
    alphabets = [
        (0x21, 0x7E),  # ASCII
        (0xA0, 0x24F),  # Latin-1 and extended Latin
        (0x300, 0x36F),  # combining marks
        (0x4E00, 0x9FFF),  # CJK
        (0x1F300, 0x1FAFF),  # emoji (4 bytes in UTF-8)
    ]
    keys = []
    for i in range(n):
        if i % 3 == 0:
            keys.append(f"user-{rnd.getrandbits(64):x}")
            continue
        lo, hi = rnd.choice(alphabets)
        keys.append("".join(chr(rnd.randint(lo, hi)) for _ in range(rnd.randint(1, 40))))
    return keys


KEYS = _random_keys(2000) + EDGE_KEYS

# Any text, often with lone surrogates (which flagd cannot CBOR-encode).
any_text = st.text(st.characters(exclude_categories=()) | st.characters(categories=["Cs"]))


class Flagd:
    """OpenFeature clients backed by flagd providers in file mode, one domain per file."""

    def __init__(self) -> None:
        self.providers: list[FlagdProvider] = []

    def client_for(self, path: Path) -> OpenFeatureClient:
        provider = FlagdProvider(
            resolver_type=ResolverType.FILE, offline_flag_source_path=str(path)
        )
        domain = f"ramp-test-{len(self.providers)}"
        api.set_provider_and_wait(provider, domain)
        self.providers.append(provider)
        return api.get_client(domain)

    def shutdown(self) -> None:
        api.shutdown()  # shuts every registered provider down: file watchers stop polling
        for provider in self.providers:
            thread = getattr(getattr(provider.resolver, "connector", None), "thread", None)
            if isinstance(thread, threading.Thread):
                thread.join(timeout=5)  # each exits after its current poll sleep (0.5 s)


@pytest.fixture(scope="module")
def flagd() -> Iterator[Flagd]:
    provider_logger = logging.getLogger("openfeature.contrib")
    level = provider_logger.level
    provider_logger.setLevel(logging.CRITICAL)  # it logs an error per empty/unencodable key
    flagd = Flagd()
    try:
        yield flagd
    finally:
        flagd.shutdown()
        provider_logger.setLevel(level)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def flagd_decisions(
    client: OpenFeatureClient, keys: list[str], default: bool = False
) -> list[bool]:
    return [
        client.get_boolean_value(FLAG, default, EvaluationContext(targeting_key=key))
        for key in keys
    ]


def ramp_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ramp.flags"]


@pytest.mark.parametrize(
    ("enabled", "percentage"),
    [(True, p) for p in PERCENTAGES] + [(False, 0), (False, 50), (False, 100)],
)
def test_every_decision_equals_the_flagd_provider(
    flagd: Flagd, tmp_path: Path, enabled: bool, percentage: float
) -> None:
    path = write(tmp_path / "flags.json", render_flags_json(FLAG, enabled, percentage, CBOR))
    client = flagd.client_for(path)
    flags = FlagFile(path)

    expected = flagd_decisions(client, KEYS)
    actual = [flags.is_enabled(FLAG, key) for key in KEYS]

    mismatches = [(k[:20], e, a) for k, e, a in zip(KEYS, expected, actual, strict=True) if e != a]
    assert mismatches == []
    share = 100 * sum(actual[:2000]) / 2000
    if not enabled or percentage == 0:
        assert not any(actual)
    elif percentage == 100:
        assert all(actual[:2000])
    else:
        assert abs(share - percentage) < 4, f"{share}% on at {percentage}%"
    # Keys flagd cannot bucket get the default variant, "off", whatever the percentage.
    assert flags.is_enabled(FLAG, "") is False
    assert flags.is_enabled(FLAG, "\ud800") is False
    assert flags.percentage(FLAG) == (percentage if enabled else 0.0)


@pytest.mark.parametrize(("enabled", "percentage"), [(False, 100), (True, 0)])
def test_off_even_when_the_caller_default_is_on(
    flagd: Flagd, tmp_path: Path, enabled: bool, percentage: float
) -> None:
    # Why "disabled" is a static default variant, not state DISABLED (which returns the
    # caller's default value).
    path = write(tmp_path / "flags.json", render_flags_json(FLAG, enabled, percentage, CBOR))
    client = flagd.client_for(path)
    assert not any(flagd_decisions(client, KEYS[:300], default=True))


CORNER_CASES: dict[str, dict[str, Any]] = {
    "state DISABLED": {"state": "DISABLED", "variants": {"on": True, "off": False}},
    "static on": {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "on",
    },
    "no default variant": {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "targeting": {"fractional": [["on", 30], ["off", 70]]},
    },
    "default on, uneven weights, implicit weight": {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "on",
        "targeting": {"fractional": [["off", 7], ["on", 3], ["off"], ["on", -5]]},
    },
    "boolean variant names": {
        "state": "ENABLED",
        "variants": {"true": True, "false": False},
        "defaultVariant": "false",
        "targeting": {"fractional": [[True, 1], [False, 2], [None, 1]]},
    },
    "unknown and non-boolean variants": {
        "state": "ENABLED",
        "variants": {"on": True, "off": False, "blue": "blue"},
        "defaultVariant": "on",
        "targeting": {"fractional": [["on", 5], ["nope", 5], ["blue", 5]]},
    },
    "invalid weight": {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "on",
        "targeting": {"fractional": [["on", 50], ["off", 50.5]]},
    },
    "metadata and an empty variant name": {
        "state": "ENABLED",
        "variants": {"on": True, "off": False, "": True},
        "defaultVariant": "",
        "metadata": {"owner": "payments", "ticket": 42},
        "targeting": {"fractional": [["on", 1], [""], ["off", 1]]},
    },
    "empty fractional": {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "on",
        "targeting": {"fractional": []},
    },
}


@pytest.mark.parametrize("name", CORNER_CASES)
def test_flagd_corner_cases_beyond_what_ramp_writes(
    flagd: Flagd, tmp_path: Path, name: str
) -> None:
    document = {"flags": {FLAG: CORNER_CASES[name]}}
    path = write(tmp_path / "flags.json", json.dumps(document))
    client = flagd.client_for(path)
    flags = FlagFile(path)
    keys = KEYS[:400] + EDGE_KEYS

    expected = flagd_decisions(client, keys)
    assert [flags.is_enabled(FLAG, key) for key in keys] == expected


def test_ramp_flags_json_has_the_documented_shape() -> None:
    definition = build_flag_definition(FLAG, True, 33.33, CBOR)
    assert definition == {
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "flags": {
            FLAG: {
                "state": "ENABLED",
                "variants": {"on": True, "off": False},
                "defaultVariant": "off",
                "metadata": {"bucketing": "PythonProviderCBOR"},
                "targeting": {"fractional": [["on", 3333], ["off", 6667]]},
            }
        },
    }
    default = build_flag_definition(FLAG, True, 33.33)["flags"][FLAG]
    assert default["metadata"] == {"bucketing": "FlagdGoCore"}
    assert "targeting" not in build_flag_definition(FLAG, False, 33.33, CBOR)["flags"][FLAG]
    text = render_flags_json(FLAG, True, 33.33, CBOR)
    assert text.endswith("}\n")
    assert json.loads(text) == definition
    assert text == render_flags_json(FLAG, True, 33.33, CBOR)
    for bad in (-0.01, 100.01, float("nan")):
        with pytest.raises(ValueError, match="between 0 and 100"):
            build_flag_definition(FLAG, True, bad)


def test_raising_the_percentage_only_adds_users(tmp_path: Path) -> None:
    previous: set[str] = set()
    for percentage in PERCENTAGES:
        path = write(
            tmp_path / f"flags-{percentage}.json", render_flags_json(FLAG, True, percentage, CBOR)
        )
        flags = FlagFile(path)
        on = {key for key in KEYS if flags.is_enabled(FLAG, key)}
        assert previous <= on, f"users dropped when raising to {percentage}%"
        previous = on


@settings(max_examples=300, deadline=None)
@given(
    flag_key=st.text(min_size=1, max_size=60) | any_text,
    targeting_key=st.text(min_size=1, max_size=300) | any_text.filter(bool),
    low=st.integers(0, 10000),
    high=st.integers(0, 10000),
)
def test_buckets_are_in_range_deterministic_and_monotonic(
    flag_key: str, targeting_key: str, low: int, high: int
) -> None:
    try:
        b = bucket(flag_key, targeting_key)
    except ValueError:  # lone surrogates: flagd cannot bucket them either
        with pytest.raises(UnicodeEncodeError):
            (flag_key + targeting_key).encode("utf-8")
        return
    assert 0 <= b < BUCKETS
    assert bucket(flag_key, targeting_key) == b
    low, high = min(low, high), max(low, high)
    assert (b < low) <= (b < high)
    # The same decision as flagd core's own fractional operation on Ramp's weights.
    data = {"$flagd": {"flagKey": flag_key}, "targetingKey": targeting_key}
    chosen = fractional(data, ["on", high], ["off", ON_WEIGHT_TOTAL - high])
    assert chosen == ("on" if b < high else "off")


@settings(max_examples=300, deadline=None)
@given(
    flag_key=st.text(max_size=40) | any_text,
    targeting_key=(st.text(max_size=70000) | any_text).filter(bool),
)
def test_bucketing_bytes_are_flagds_canonical_cbor(flag_key: str, targeting_key: str) -> None:
    try:
        expected = cbor2.dumps([flag_key, targeting_key], canonical=True)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            bucketing_bytes(flag_key, targeting_key)
        return
    assert bucketing_bytes(flag_key, targeting_key) == expected


def test_percentage_weights_round_two_decimals_exactly() -> None:
    assert [on_weight(k / 100) for k in range(10001)] == list(range(10001))


def test_missing_file_is_off_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ramp.flags")
    path = tmp_path / "flags.json"
    flags = FlagFile(path, reload_interval=0)
    for key in KEYS[:50]:
        assert flags.is_enabled(FLAG, key) is False
    flags.refresh()
    assert flags.percentage(FLAG) is None
    warnings = ramp_warnings(caplog)
    assert len(warnings) == 1
    assert "does not exist" in warnings[0]

    write(path, render_flags_json(FLAG, True, 100, CBOR))  # appears later: picked up
    assert flags.is_enabled(FLAG, "someone") is True


@pytest.mark.parametrize(
    "content",
    [
        '{"flags": {"async-reports": {"state": "ENABLED",',  # truncated
        "",
        "not json",
        b"\xff\xfe\x00garbage",
        "[]",
        '{"flags": []}',
        '{"flags": {"async-reports": {"state": "ON", "variants": {"on": true}}}}',
        '{"flags": {"async-reports": {"state": "ENABLED", "variants": {}}}}',
        '{"flags": {"async-reports": {"state": "ENABLED", "variants": {"on": true}, "x": 1}}}',
    ],
)
def test_malformed_file_is_off_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | bytes
) -> None:
    caplog.set_level(logging.WARNING, logger="ramp.flags")
    path = tmp_path / "flags.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        write(path, content)
    flags = FlagFile(path, reload_interval=0)
    assert not any(flags.is_enabled(FLAG, key) for key in KEYS[:50])
    flags.refresh()
    assert len(ramp_warnings(caplog)) == 1


def test_absent_flag_is_off_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ramp.flags")
    flags = FlagFile(write(tmp_path / "flags.json", render_flags_json(FLAG, True, 100, CBOR)))
    assert not any(flags.is_enabled("other-flag", key) for key in KEYS[:50])
    assert flags.percentage("other-flag") is None
    warnings = ramp_warnings(caplog)
    assert len(warnings) == 1
    assert "'other-flag'" in warnings[0]


def test_a_bad_update_falls_back_to_off_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ramp.flags")
    path = write(tmp_path / "flags.json", render_flags_json(FLAG, True, 50, CBOR))
    flags = FlagFile(path, reload_interval=0)
    assert any(flags.is_enabled(FLAG, key) for key in KEYS[:200])

    write(path, '{"flags": ')
    assert not any(flags.is_enabled(FLAG, key) for key in KEYS[:200])
    path.unlink()
    assert not any(flags.is_enabled(FLAG, key) for key in KEYS[:200])
    warnings = ramp_warnings(caplog)
    assert len(warnings) == 2  # malformed, then missing: once each
    assert all("serving off" in w for w in warnings)

    write(path, render_flags_json(FLAG, True, 100, CBOR))
    assert all(flags.is_enabled(FLAG, key) for key in KEYS[:200])


def test_keep_last_good_serves_the_last_good_flags_through_a_bad_update(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ramp.flags")
    path = write(tmp_path / "flags.json", render_flags_json(FLAG, True, 50, CBOR))
    flags = FlagFile(path, reload_interval=0, keep_last_good=True)
    before = [flags.is_enabled(FLAG, key) for key in KEYS[:200]]

    write(path, '{"flags": ')
    assert [flags.is_enabled(FLAG, key) for key in KEYS[:200]] == before
    path.unlink()
    assert [flags.is_enabled(FLAG, key) for key in KEYS[:200]] == before
    assert len(ramp_warnings(caplog)) == 2  # malformed, then missing: once each

    write(path, render_flags_json(FLAG, True, 100, CBOR))
    assert all(flags.is_enabled(FLAG, key) for key in KEYS[:200])


class ConfigMapVolume:
    """A ConfigMap volume as the kubelet writes it: ``..data`` swapped atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.generation = 0
        root.mkdir(parents=True, exist_ok=True)

    def publish(self, files: dict[str, str]) -> None:
        self.generation += 1
        current = self.root / f"..2026_01_01_00_00_00.{self.generation:09d}"
        current.mkdir()
        for name, text in files.items():
            (current / name).write_text(text, encoding="utf-8")
        previous = (self.root / "..data").resolve() if (self.root / "..data").exists() else None
        (self.root / "..data_tmp").symlink_to(current.name)
        os.replace(self.root / "..data_tmp", self.root / "..data")
        for name in files:
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(f"..data/{name}")
        if previous is not None:
            for child in previous.iterdir():
                child.unlink()
            previous.rmdir()


def test_kubelet_symlink_swap_is_picked_up(flagd: Flagd, tmp_path: Path) -> None:
    volume = ConfigMapVolume(tmp_path / "etc-ramp")
    volume.publish({"flags.json": render_flags_json(FLAG, True, 0, CBOR)})
    path = volume.root / "flags.json"
    flags = FlagFile(path, reload_interval=0.05)
    client = flagd.client_for(path)
    keys = KEYS[:100]
    assert not any(flags.is_enabled(FLAG, key) for key in keys)

    volume.publish({"flags.json": render_flags_json(FLAG, True, 100, CBOR)})
    eventually(
        lambda: all(flags.is_enabled(FLAG, key) for key in keys),
        timeout=5,
        what="ramp.flags to read the swapped flags.json",
    )
    eventually(
        lambda: flagd_decisions(client, keys) == [flags.is_enabled(FLAG, k) for k in keys],
        timeout=10,
        what="the flagd provider to read the swapped flags.json",
    )

    volume.publish({"flags.json": render_flags_json(FLAG, False, 100, CBOR)})
    eventually(
        lambda: not any(flags.is_enabled(FLAG, key) for key in keys),
        timeout=5,
        what="ramp.flags to read the second swap",
    )
    assert flags.percentage(FLAG) == 0.0
