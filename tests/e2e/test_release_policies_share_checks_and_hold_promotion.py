"""RolloutPolicies on the testbed: three Rollouts share one policy's thresholds, and a breach
rolls back only its own; a freeze on the policy holds every one of them but never a rollback;
a promotion waits for a window that opens a minute from now, across an operator restart; a
Rollout whose policy is missing holds at 0 % with a condition naming it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.exporter import Exporter, wait_scraped
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    GROUP,
    VERSION,
    apply,
    published_percentage,
    rollout_manifest,
    status,
    step_of,
)

FLAGS = ("USE_SAFE_EVAL", "USE_SAFE_SERIALIZATION", "USE_JAX_OPTIMIZATION")


def policy_manifest(name: str, cluster: Cluster, **spec: Any) -> dict[str, Any]:
    """The RepTate thresholds: one error-rate template, rendered for each Rollout's flag."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RolloutPolicy",
        "metadata": {"name": name},
        "spec": {
            "metrics": [
                {
                    "name": "errors",
                    "query": 'max(reptate_errors_{{ flag }}{exporter="{{ namespace }}"})',
                    "critical": {"above": 0.05},
                }
            ],
            "analysis": {
                "interval": "1s",
                "prometheus": {"address": cluster.prometheus_url, "timeout": "2s"},
            },
            **spec,
        },
    }


def flag_rollout(flag: str, soak: str = "60s", **spec: Any) -> dict[str, Any]:
    name = flag.lower().replace("_", "-")
    return rollout_manifest(
        name,
        [
            {"name": "canary", "percentage": 10, "duration": soak},
            {"name": "everyone", "percentage": 100},
        ],
        flag={
            "key": flag,
            "configMap": f"{name}-flag",
            "env": {"enabled": "FEATURE_ENABLED", "percentage": "FEATURE_PERCENTAGE"},
        },
        policy="reptate",
        **spec,
    )


def condition(cluster: Cluster, namespace: str, name: str, type_: str) -> dict[str, Any]:
    found = status(cluster, namespace, name).get("conditions") or []
    return next((c for c in found if c["type"] == type_), {})


def says(status: dict[str, Any], words: str) -> bool:
    """Whether the status message holds ``words`` (else the message is the error eventually
    reports)."""
    assert words in (status.get("message") or ""), status.get("message")
    return True


def healthy(cluster: Cluster, exporter: Exporter, namespace: str) -> None:
    for flag in FLAGS:
        exporter.set_gauge(f"reptate_errors_{flag}", 0.0)
    for flag in FLAGS:
        wait_scraped(cluster, f'max(reptate_errors_{flag}{{exporter="{namespace}"}})', 0.0)


