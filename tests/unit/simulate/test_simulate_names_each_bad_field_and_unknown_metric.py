"""`ramp simulate` says what is wrong in one line per field, named as admission names it, and
warns about a scripted metric the Rollout does not have (its values would be ignored)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROLLOUT = {
    "apiVersion": "ramp.dev/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "x"},
    "spec": {
        "flag": {"key": "x", "configMap": "x"},
        "phases": [
            {"name": "canary", "percentage": 5, "duration": "1h"},
            {"name": "all", "percentage": 100},
        ],
        "analysis": {
            "interval": "30s",
            "prometheus": {"address": "http://prometheus:9090"},
            "metrics": [{"name": "errors", "query": "sum(x)", "critical": {"above": 0.05}}],
        },
    },
}


def simulate(
    tmp: Path, rollout: dict[str, object], script: str
) -> subprocess.CompletedProcess[str]:
    (tmp / "rollout.yaml").write_text(yaml.safe_dump(rollout))
    (tmp / "script.yaml").write_text(script)
    files = [str(tmp / "rollout.yaml"), "--metrics", str(tmp / "script.yaml")]
    return subprocess.run(
        [sys.executable, "-m", "ramp", "simulate", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_each_bad_field_is_one_line_naming_it(tmp_path: Path) -> None:
    bad = yaml.safe_load(yaml.safe_dump(ROLLOUT))
    bad["spec"]["phases"][0]["duration"] = "1d"
    bad["spec"]["analysis"]["metrics"][0]["critcal"] = {"above": 1}
    result = simulate(tmp_path, bad, "metrics: {errors: [{at: 0s, value: 0}]}\n")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    where = f"error: {tmp_path / 'rollout.yaml'}: "
    assert lines == [
        f"{where}spec.phases[0].duration: not a duration; write it like 90s, 5m, "
        "1h30m or 500ms; days are not a unit: use hours, e.g. 24h",
        f"{where}spec.analysis.metrics[0].critcal: unknown field (check its spelling and "
        "indentation)",
    ], result.stderr


def test_a_scripted_metric_the_rollout_does_not_have_is_warned_about(tmp_path: Path) -> None:
    script = "metrics:\n  errors: [{at: 0s, value: 0}]\n  eror-rate: [{at: 0s, value: 0.5}]\n"
    result = simulate(tmp_path, ROLLOUT, script)
    assert result.returncode == 0, result.stderr
    assert (
        "warning: " + str(tmp_path / "script.yaml") + ": metrics.eror-rate: the Rollout has no "
        "metric eror-rate (it has errors); its values are ignored"
    ) in result.stderr
    assert "Completed" in result.stdout
