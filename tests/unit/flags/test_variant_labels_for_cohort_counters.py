"""Apps label outcome counters with the variant each unit got, the same decision as is_enabled.

`compare` metrics split the app's counters by `feature_flag_result_variant`; a variant that
disagreed with the behaviour, or a unit counted twice, would bias the comparison.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from ramp.flags import VARIANT_LABELS, FlagFile, OutcomeCounter
from ramp.k8s.flagd import render_flags_json

FLAG = "async-reports"
KEYS = [f"user-{i}" for i in range(3000)] + ["", "é", "🦊" * 9]


@pytest.mark.parametrize(
    ("enabled", "percentage"), [(True, 0), (True, 5), (True, 50), (True, 100), (False, 50)]
)
def test_variant_is_on_exactly_when_is_enabled(
    tmp_path: Path, enabled: bool, percentage: float
) -> None:
    path = tmp_path / "flags.json"
    path.write_text(render_flags_json(FLAG, enabled, percentage), encoding="utf-8")
    flags = FlagFile(path)
    for key in KEYS:
        expected = "on" if flags.is_enabled(FLAG, key) else "off"
        assert flags.variant(FLAG, key) == expected, key
        assert flags.labels(FLAG, key) == {
            "feature_flag_key": FLAG,
            "feature_flag_result_variant": expected,
        }


def test_variant_of_a_missing_file_is_off(tmp_path: Path) -> None:
    assert FlagFile(tmp_path / "absent.json").variant(FLAG, "user-1") == "off"


def counters() -> tuple[CollectorRegistry, Counter, Counter]:
    registry = CollectorRegistry()
    labels = ["queue", *VARIANT_LABELS]
    total = Counter("jobs_total", "Jobs", labels, registry=registry)
    failed = Counter("jobs_failed_total", "Failed jobs", labels, registry=registry)
    return registry, total, failed


def value(registry: CollectorRegistry, name: str, variant: str) -> float:
    labels = {"queue": "reports", "feature_flag_key": FLAG, "feature_flag_result_variant": variant}
    return registry.get_sample_value(name, labels) or 0.0


def test_outcome_counter_counts_each_unit_once_per_variant() -> None:
    registry, total, failed = counters()
    outcomes = OutcomeCounter(total, failed, labels={"queue": "reports"})
    assert outcomes.record("t1", FLAG, "on", failed=False)
    assert outcomes.record("t2", FLAG, "on", failed=True)
    assert outcomes.record("t3", FLAG, "off", failed=True)
    # A redelivered unit that ran again (same id) is not counted again, whatever its outcome.
    assert not outcomes.record("t2", FLAG, "on", failed=True)
    assert not outcomes.record("t1", FLAG, "on", failed=True)
    assert value(registry, "jobs_total", "on") == 2
    assert value(registry, "jobs_failed_total", "on") == 1
    assert value(registry, "jobs_total", "off") == 1
    assert value(registry, "jobs_failed_total", "off") == 1


def test_outcome_counter_forgets_the_oldest_ids_beyond_its_bound() -> None:
    registry, total, failed = counters()
    outcomes = OutcomeCounter(total, failed, labels={"queue": "reports"}, remember=2)
    for unit in ("a", "b", "c"):
        assert outcomes.record(unit, FLAG, "on", failed=False)
    assert not outcomes.record("c", FLAG, "on", failed=False)
    assert outcomes.record("a", FLAG, "on", failed=False)  # forgotten: memory stays bounded
    assert value(registry, "jobs_total", "on") == 4


def test_outcome_counter_refuses_a_memory_of_nothing() -> None:
    _, total, failed = counters()
    with pytest.raises(ValueError, match="remember must be at least 1"):
        OutcomeCounter(total, failed, remember=0)
