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
    # Internal accounts (1 h) and beta users (1 h) come first: 25 % starts at +3h.
    assert ["+3h", "Progressing", "quarter", "25%"] in timeline
    rolled = [row for row in timeline if row[1] == "RolledBack"]
    back, down = rolled[0], rolled[-1]
    # 40 mismatches at 4h change nothing; 130 at 4h20m roll back at the first analysis to see
    # them (no `for`: the first sample counts).
    assert back[1:] == ["RolledBack", "canary", "5%"], result.stdout
    assert minutes(260) <= since_start(back[0]) <= minutes(260) + INTERVAL, result.stdout
    assert "dual-run-mismatches 130 is above 100" in result.stdout
    # Each analysis steps down once more (the previous phases' audiences too), down to nobody.
    assert [row[2] for row in rolled] == ["canary", "beta", "internal", "internal"]
    assert down[1:] == ["RolledBack", "internal", "0%"], result.stdout
    assert since_start(down[0]) == since_start(back[0]) + 3 * INTERVAL, result.stdout
    assert "outcome: RolledBack at 0 % (stepped down from 0 % + internal to 0 %" in result.stdout
