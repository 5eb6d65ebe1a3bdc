"""examples/code-migration.yaml judges the dual-run counters as its runbook does: more than 100
mismatches in an hour roll back, and, as compared calls run both sides whatever the flag says,
the breach lasts at the previous phase too and the rollout steps down to 0 %."""

from __future__ import annotations

from tests.support.cluster import ROOT
from tests.unit.simulate.test_simulate_prints_the_timeline_of_decisions import (
    EXAMPLE,
    INTERVAL,
    minutes,
    rows,
    simulate,
    since_start,
)

SCRIPT = ROOT / "examples" / "simulations" / "code-migration-mismatches.yaml"


def test_more_than_100_mismatches_an_hour_roll_back_to_zero() -> None:
    result = simulate(str(EXAMPLE), "--metrics", str(SCRIPT))
    assert result.returncode == 0, result.stderr
    timeline = rows(result.stdout)
    assert ["+1h", "Progressing", "quarter", "25%"] in timeline
    back, down = timeline[-2], timeline[-1]
    # 40 mismatches at 2h change nothing; 130 at 2h20m roll back at the first analysis to see
    # them (no `for`: the first sample counts).
    assert back[1:] == ["RolledBack", "canary", "5%"], result.stdout
    assert minutes(140) <= since_start(back[0]) <= minutes(140) + INTERVAL, result.stdout
    assert "dual-run-mismatches 130 is above 100" in result.stdout
    assert down[1:] == ["RolledBack", "canary", "0%"], result.stdout
    assert since_start(down[0]) == since_start(back[0]) + INTERVAL, result.stdout
