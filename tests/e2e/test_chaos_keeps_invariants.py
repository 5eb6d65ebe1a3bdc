"""Chaos on the real control plane: the operator SIGKILLed at least ten times at random moments,
kube-apiserver restarted once and Prometheus once, while one Rollout stays healthy and another
breaches mid-run, a person edits both specs at random (kill switch, pause, threshold) and
Prometheus answers some queries late. Every published value and every status is recorded and
checked against the invariants I1-I12 of docs/behaviour.md (I12: every edit decided within one
interval plus the query timeout plus 2 s); the run must end Completed and RolledBack
respectively, every subscribed transition must reach the webhook, and the workers must get their
replicas back.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from tests.support.chaos import ChaosPlan, run_chaos, summary
from tests.support.cluster import Cluster, load_testbed


def test_crash_loop_and_control_plane_restarts_keep_every_invariant(
    cluster: Cluster, rollout_crd: str, namespace: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("RAMP_CHAOS_SEED") or random.randrange(2**32))
    plan = ChaosPlan(seed=seed)
    report = run_chaos(cluster, namespace, tmp_path / "operator.log", plan)

    figures = ", ".join(f"{k}: {v}" for k, v in summary([report]).items())
    print(f"chaos run (RAMP_CHAOS_SEED={seed}): {figures}")
    assert report.kills >= plan.kills, f"only {report.kills} kills (seed {seed})"
    restarted = {name for name, _ in report.restarts}
    assert restarted == {"kube-apiserver", "prometheus"}, report.restarts
    assert report.moments > 0, "the recorder saw nothing"
    assert report.edits > 0, "no spec edit was made"
    assert report.queries > 0, "no query went through the slow Prometheus proxy"
    # The tests that run after this one need the control plane whole again.
    testbed = load_testbed()
    tb = testbed.Testbed(dir=cluster.dir)
    tb.load()
    assert testbed.is_up(tb), "the testbed is not up after the chaos run"
    problems = report.problems()
    assert not problems, (
        f"chaos run with RAMP_CHAOS_SEED={seed} (operator log {tmp_path / 'operator.log'}, "
        f"every recorded version in {tmp_path / 'operator.trace.jsonl'}):\n" + "\n".join(problems)
    )
