"""`ramp simulate` of a Rollout with promotion windows says its windows, when each promotion
waits for one, and when the rollout would complete; the start and promotions fall inside."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ramp.api import RolloutSpec
from ramp.engine.observations import MetricSample
from ramp.engine.windows import in_a_window
from ramp.simulate.plot import held_spans
from ramp.simulate.run import load_spec, render, run
from tests.support.cluster import ROOT
from tests.unit.simulate.test_simulate_prints_the_timeline_of_decisions import simulate

EXAMPLE = ROOT / "examples" / "partial-results.yaml"


def test_simulate_prints_the_windows_the_waits_and_the_completion(tmp_path: Path) -> None:
    plot = tmp_path / "windows.svg"
    result = simulate(
        str(EXAMPLE),
        "--metrics",
        str(ROOT / "examples/simulations/partial-results-low-traffic.yaml"),
        "--plot",
        str(plot),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "promotion window: Mon,Tue,Wed,Thu,Fri 01:00-05:00 Europe/Berlin" in out
    assert "(simulated time starts Thu 2026-01-01 00:00 UTC)" in out
    # Thursday 01:00 in Berlin is 00:00 UTC: it starts at once, ten soaks 2 h inside the
    # window, half's 6 h end outside it and wait for Friday's.
    assert (
        "OutsideWindow: holding half at 50 %: outside the promotion windows; next window "
        "Fri 01:00 Europe/Berlin"
    ) in out
    assert "completes after 24h21s, on Fri 2026-01-02 00:00 UTC" in out
    assert "held: OutsideWindow" in plot.read_text()  # the wait is shaded and named


def test_every_simulated_start_and_promotion_is_inside_a_window() -> None:
    spec = load_spec(EXAMPLE.read_text())
    timeline = run(spec, lambda now, status: {"p95-latency": MetricSample(value=1.0)})
    assert timeline.outcome == "Completed"
    moves = [m for m in timeline.moments if m.reason in ("Started", "Promoted")]
    assert len(moves) == 3
    assert all(in_a_window(spec.promotion_windows or [], m.at) for m in moves)
    text = render(timeline, title="partial-results.yaml", spec=spec)
    assert "completes after" in text
    ((start, stop, reason),) = held_spans(timeline, timeline.moments[-1].at)
    assert reason == "OutsideWindow" and in_a_window(spec.promotion_windows or [], stop)
    assert not in_a_window(spec.promotion_windows or [], start)


def test_a_freeze_until_a_date_is_waited_out() -> None:
    spec = RolloutSpec.model_validate(
        {
            "flag": {"key": "f", "configMap": "f-flag"},
            "phases": [
                {"name": "ten", "percentage": 10, "duration": "1h"},
                {"name": "all", "percentage": 100},
            ],
            "freeze": {"reason": "year-end", "until": "2026-01-05T00:00:00Z"},
        }
    )
    timeline = run(spec, lambda now, status: {})
    started = next(m for m in timeline.moments if m.reason == "Started")
    assert started.at - timeline.start == timedelta(days=4)
    assert timeline.moments[0].reason == "Frozen"
