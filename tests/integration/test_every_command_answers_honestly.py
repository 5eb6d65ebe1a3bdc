"""Every command answers honestly: a request nobody has picked up says so, the operator says
where it watches, and the exit code follows one rule (0: recorded or already in force; 1:
refused, with what to do instead)."""

from __future__ import annotations

from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, ramp, rollout_manifest, status, wait_phase

PHASES = [
    {"name": "canary", "percentage": 10, "duration": "1h"},
    {"name": "everyone", "percentage": 100},
]


def test_a_request_nobody_picks_up_says_so(
    cluster: Cluster, namespace: str, rollout_crd: str
) -> None:
    # No operator watches this namespace.
    apply(cluster, namespace, rollout_manifest("orphan", PHASES))
    for action in ("pause", "abort"):
        answer = ramp(cluster, action, "orphan", "-n", namespace, check=False)
        assert answer.returncode == 0, answer.stderr
        said = " ".join(answer.stdout.split())
        assert "no operator has reconciled orphan yet" in said, said
        assert "namespaces it watches" in said
    assert status(cluster, namespace, "orphan")["control"].keys() >= {"pause", "abort"}
    shown = " ".join(ramp(cluster, "status", "orphan", "-n", namespace).stdout.split())
    assert "no operator has reconciled this Rollout yet" in shown, shown
    assert f'watching namespace "{namespace}"' in shown


def test_the_operator_logs_where_it_watches_and_finished_rollouts_refuse_with_the_switch(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    assert f"watching Rollouts in {namespace}" in operator.log.read_text()
    apply(cluster, namespace, rollout_manifest("done", [{"name": "all", "percentage": 100}]))
    wait_phase(cluster, namespace, "done", "Completed", what="the rollout Completed")
    for action in ("pause", "abort"):
        refused = ramp(cluster, action, "done", "-n", namespace, check=False)
        assert refused.returncode == 1, refused.stdout
        assert "set spec.enabled: false" in " ".join(refused.stderr.split())
    in_force = ramp(cluster, "resume", "done", "-n", namespace, check=False)
    assert in_force.returncode == 0, in_force.stderr
    assert "done is not paused" in in_force.stdout
    shown = ramp(cluster, "status", "done", "-n", namespace).stdout
    assert "no operator has reconciled" not in shown
