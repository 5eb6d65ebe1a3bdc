"""A Rollout's author is not the operator's admin: with the real operator and a listener the test
controls, no request reaches an address outside `--prometheus-allow`, an Authorization header
from a Secret reaches only an allowed address, and nothing the listener answers reaches the
Rollout's status, its Events or the operator's log."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Cluster
from tests.support.eventually import eventually
from tests.support.listener import SECRET_BODY_TEXT, Listener
from tests.support.operator_process import OperatorProcess, running_operator
from tests.support.rollouts import apply, events, rollout_manifest, status, wait_phase

TOKEN = "Bearer 0perat0r-t0ken-fr0m-a-secret"
SOMEWHERE_ELSE = "http://prometheus.monitoring.invalid:9090"

StartOperator = Callable[..., OperatorProcess]
TwoListeners = tuple[Listener, Listener]


@pytest.fixture
def start_operator(
    cluster: Cluster, rollout_crd: str, namespace: str, tmp_path: Path
) -> Iterator[StartOperator]:
    """The real operator watching the test's namespace, with the `ramp run` flags given."""
    with ExitStack() as started:

        def start(*extra: str) -> OperatorProcess:
            log = tmp_path / "operator.log"
            return started.enter_context(running_operator(cluster, [namespace], log, extra))

        yield start


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def two_listeners(listener: Listener) -> Iterator[TwoListeners]:
    """`listener` and a second listener, both answering every query with 0 as a healthy
    Prometheus would."""
    other = Listener()
    for server in (listener, other):
        server.answer_prometheus_value(0)
    yield listener, other
    other.close()


def auth_secret(cluster: Cluster, namespace: str, value: bytes = TOKEN.encode()) -> None:
    cluster.core.create_namespaced_secret(
        namespace,
        {"metadata": {"name": "prom-auth"}, "data": {"header": base64.b64encode(value).decode()}},
    )


def rollout(
    name: str,
    address: str,
    *,
    authorization: bool = False,
    error_limit: int = 4,
    soak: str = "2s",
) -> dict[str, Any]:
    prometheus: dict[str, Any] = {"address": address, "timeout": "2s"}
    if authorization:
        prometheus["authorization"] = {"secretRef": {"name": "prom-auth", "key": "header"}}
    return rollout_manifest(
        name,
        [
            {"name": "canary", "percentage": 10, "duration": soak},
            {"name": "everyone", "percentage": 100},
        ],
        analysis={
            "interval": "1s",
            "prometheus": prometheus,
            "metrics": [{"name": "error-rate", "query": "up", "critical": {"above": 0.05}}],
            "errorLimit": error_limit,
        },
    )


def metric_message(cluster: Cluster, namespace: str, name: str) -> str:
    metrics = status(cluster, namespace, name).get("metrics") or [{}]
    return str(metrics[0].get("message") or "")


def wait_message(cluster: Cluster, namespace: str, name: str, text: str) -> str:
    return eventually(
        lambda: (
            text in metric_message(cluster, namespace, name)
            and metric_message(cluster, namespace, name)
        ),
        timeout=30,
        what=f"status.metrics[0].message of {name} to say {text!r}",
    )


def test_address_outside_the_allow_list_gets_no_request_and_a_clear_message(
    cluster: Cluster, namespace: str, start_operator: StartOperator, listener: Listener
) -> None:
    start_operator("--prometheus-allow", SOMEWHERE_ELSE)
    auth_secret(cluster, namespace)
    apply(cluster, namespace, rollout("plain", listener.url))
    apply(cluster, namespace, rollout("credentialed", listener.url, authorization=True))

    for name in ("plain", "credentialed"):
        message = wait_message(cluster, namespace, name, "is not allowed")
        assert f"spec.analysis.prometheus.address: {listener.url} is not allowed" in message
        assert "--prometheus-allow" in message
    # Several analysis intervals have passed for both Rollouts by now.
    eventually(
        lambda: "(3/" in metric_message(cluster, namespace, "plain"),
        timeout=30,
        what="three refused analyses of plain",
    )
    assert listener.requests == [], "the operator sent a request to an address not allowed"


def test_authorization_header_reaches_only_an_allowed_address(
    cluster: Cluster, namespace: str, start_operator: StartOperator, two_listeners: TwoListeners
) -> None:
    listener, other_listener = two_listeners
    operator = start_operator("--prometheus-allow", listener.url)
    auth_secret(cluster, namespace)
    apply(cluster, namespace, rollout("allowed", listener.url, authorization=True))
    apply(cluster, namespace, rollout("elsewhere", other_listener.url, authorization=True))

    wait_phase(
        cluster,
        namespace,
        "allowed",
        "Completed",
        timeout=60,
        what="the rollout analysed through the allowed address to complete",
    )
    headers = listener.authorization_headers()
    assert headers and all(header == TOKEN for header in headers)
    wait_message(cluster, namespace, "elsewhere", "is not allowed")
    assert other_listener.requests == [], "a request went to an address outside the allow-list"
    assert "t0ken" not in operator.log.read_text()