def test_a_breach_rolls_back_only_the_rollout_whose_flag_breaches(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    healthy(cluster, exporter, namespace)
    apply(cluster, namespace, policy_manifest("reptate", cluster))
    names = [flag.lower().replace("_", "-") for flag in FLAGS]
    for flag in FLAGS:
        apply(cluster, namespace, flag_rollout(flag))
    for name in names:
        eventually(
            lambda name=name: step_of(cluster, namespace, name) == ("Progressing", "canary"),
            timeout=60,
            what=f"{name} to start on the policy's health check",
        )
    policy = status(cluster, namespace, names[0])["policy"]
    assert policy["name"] == "reptate"
    assert "analysis.metrics[errors]" in policy["contributed"]

    exporter.set_gauge("reptate_errors_USE_JAX_OPTIMIZATION", 0.3)
    eventually(
        lambda: step_of(cluster, namespace, "use-jax-optimization")[0] == "RolledBack",
        timeout=30,
        what="the JAX rollout to roll back on its own flag's errors",
    )
    assert published_percentage(cluster, namespace, "use-jax-optimization-flag") == "0"
    for name in names[:2]:
        assert step_of(cluster, namespace, name) == ("Progressing", "canary"), name
        assert published_percentage(cluster, namespace, f"{name}-flag") == "10"


def test_a_freeze_holds_every_rollout_of_the_policy_but_not_a_rollback(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    healthy(cluster, exporter, namespace)
    apply(cluster, namespace, policy_manifest("reptate", cluster))
    names = [flag.lower().replace("_", "-") for flag in FLAGS]
    for flag in FLAGS:
        apply(cluster, namespace, flag_rollout(flag, soak="15s"))
    for name in names:
        eventually(
            lambda name=name: step_of(cluster, namespace, name)[0] == "Progressing",
            timeout=60,
            what=f"{name} to start",
        )
    freeze = {"reason": "RepTate release train", "until": "2099-01-01T00:00:00Z"}
    apply(cluster, namespace, policy_manifest("reptate", cluster, freeze=freeze))
    for name in names:
        eventually(
            lambda name=name: (
                "promotion frozen until 2099-01-01 00:00 UTC: RepTate release "
                "train" in (status(cluster, namespace, name).get("message") or "")
            ),
            timeout=30,
            what=f"{name} to hold in canary for the freeze",
        )
        assert step_of(cluster, namespace, name) == ("Progressing", "canary")
        assert condition(cluster, namespace, name, "PromotionAllowed")["reason"] == "Frozen"
        reconciling = condition(cluster, namespace, name, "Reconciling")
        assert (reconciling["status"], reconciling["reason"]) == ("True", "Frozen")

    exporter.set_gauge("reptate_errors_USE_SAFE_EVAL", 0.3)
    eventually(
        lambda: step_of(cluster, namespace, "use-safe-eval")[0] == "RolledBack",
        timeout=30,
        what="a rollback inside the freeze",
    )
    apply(cluster, namespace, policy_manifest("reptate", cluster))  # the freeze is lifted
    for name in names[1:]:
        eventually(
            lambda name=name: step_of(cluster, namespace, name)[0] == "Completed",
            timeout=30,
            what=f"{name} to complete once the freeze is lifted",
        )
    assert step_of(cluster, namespace, "use-safe-eval")[0] == "RolledBack"


def test_a_start_waits_for_its_window_across_an_operator_restart(
    cluster: Cluster, namespace: str, operator: OperatorProcess
) -> None:
    now = datetime.now(UTC)
    # The next whole minute at least 20 s away: the window opens then, for five minutes.
    opens = (now + timedelta(seconds=80)).replace(second=0, microsecond=0)
    window = {
        "start": f"{opens:%H:%M}",
        "end": f"{opens + timedelta(minutes=5):%H:%M}",
        "timeZone": "UTC",
    }
    manifest = rollout_manifest(
        "nightly",
        [
            {"name": "canary", "percentage": 10, "duration": "1s"},
            {"name": "all", "percentage": 100},
        ],
        promotionWindows=[window],
    )
    apply(cluster, namespace, manifest)
    expected = f"next window {opens:%a %H:%M} UTC"
    eventually(
        lambda: expected in (status(cluster, namespace, "nightly").get("message") or ""),
        timeout=30,
        what="the rollout to wait at 0 % for its window",
    )
    assert step_of(cluster, namespace, "nightly")[0] == "Pending"
    assert condition(cluster, namespace, "nightly", "Reconciling")["reason"] == "OutsideWindow"
    assert condition(cluster, namespace, "nightly", "Stalled")["status"] == "False"
    operator.kill()
    operator.start()
    # Held until the window opens (the operator restarted meanwhile), then it goes on by itself.
    eventually(
        lambda: step_of(cluster, namespace, "nightly")[0] != "Pending",
        timeout=(opens - datetime.now(UTC)).total_seconds() + 30,
        what="the rollout to start when its window opens",
    )
    started = datetime.now(UTC)
    assert started >= opens, f"started at {started}, before the window opened at {opens}"
    history = status(cluster, namespace, "nightly")["history"]
    first = next(h for h in history if h["reason"] == "Started")
    assert datetime.fromisoformat(first["time"].replace("Z", "+00:00")) >= opens
    eventually(
        lambda: step_of(cluster, namespace, "nightly")[0] == "Completed",
        timeout=30,
        what="the rollout to complete inside its window",
    )


def test_a_rollout_whose_policy_is_missing_holds_with_a_condition_naming_it(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    healthy(cluster, exporter, namespace)
    apply(cluster, namespace, flag_rollout("USE_SAFE_EVAL", soak="1s"))
    eventually(
        lambda: (
            condition(cluster, namespace, "use-safe-eval", "PolicyResolved").get("reason")
            == "PolicyNotFound"
        ),
        timeout=30,
        what="the PolicyResolved condition to say the policy is missing",
    )
    resolved = condition(cluster, namespace, "use-safe-eval", "PolicyResolved")
    assert resolved["status"] == "False"
    assert (
        f"RolloutPolicy reptate (spec.policy) not found in namespace {namespace}"
        in (resolved["message"])
    )
    assert step_of(cluster, namespace, "use-safe-eval")[0] == "Paused"
    assert published_percentage(cluster, namespace, "use-safe-eval-flag") in (None, "0")
    # The policy's creation wakes the Rollout that names it: it starts with the health check.
    apply(cluster, namespace, policy_manifest("reptate", cluster))
    eventually(
        lambda: step_of(cluster, namespace, "use-safe-eval")[0] == "Completed",
        timeout=60,
        what="the rollout to go on once its policy exists",
    )
    final = status(cluster, namespace, "use-safe-eval")
    assert [m["name"] for m in final["metrics"]] == ["errors"]
    # Deleted mid-flight: held again, never analysed without the policy's checks.
    cluster.custom.delete_namespaced_custom_object(
        GROUP, VERSION, namespace, "rolloutpolicies", "reptate"
    )
    eventually(
        lambda: (
            condition(cluster, namespace, "use-safe-eval", "PolicyResolved").get("status")
            == "False"
        ),
        timeout=30,
        what="the deletion to be noticed",
    )
