"""`ramp promote` twice at a Manual gate (two people, or a shell retry) approves the gate once:
the rollout soaks in the next phase, and only `ramp promote --skip-soak` leaves it early, with
the history naming who skipped the soak (I13)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    delivered_event_reasons,
    published_percentage,
    ramp,
    rollout_manifest,
    settled_at_gate,
    status,
    wait_published,
)

PHASES = [
    {"name": "canary", "percentage": 5, "duration": "1s", "approval": "Manual"},
    {"name": "quarter", "percentage": 25, "duration": "4h", "approval": "Manual"},
    {"name": "half", "percentage": 50, "duration": "8h"},
    {"name": "all", "percentage": 100},
]


def soaking_in_quarter(cluster: Cluster, namespace: str) -> bool:
    """Promoted into quarter, every request taken: nothing left that could promote it."""
    s = status(cluster, namespace, "twice")
    return (
        (s.get("phase"), s.get("currentPhase")) == ("Progressing", "quarter")
        and not s.get("control")
        and not s.get("outbox")
    )


def test_promote_twice_at_a_manual_gate_leaves_the_next_phase_soaking(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    """Failed before the fix: the second `ramp promote` skipped quarter's soak, published 50 %
    and exited 0; and there was no `--skip-soak`."""
    apply(cluster, namespace, rollout_manifest("twice", PHASES))
    eventually(
        lambda: settled_at_gate(status(cluster, namespace, "twice")),
        timeout=30,
        what="the canary to await approval",
    )

    # Two people at one gate: both commands read the rollout at about the same moment.
    with ThreadPoolExecutor(2) as pool:
        both = list(
            pool.map(
                lambda _: ramp(cluster, "promote", "twice", "-n", namespace, check=False), "ab"
            )
        )
    assert 0 in [p.returncode for p in both], both
    for p in both:
        assert p.returncode == 0 or "quarter is still soaking" in p.stderr, p
    eventually(
        lambda: soaking_in_quarter(cluster, namespace),
        timeout=30,
        what="the rollout promoted to quarter with every request taken",
    )
    wait_published(cluster, namespace, "twice-flag", "25", timeout=30)

    # The shell retry, two seconds later: the gate it meant is passed, quarter soaks 4 h.
    again = ramp(cluster, "promote", "twice", "-n", namespace, check=False)
    assert again.returncode == 1, again
    assert "cannot promote twice: quarter is still soaking (" in again.stderr, again.stderr
    assert "ramp promote twice --skip-soak" in again.stderr, again.stderr
    held = status(cluster, namespace, "twice")
    assert (held["currentPhase"], held["percentage"]) == ("quarter", 25), held
    assert not held.get("control"), "a refused promote writes nothing"
    assert published_percentage(cluster, namespace, "twice-flag") == "25"
    assert [h["step"] for h in held["history"] if h["reason"] == "Promoted"] == ["quarter"]

    # Skipping the soak on purpose is recorded with the name the API server knows the user by.
    who = cluster.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").stdout
    skipped = ramp(cluster, "promote", "twice", "-n", namespace, "--skip-soak")
    assert f"(skipping its soak) requested by {who}" in skipped.stdout, skipped.stdout
    eventually(
        lambda: status(cluster, namespace, "twice").get("currentPhase") == "half",
        timeout=30,
        what="the rollout promoted to half by --skip-soak",
    )
    wait_published(cluster, namespace, "twice-flag", "50", timeout=30)
    history = status(cluster, namespace, "twice")["history"]
    entry = [h for h in history if h["reason"] == "Promoted"][-1]
    assert entry["step"] == "half", entry
    assert f"`ramp promote --skip-soak` by {who}: " in entry["message"], entry
    assert "of quarter's 4h soak skipped" in entry["message"], entry
    assert "PromoteRequested" in delivered_event_reasons(cluster, namespace, "twice")
