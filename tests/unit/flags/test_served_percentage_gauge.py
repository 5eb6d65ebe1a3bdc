"""`ramp_flag_served_percentage{feature_flag_key}` says what this process serves now: the share
of its loaded flags.json, following the file, and 0 when it serves nobody."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from ramp.flags import FlagFile, export_served_percentage, served_percentage
from tests.unit.flags.conftest import FlagWriter

FLAG = "orders-v2-path"


def served(registry: CollectorRegistry, key: str = FLAG) -> float | None:
    return registry.get_sample_value("ramp_flag_served_percentage", {"feature_flag_key": key})


def test_the_gauge_is_the_loaded_percentage(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    flags = FlagFile(write_flags(FLAG, 25))
    export_served_percentage(flags, FLAG, registry=registry)
    assert served(registry) == 25.0
    assert b'ramp_flag_served_percentage{feature_flag_key="orders-v2-path"} 25.0' in (
        generate_latest(registry)
    )


def test_the_gauge_follows_a_change_of_the_file(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    path = write_flags(FLAG, 5)
    flags = FlagFile(path, reload_interval=0)  # every scrape checks the file
    export_served_percentage(flags, FLAG, registry=registry)
    assert served(registry) == 5.0
    write_flags(FLAG, 12.5)
    assert served(registry) == 12.5


def test_the_gauge_waits_for_the_reload_interval_as_decisions_do(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    flags = FlagFile(write_flags(FLAG, 5), reload_interval=3600)
    export_served_percentage(flags, FLAG, registry=registry)
    write_flags(FLAG, 50)
    assert served(registry) == 5.0, "the process still serves what it loaded"
    flags.refresh()
    assert served(registry) == 50.0


@pytest.mark.parametrize(
    "case",
    ["disabled", "file missing", "file unreadable", "flag absent"],
)
def test_the_gauge_is_zero_when_the_process_serves_nobody(
    case: str, write_flags: FlagWriter, registry: CollectorRegistry, tmp_path: Path
) -> None:
    path = write_flags(FLAG, 50)
    flags = FlagFile(path, reload_interval=0)
    export_served_percentage(flags, FLAG, registry=registry)
    assert served(registry) == 50.0
    if case == "disabled":
        write_flags(FLAG, 50, enabled=False)
    elif case == "file missing":
        path.unlink()
    elif case == "file unreadable":
        path.write_text("{not json", encoding="utf-8")
    else:
        write_flags("another-flag", 50)
    assert served(registry) == 0.0
    assert served_percentage(flags, FLAG) == 0.0


def test_several_flags_of_one_file_each_have_their_sample(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    path = tmp_path / "flags.json"
    path.write_text(
        '{"flags": {'
        '"a": {"state": "ENABLED", "variants": {"on": true, "off": false}, '
        '"defaultVariant": "off", "targeting": {"fractional": [["on", 1], ["off", 3]]}},'
        '"b": {"state": "ENABLED", "variants": {"on": true, "off": false}, '
        '"defaultVariant": "on"}}}',
        encoding="utf-8",
    )
    flags = FlagFile(path)
    export_served_percentage(flags, "a", "b", "c", registry=registry)
    assert (served(registry, "a"), served(registry, "b"), served(registry, "c")) == (25, 100, 0)


def test_a_flag_key_is_exported_from_one_flag_file(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    path = write_flags(FLAG, 25)
    flags = FlagFile(path)
    export_served_percentage(flags, FLAG, registry=registry)
    export_served_percentage(flags, FLAG, registry=registry)  # again: nothing changes
    with pytest.raises(ValueError, match="already exported from"):
        export_served_percentage(FlagFile(path), FLAG, registry=registry)
    assert generate_latest(registry).count(b"ramp_flag_served_percentage{") == 1


def test_without_prometheus_client_the_error_says_what_to_install(
    write_flags: FlagWriter, registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = FlagFile(write_flags(FLAG, 25))
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import now fails
    assert served_percentage(flags, FLAG) == 25.0, "the value itself needs no prometheus-client"
    with pytest.raises(ImportError, match=r"pip install 'ramp-flags\[prometheus\]'"):
        export_served_percentage(flags, FLAG)