def test_authorization_without_an_allow_list_is_refused_and_sends_no_credentials(
    cluster: Cluster, namespace: str, start_operator: StartOperator, two_listeners: TwoListeners
) -> None:
    listener, other_listener = two_listeners
    start_operator()
    auth_secret(cluster, namespace)
    apply(cluster, namespace, rollout("credentialed", listener.url, authorization=True))
    # Queries without credentials need no configuration at all (`make demo`, plain setups).
    apply(cluster, namespace, rollout("plain", other_listener.url))

    message = wait_message(cluster, namespace, "credentialed", "no allow-list")
    assert message.startswith("query failed")
    assert "spec.analysis.prometheus.authorization" in message
    assert "--prometheus-allow" in message
    wait_phase(
        cluster,
        namespace,
        "plain",
        "Completed",
        timeout=60,
        what="the rollout without credentials to complete with no allow-list",
    )
    assert listener.requests == [], "a Rollout refused for its credentials still sent queries"
    assert other_listener.authorization_headers() == []


def test_listener_answers_never_reach_status_events_or_logs(
    cluster: Cluster, namespace: str, start_operator: StartOperator, listener: Listener
) -> None:
    operator = start_operator()  # no allow-list: any address may be queried without credentials
    # Answered once, so that it starts (before the start, errors only hold it at 0 %)...
    listener.answer_prometheus_value(0)
    apply(cluster, namespace, rollout("probing", listener.url, error_limit=8, soak="1h"))
    eventually(
        lambda: status(cluster, namespace, "probing").get("currentPhase") == "canary",
        timeout=30,
        what="the first phase started on a clean analysis",
    )
    # ...then the listener answers errors whose bodies carry its secret.
    listener.answer(
        400,
        json.dumps(
            {"status": "error", "errorType": "bad_data", "error": SECRET_BODY_TEXT}
        ).encode(),
    )

    message = wait_message(cluster, namespace, "probing", "refused the query")
    assert SECRET_BODY_TEXT not in message
    assert "bad query (HTTP 400)" in message
    # A success whose value is not a number: the error must not quote it either.
    vector = [{"metric": {}, "value": [0, SECRET_BODY_TEXT]}]
    listener.answer(
        200,
        json.dumps(
            {"status": "success", "data": {"resultType": "vector", "result": vector}}
        ).encode(),
    )
    message = eventually(
        lambda: (
            "HTTP 400" not in metric_message(cluster, namespace, "probing")
            and metric_message(cluster, namespace, "probing")
        ),
        timeout=30,
        what="the metric's error to follow the new answer",
    )
    assert SECRET_BODY_TEXT not in message
    assert "not an instant vector" in message
    # errorLimit consecutive errors apply the failure policy: a rollback, with its Event.
    wait_phase(
        cluster,
        namespace,
        "probing",
        "RolledBack",
        timeout=60,
        what="the errors to reach errorLimit and roll back",
    )

    assert SECRET_BODY_TEXT not in json.dumps(status(cluster, namespace, "probing"))
    recorded = events(cluster, namespace, "probing")
    assert any(event.reason == "RolledBack" for event in recorded), [e.reason for e in recorded]
    for event in recorded:
        assert SECRET_BODY_TEXT not in (event.message or "")
    assert SECRET_BODY_TEXT not in operator.log.read_text()


def test_binary_secret_value_is_named_and_other_rollouts_go_on(
    cluster: Cluster,
    namespace: str,
    start_operator: StartOperator,
    listener: Listener,
) -> None:
    listener.answer_prometheus_value(0)
    start_operator("--prometheus-allow", listener.url)
    auth_secret(cluster, namespace, value=b"\xff\xfe\x00binary")
    apply(cluster, namespace, rollout("binary", listener.url, authorization=True))
    apply(cluster, namespace, rollout("plain", listener.url))

    message = wait_message(cluster, namespace, "binary", "not UTF-8")
    assert f"Secret {namespace}/prom-auth key 'header'" in message
    wait_phase(
        cluster, namespace, "plain", "Completed", timeout=60, what="the other rollout to complete"
    )
    assert listener.authorization_headers() == []
