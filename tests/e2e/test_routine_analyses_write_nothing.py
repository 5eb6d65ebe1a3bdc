"""An analysing Rollout that finds the same every interval does not write its status each time
(engine.writes): the readings stay in the operator's memory, the stored analysis is refreshed
every --status-refresh seconds, anything new (a verdict) is written at once, and an operator
killed with unwritten readings carries on from what is stored. Such analyses need no whole
decision (engine.routine); anything they do not cover (a value past a threshold, a person's
action, a ConfigMap changed by hand) is still decided in full at once."""

from __future__ import annotations

import time

from tests.support.analysis import analysed_rollout, error_rate
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.exporter import Exporter
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import (
    apply,
    get,
    ramp,
    settled_at_gate,
    status,
    wait_phase,
    wait_published,
    when,
)

REFRESH = 12.0
OPERATOR_ARGS = ("--status-refresh", f"{REFRESH:g}")
GATED = [
    {"name": "canary", "percentage": 10, "approval": "Manual"},
    {"name": "everyone", "percentage": 100},
]


def wait_counted(operator: OperatorProcess, counter: str, analyses: int, what: str) -> None:
    done = operator.sample(counter)
    eventually(
        lambda: operator.sample(counter) >= done + analyses,
        timeout=REFRESH,
        what=f"{analyses} more analyses (every 1 s) {what}",
    )


def wait_kept_in_memory(operator: OperatorProcess, analyses: int) -> None:
    wait_counted(operator, "ramp_analyses_unwritten_total", analyses, "kept in memory")


def wait_routine(operator: OperatorProcess, analyses: int) -> None:
    wait_counted(
        operator, "ramp_analyses_routine_total", analyses, "taken without a whole decision"
    )


def gated(cluster: Cluster, namespace: str, name: str) -> None:
    metric = error_rate(warning={"above": 0.01})
    apply(cluster, namespace, analysed_rollout(cluster, name, namespace, [metric], phases=GATED))
    eventually(
        lambda: settled_at_gate(status(cluster, namespace, name)),
        timeout=60,
        what=f"{name} to await approval with its publish and announcements done",
    )


