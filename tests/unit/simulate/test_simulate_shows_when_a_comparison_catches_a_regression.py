"""`ramp simulate` with traffic scripts for compare metrics: the timeline shows when a phase
would have caught a regression of the flag-on cohort, warns where a phase's soak is shorter
than the expected detection time, and completes on equal cohorts."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.cluster import ROOT
from tests.unit.simulate.test_simulate_prints_the_timeline_of_decisions import rows, simulate

REPORTS = ROOT / "examples" / "async-reports.yaml"
REGRESS = ROOT / "examples" / "simulations" / "async-reports-failures-regress.yaml"


def hours(elapsed: str) -> float:
    """'+84h36m' as hours."""
    text, total = elapsed.lstrip("+"), 0.0
    for unit, scale in (("h", 1.0), ("m", 1 / 60), ("s", 1 / 3600)):
        if unit in text:
            value, text = text.split(unit, 1)
            total += float(value) * scale
    return total


def test_a_2x_regression_of_the_new_path_rolls_back_which_the_aggregate_misses() -> None:
    result = simulate(str(REPORTS), "--metrics", str(REGRESS))
    assert result.returncode == 0, result.stderr
    timeline = rows(result.stdout)
    rolled = [row for row in timeline if row[1] == "RolledBack"]
    assert rolled, result.stdout
    # the failures start at 80h; the success rate (0.99) never crosses its 0.95 threshold
    assert 80 < hours(rolled[0][0]) < 96, result.stdout
    assert "failures-vs-control regressed" in result.stdout
    assert "success-rate" not in result.stdout.split("outcome:")[1]
    assert timeline[-1][1:] == ["RolledBack", "ten", "0%"]


def test_equal_cohorts_complete(tmp_path: Path) -> None:
    rollout = yaml.safe_load(REPORTS.read_text())
    for phase in rollout["spec"]["phases"][:-1]:
        phase["duration"] = "6h"  # a tenth of the example's weeks: the same rules, less CPU
    short = tmp_path / "rollout.yaml"
    short.write_text(yaml.safe_dump(rollout))
    script = yaml.safe_load(REGRESS.read_text())
    script["metrics"]["failures-vs-control"] = [
        {"at": "0s", "units": 20, "failureRate": {"treatment": 0.01, "control": 0.01}}
    ]
    path = tmp_path / "aa.yaml"
    path.write_text(yaml.safe_dump(script))
    result = simulate(str(short), "--metrics", str(path))
    assert result.returncode == 0, result.stderr
    assert "outcome: Completed at 100 %" in result.stdout, result.stdout
    assert "SoakShorterThanDetection" not in result.stdout


def test_a_soak_shorter_than_the_expected_detection_time_is_flagged(tmp_path: Path) -> None:
    rollout = yaml.safe_load(REPORTS.read_text())
    for phase in rollout["spec"]["phases"][1:-1]:
        phase["duration"] = "1h"  # only the canary matters here: keep the simulation short
    rollout["spec"]["phases"][0]["duration"] = "5m"  # 10 % of 20 tasks/s at 1 %: Wald says 6m28s
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(rollout))
    result = simulate(str(path), "--metrics", str(REGRESS))
    assert result.returncode == 0, result.stderr
    warning = next(
        line for line in result.stdout.splitlines() if "SoakShorterThanDetection" in line
    )
    assert warning.split()[:3] == ["+0s", "Progressing", "ten"], warning
    assert "a 2x regression takes about 6m28s" in warning and "the soak is 5m" in warning


def test_a_bad_traffic_step_is_an_error_naming_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "metrics:\n  failures-vs-control:\n"
        "    - {at: 0s, units: 20, failureRate: {treatment: 2, control: 0.01}}\n"
    )
    result = simulate(str(REPORTS), "--metrics", str(path))
    assert result.returncode == 2
    assert "metrics.failures-vs-control[0].failureRate.treatment" in result.stderr


def test_per_variant_counts_keep_their_split_whatever_the_percentage(tmp_path: Path) -> None:
    """Each variant's units and failures per second (a recorded split): 10 units/s at 3 %
    against 190 at 1 % is caught in the canary, Wald's figure for a 3x regression."""
    script = tmp_path / "counts.yaml"
    script.write_text(
        "metrics:\n  failures-vs-control:\n"
        "    - {at: 0s, treatment: {units: 10, failures: 0.3}, "
        "control: {units: 190, failures: 1.9}}\n"
    )
    rollout = yaml.safe_load(REPORTS.read_text())
    rollout["spec"]["analysis"]["metrics"] = [
        m for m in rollout["spec"]["analysis"]["metrics"] if "compare" in m
    ]
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(rollout))
    result = simulate(str(path), "--metrics", str(script))
    assert result.returncode == 0, result.stderr
    rolled = [row for row in rows(result.stdout) if row[1] == "RolledBack"]
    assert rolled and rolled[0][2] == "ten", result.stdout
    assert hours(rolled[0][0]) < 0.1, result.stdout
    assert "treatment 3.000%" in result.stdout
