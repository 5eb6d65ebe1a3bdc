"""I3b on the testbed: a Rollout whose analysis cannot be answered yet (a query Prometheus
refuses, an address or credentials this operator's admin did not allow) exposes nobody and pages
nobody. It waits at 0 % with a message naming what it waits for, for as many analyses as it
takes, and starts by itself once the query or the operator's configuration is fixed."""

from __future__ import annotations

from tests.e2e.test_prometheus_allow_list_guards_credentials_and_bodies import (
    TOKEN,
    StartOperator,
    auth_secret,
    listener,
    rollout,
    start_operator,
)
from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.listener import Listener
from tests.support.rollouts import apply, published_percentage, status, wait_phase

__all__ = ["listener", "start_operator"]


def waiting_at_zero(cluster: Cluster, namespace: str, name: str, errors: int) -> dict[str, str]:
    """The Rollout still Pending at 0 % after ``errors`` failed analyses, past its errorLimit."""

    def failed_often() -> dict[str, str] | None:
        s = status(cluster, namespace, name)
        metrics = s.get("metrics") or [{}]
        return s if int(metrics[0].get("consecutiveErrors") or 0) >= errors else None

    s = eventually(failed_often, timeout=60, what=f"{errors} failed analyses of {name}")
    assert s["phase"] == "Pending" and not s.get("phaseStartedAt"), s
    assert s["message"].startswith("waiting at 0 % to start"), s["message"]
    progressing = next(c for c in s["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "WaitingToStart"
    assert published_percentage(cluster, namespace, f"{name}-flag") in (None, "0")
    assert not any(h["reason"] == "RolledBack" for h in s.get("history") or [])
    return s


def test_a_query_prometheus_refuses_waits_at_zero_then_starts_once_answered(
    cluster: Cluster, namespace: str, start_operator: StartOperator, listener: Listener
) -> None:
    start_operator()
    apply(cluster, namespace, rollout("unparsed", listener.url, error_limit=2))
    s = waiting_at_zero(cluster, namespace, "unparsed", errors=4)
    assert "error-rate" in s["message"] and "HTTP 400" in s["message"]

    listener.answer_prometheus_value(0)  # the query fixed
    eventually(
        lambda: published_percentage(cluster, namespace, "unparsed-flag") in ("10", "100"),
        timeout=30,
        what="the first phase started by itself once the query was answered",
    )


def test_credentials_the_admin_did_not_allow_hold_at_zero_until_allowed(
    cluster: Cluster, namespace: str, start_operator: StartOperator, listener: Listener
) -> None:
    """Hole 10: the operator's own configuration is not a reason to roll back and page."""
    listener.answer_prometheus_value(0)
    first = start_operator()  # no --prometheus-allow: credentials go nowhere
    auth_secret(cluster, namespace)
    apply(cluster, namespace, rollout("guarded", listener.url, authorization=True, error_limit=2))
    s = waiting_at_zero(cluster, namespace, "guarded", errors=4)
    assert "--prometheus-allow" in s["message"]
    assert listener.requests == []

    first.stop()  # the admin allows the address: no person touches the Rollout
    start_operator("--prometheus-allow", listener.url)
    wait_phase(
        cluster,
        namespace,
        "guarded",
        "Completed",
        timeout=60,
        what="the rollout to start and complete by itself once the address is allowed",
    )
    assert listener.authorization_headers() and set(listener.authorization_headers()) == {TOKEN}