def test_same_readings_are_not_written_until_the_refresh(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    gated(cluster, namespace, "quiet")
    before = get(cluster, namespace, "quiet")
    version = before["metadata"]["resourceVersion"]
    stored_at = when(before["status"]["lastAnalysisAt"])
    wait_kept_in_memory(operator, 3)
    wait_routine(operator, 3)
    now = get(cluster, namespace, "quiet")
    assert now["metadata"]["resourceVersion"] == version, "a routine analysis was written"
    assert now["status"]["lastAnalysisAt"] == before["status"]["lastAnalysisAt"]

    # The stored analysis gets no older than the refresh interval.
    eventually(
        lambda: when(status(cluster, namespace, "quiet")["lastAnalysisAt"]) > stored_at,
        timeout=REFRESH + 10,
        what=f"the stored analysis refreshed within {REFRESH:g} s",
    )
    refreshed = when(status(cluster, namespace, "quiet")["lastAnalysisAt"])
    assert (refreshed - stored_at).total_seconds() <= REFRESH + 1.5


def test_a_settled_analysing_rollout_sends_no_api_request(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    """Idle costs nothing: the Rollout and its ConfigMap come from the watch, and readings
    that found the same stay in memory, so analyses send Prometheus queries and nothing else."""
    gated(cluster, namespace, "idle")
    # Let the stored readings be refreshed first, so that none falls due during the count.
    stored_at = when(status(cluster, namespace, "idle")["lastAnalysisAt"])
    eventually(
        lambda: when(status(cluster, namespace, "idle")["lastAnalysisAt"]) > stored_at,
        timeout=REFRESH + 10,
        what="the stored readings refreshed",
    )
    before = operator.work_requests()
    wait_kept_in_memory(operator, 3)
    assert operator.work_requests() == before, "analyses that found the same sent API requests"

    # A ConfigMap that loses Ramp's labels leaves the watch (the API server tells it as
    # DELETED): the next analysis reads it from the API instead of trusting what it knew.
    gets = operator.sample("ramp_api_requests_total", method="GET", resource="configmaps")
    cluster.core.patch_namespaced_config_map(
        "idle-flag", namespace, {"metadata": {"labels": {"app.kubernetes.io/managed-by": None}}}
    )
    eventually(
        lambda: (
            operator.sample("ramp_api_requests_total", method="GET", resource="configmaps") > gets
        ),
        timeout=10,
        what="the unlabelled ConfigMap to be read from the API",
    )


def test_a_new_verdict_is_written_at_once(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    gated(cluster, namespace, "warned")
    stored_at = when(status(cluster, namespace, "warned")["lastAnalysisAt"])
    wait_routine(operator, 2)  # the value that follows is the first a routine does not cover
    exporter.set_error_rate(0.02)  # above the warning, below the critical
    eventually(
        lambda: status(cluster, namespace, "warned").get("health") == "Warning",
        timeout=REFRESH - 1,
        what="the Warning verdict stored before the refresh interval could have run out",
    )
    warned = status(cluster, namespace, "warned")
    assert when(warned["lastAnalysisAt"]) > stored_at
    assert warned["metrics"][0]["value"] == 0.02


def test_killed_with_unwritten_readings_carries_on_from_the_stored_status(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    gated(cluster, namespace, "crashed")
    wait_kept_in_memory(operator, 2)
    stored = status(cluster, namespace, "crashed")
    operator.kill()
    operator.start()
    restarted = time.time()
    # What was lost was only readings: the new process analyses from the stored status and
    # a breach found after the restart rolls back as it would have.
    exporter.set_error_rate(0.3)
    wait_phase(
        cluster,
        namespace,
        "crashed",
        "RolledBack",
        timeout=60,
        what="the breach after the restart to roll the rollout back",
    )
    final = status(cluster, namespace, "crashed")
    assert when(final["lastAnalysisAt"]) > when(stored["lastAnalysisAt"])
    assert final["snapshot"]["metrics"][0]["value"] == 0.3
    reasons = [h["reason"] for h in final["history"]]
    assert reasons.count("Started") == 1, reasons
    assert time.time() - restarted < 60
    refused = ramp(cluster, "promote", "crashed", "-n", namespace, check=False)
    assert refused.returncode == 1


def test_a_person_or_a_hand_edit_is_decided_at_once_between_routine_analyses(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    gated(cluster, namespace, "steered")
    wait_routine(operator, 2)
    # A ConfigMap edited by hand: its new version ends the routine, and the whole decision
    # publishes what the status says again.
    cluster.core.patch_namespaced_config_map(
        "steered-flag", namespace, {"data": {"FEATURE_PERCENTAGE": "100"}}
    )
    wait_published(
        cluster,
        namespace,
        "steered-flag",
        "10",
        timeout=10,
        what="the hand edit of the ConfigMap undone",
    )
    wait_routine(operator, 2)
    ramp(cluster, "promote", "steered", "-n", namespace)
    wait_phase(
        cluster,
        namespace,
        "steered",
        "Completed",
        "everyone",
        timeout=10,
        what="`ramp promote` applied while the analyses were routine",
    )
    wait_published(cluster, namespace, "steered-flag", "100")


def test_a_refresh_that_falls_between_two_analyses_is_one_reconcile(
    cluster: Cluster, namespace: str, operator: OperatorProcess, exporter: Exporter
) -> None:
    """The stored readings come due for their refresh between two analyses (every 8 s here,
    with a 12 s refresh): the loop wakes once for it, writes, and sleeps until the next
    analysis. It once came back every 50 ms from the refresh until the next analysis, because
    the routine kept answering "come back at the refresh" after the refresh time had passed:
    at 10,000 Rollouts, 127,000 reconciles a minute while idle."""
    metric = error_rate(warning={"above": 0.01})
    body = analysed_rollout(cluster, "spaced", namespace, [metric], phases=GATED)
    body["spec"]["analysis"]["interval"] = "8s"
    apply(cluster, namespace, body)
    eventually(
        lambda: settled_at_gate(status(cluster, namespace, "spaced")),
        timeout=60,
        what="spaced to await approval with its publish and announcements done",
    )
    first = when(status(cluster, namespace, "spaced")["lastAnalysisAt"])
    eventually(
        lambda: when(status(cluster, namespace, "spaced")["lastAnalysisAt"]) > first,
        timeout=REFRESH + 10,
        what="the first refresh of the stored readings",
    )
    refreshed = when(status(cluster, namespace, "spaced")["lastAnalysisAt"])
    reconciles = operator.sample("ramp_reconcile_duration_seconds_count")
    eventually(
        lambda: when(status(cluster, namespace, "spaced")["lastAnalysisAt"]) > refreshed,
        timeout=REFRESH + 10,
        what="the second refresh of the stored readings",
    )
    # Between two refreshes 12 s apart: one or two analyses, the refresh and its echo.
    spent = operator.sample("ramp_reconcile_duration_seconds_count") - reconciles
    assert spent <= 6, f"{spent:g} reconciles between two refreshes 12 s apart (analyses: 8 s)"
