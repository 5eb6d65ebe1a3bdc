"""`ramp simulate` runs the real engine on simulated time against scripted metrics and prints
when it would promote or roll back, and why."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from ramp.api.durations import parse_duration
from ramp.metrics.scripted import ScriptedMetrics
from tests.support.cluster import ROOT

EXAMPLE = ROOT / "examples" / "code-migration.yaml"
SCRIPTS = ROOT / "examples" / "simulations"


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ramp", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=240,  # a generous cap: a loaded 2-core machine runs weeks of simulated time slowly
    )


INTERVAL = timedelta(seconds=30)
"""The example's spec.analysis.interval."""


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def since_start(cell: str) -> timedelta:
    """A timeline's time column (`+3h10m2s`) as a duration."""
    return parse_duration(cell.removeprefix("+"))


def rows(output: str) -> list[list[str]]:
    """The timeline's rows as [time, phase, step, percent] (the 'what' column dropped)."""
    return [line.split()[:4] for line in output.splitlines() if line.strip().startswith("+")]


def test_latency_regression_rolls_back_to_previous_phase_after_its_for_window() -> None:
    result = simulate(
        str(EXAMPLE), "--metrics", str(SCRIPTS / "code-migration-latency-regression.yaml")
    )
    assert result.returncode == 0, result.stderr
    timeline = rows(result.stdout)
    assert ["+3h", "Progressing", "quarter", "25%"] in timeline
    # p99 doubles at 5h. The first sample to see it is the first analysis after 5h (on the
    # analysis's slot, within one 30s interval); the 10m `for` window from there makes it
    # critical 10m later, not before.
    back, *downs = timeline[-4:]
    assert back[1:] == ["RolledBack", "canary", "5%"], result.stdout
    rolled_back = since_start(back[0])
    assert minutes(310) <= rolled_back <= minutes(310) + INTERVAL, result.stdout
    assert "p99-latency 0.95 is above 2x baseline 0.4" in result.stdout
    # The breach goes on at 5 %: a new 10m window from the first sample there (one interval
    # later), then one step further down each time, audiences with it, until nobody (I6).
    assert [d[2:] for d in downs] == [["beta", "0%"], ["internal", "0%"], ["internal", "0%"]]
    assert "stepped down from 5 % + internal, beta to 0 % + internal, beta" in result.stdout
    assert since_start(downs[0][0]) == rolled_back + INTERVAL + minutes(10), result.stdout
    assert "outcome: RolledBack at 0 % (stepped down from 0 % + internal to 0 %" in result.stdout


def test_healthy_script_completes_after_every_soak_and_gate() -> None:
    result = simulate(str(EXAMPLE), "--metrics", str(SCRIPTS / "code-migration-healthy.yaml"))
    assert result.returncode == 0, result.stderr
    timeline = rows(result.stdout)
    promoted_at = [t for t, phase, _, _ in timeline if phase == "Progressing"]
    # 1h internal, 1h beta, 1h canary, 4h quarter, 8h half: never earlier.
    assert promoted_at == ["+0s", "+1h", "+2h", "+3h", "+7h", "+15h"], result.stdout
    assert timeline[-1][1:] == ["Completed", "everyone", "100%"]
    assert "outcome: Completed at 100 %" in result.stdout


def test_error_rate_over_the_strict_early_threshold_rolls_back(tmp_path: Path) -> None:
    script = tmp_path / "errors.yaml"
    script.write_text(
        "metrics:\n"
        "  error-rate: [{at: 0s, value: 0.0004}, {at: 2h20m, value: 0.002}]\n"
        "  p99-latency: [{at: 0s, value: 0.4}]\n"
        "  dual-run-mismatches: [{at: 0s, value: 0}]\n"
        "  dual-run-mismatch-rate: [{at: 0s, value: 0}]\n"
        "  fallbacks: [{at: 0s, value: 0}]\n"
    )
    result = simulate(str(EXAMPLE), "--metrics", str(script))
    assert result.returncode == 0, result.stderr
    # 0.2 % breaks the canary's 0.1 % override (not the global 1 %), 5m after the first
    # analysis to see it (within one interval of 2h20m). The phase before serves the beta
    # users and the team at 0 %, where the global 1 % holds: the rollout stays there.
    last = rows(result.stdout)[-1]
    assert last[1:] == ["RolledBack", "beta", "0%"], result.stdout
    assert minutes(145) <= since_start(last[0]) <= minutes(145) + INTERVAL, result.stdout


def test_a_bad_script_is_an_error_naming_the_entry(tmp_path: Path) -> None:
    script = tmp_path / "bad.yaml"
    script.write_text("metrics:\n  error-rate: [{at: 0s, value: 0.1}, {at: soon, value: 1}]\n")
    result = simulate(str(EXAMPLE), "--metrics", str(script))
    assert result.returncode == 2
    assert "metrics.error-rate[1].at" in result.stderr


def test_an_invalid_rollout_is_an_error_naming_the_field(tmp_path: Path) -> None:
    rollout = tmp_path / "rollout.yaml"
    rollout.write_text(EXAMPLE.read_text().replace("percentage: 25", "percentage: 2"))
    result = simulate(str(rollout), "--metrics", str(SCRIPTS / "code-migration-healthy.yaml"))
    assert result.returncode == 2
    assert "percentage" in result.stderr


def test_scripted_values_hold_until_the_next_step() -> None:
    script = ScriptedMetrics.from_yaml(
        "metrics:\n  m: [{at: 1m, value: 1}, {at: 2m, value: null}, {at: 3m, value: error}]\n"
    )
    assert script.evaluate_at(timedelta(0))["m"].value is None  # before its first entry
    assert script.evaluate_at(timedelta(seconds=90))["m"].value == 1.0
    assert script.evaluate_at(timedelta(minutes=2))["m"].value is None
    assert script.evaluate_at(timedelta(minutes=2))["m"].error is None
    assert script.evaluate_at(timedelta(hours=1))["m"].error is not None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("metrics: []", "metrics:"),
        ("metrics: {m: []}", "metrics.m:"),
        ("metrics: {m: [{at: 2m, value: 1}, {at: 1m, value: 2}]}", "metrics.m[1].at"),
        ("metrics: {m: [{at: 1m, value: high}]}", "metrics.m[0].value"),
        ("metrics: {m: [{value: 1}]}", "metrics.m[0]:"),
    ],
)
def test_script_errors_name_the_entry(text: str, where: str) -> None:
    with pytest.raises(ValueError, match=r"^" + where.replace("[", r"\[").replace("]", r"\]")):
        ScriptedMetrics.from_yaml(text)
