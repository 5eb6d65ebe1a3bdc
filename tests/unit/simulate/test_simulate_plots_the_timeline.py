"""`ramp simulate --plot` draws the example simulations into valid PNG and SVG images of a
sensible size, with each metric against the bounds the engine applied at each moment."""

from __future__ import annotations

import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest

from ramp.metrics.scripted import ScriptedMetrics
from ramp.simulate.plot import SampleRecorder
from ramp.simulate.run import load_spec, run
from ramp.simulate.timeline import SIMULATION_START
from tests.support.cluster import ROOT

EXAMPLES = ROOT / "examples"
SIMULATIONS = [
    ("code-migration.yaml", "code-migration-healthy.yaml"),
    ("code-migration.yaml", "code-migration-latency-regression.yaml"),
    ("async-reports.yaml", "async-reports-failures-regress.yaml"),
]


def simulate_plot(rollout: str, script: str, plot: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "ramp", "simulate", str(EXAMPLES / rollout)),
            *("--metrics", str(EXAMPLES / "simulations" / script), "--plot", str(plot)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data[-8:-4] == b"IEND", f"{path} is truncated"
    return width, height


def panels(rollout: str) -> int:
    spec = load_spec((EXAMPLES / rollout).read_text())
    return 1 + (len(spec.analysis.metrics) if spec.analysis else 0)


@pytest.mark.parametrize(("rollout", "script"), SIMULATIONS)
def test_example_simulation_renders_a_png_of_sensible_size(
    rollout: str, script: str, tmp_path: Path
) -> None:
    plot = tmp_path / "timeline.png"
    result = simulate_plot(rollout, script, plot)
    assert result.returncode == 0, result.stderr
    assert f"plot: {plot}" in result.stdout
    width, height = png_size(plot)
    assert 800 <= width <= 2000
    # One panel for the percentage and one per metric, each about 230 px high.
    assert 200 * panels(rollout) <= height <= 320 * panels(rollout) + 200
    assert plot.stat().st_size > 20_000


def test_svg_plot_is_valid_and_names_every_metric(tmp_path: Path) -> None:
    plot = tmp_path / "timeline.svg"
    result = simulate_plot("async-reports.yaml", "async-reports-failures-regress.yaml", plot)
    assert result.returncode == 0, result.stderr
    root = ET.parse(plot).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert float(root.attrib["width"].removesuffix("pt")) >= 600
    text = plot.read_text()
    spec = load_spec((EXAMPLES / "async-reports.yaml").read_text())
    assert spec.analysis is not None
    for metric in spec.analysis.metrics:
        assert metric.name in text, f"no panel names {metric.name}"
    assert "RolledBack" in text


def test_plot_draws_the_bounds_the_engine_applied() -> None:
    spec = load_spec((EXAMPLES / "code-migration.yaml").read_text())
    script = ScriptedMetrics.from_yaml(
        (EXAMPLES / "simulations" / "code-migration-latency-regression.yaml").read_text()
    )
    recorder = SampleRecorder(spec, lambda now, _: script.evaluate_at(now - SIMULATION_START))
    timeline = run(spec, recorder)
    assert timeline.outcome == "RolledBack"
    p99 = recorder.traces["p99-latency"]
    # aboveBaselineRatio 2.0 on the 0.4 captured at start: the line is at 0.8.
    assert all(v == pytest.approx(0.8) for _, v in p99.critical["above"])
    assert max(v for _, v in p99.values if v is not None) == pytest.approx(0.95)
    # error-rate's critical bound follows the phase overrides: stricter at 5 % (from 2h) than
    # at 25 % (from 3h).
    errors = recorder.traces["error-rate"].critical["above"]
    at = {round((t - SIMULATION_START) / timedelta(minutes=1)): v for t, v in errors}
    assert at[150] < at[240]


def test_plot_needs_a_png_or_svg_name(tmp_path: Path) -> None:
    result = simulate_plot(
        "code-migration.yaml", "code-migration-healthy.yaml", tmp_path / "timeline.jpg"
    )
    assert result.returncode == 2
    assert "the file name must end in .png or .svg" in result.stderr
