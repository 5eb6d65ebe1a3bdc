"""Where the operator may send queries and credentials, and what of an answer it repeats.

A Rollout's author chooses the Prometheus address; the operator's admin chooses which addresses
are allowed (`ramp run --prometheus-allow`). Errors say the HTTP status and a fixed reason, never
what the server answered, because that text ends up in status and Events.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from ramp.api import RolloutSpec
from ramp.k8s.clients import Clients
from ramp.metrics.allowlist import AllowList, pattern_problem
from ramp.metrics.prometheus import PrometheusProvider, instant_value, refusal_reason
from ramp.runtime.provider_pool import ProviderConfigError, ProviderPool
from tests.support.listener import SECRET_BODY_TEXT, Listener

ALLOWED = AllowList.parse(
    [
        "http://prometheus.monitoring:9090",
        "https://thanos.example/tenant-a/*",
        "http://127.0.0.1:*",
    ]
)


@pytest.mark.parametrize(
    "address",
    [
        "http://prometheus.monitoring:9090",
        "http://prometheus.monitoring:9090/",
        "HTTP://Prometheus.Monitoring:9090",
        "https://thanos.example/tenant-a",
        "https://thanos.example/tenant-a/",
        "https://thanos.example/tenant-a/api/prom",
        "http://127.0.0.1:41234",
    ],
)
def test_allowed_addresses_match_exactly_or_by_prefix(address: str) -> None:
    assert ALLOWED.allows(address), ALLOWED.refusal(address)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("http://prometheus.monitoring:9091", "not allowed by this operator's"),
        ("http://prometheus.monitoring:9090/sub", "not allowed by this operator's"),
        ("https://prometheus.monitoring:9090", "not allowed by this operator's"),
        ("https://thanos.example/tenant-b", "not allowed by this operator's"),
        ("https://thanos.example/tenant-ab", "not allowed by this operator's"),
        # The host is attacker.example; the allowed name is only user information.
        ("http://prometheus.monitoring:9090@attacker.example", "user information"),
        ("http://127.0.0.1:1@attacker.example", "user information"),
        # The HTTP client resolves dot segments, which would leave the tenant's prefix.
        ("https://thanos.example/tenant-a/../tenant-b", ". or .. segments"),
        ("https://thanos.example/tenant-a/%2e%2e/tenant-b", ". or .. segments"),
        ("http://prometheus.monitoring:9090?x=1", "?query"),
        ("http://prometheus.monitoring:9090.attacker.example", "port is not a number"),
        ("http://10.0.0.1:9090", "not allowed by this operator's"),
    ],
)
def test_other_addresses_are_refused_naming_the_field_and_the_flag(address: str, why: str) -> None:
    refusal = ALLOWED.refusal(address)
    assert refusal is not None, f"{address} was allowed"
    assert refusal.startswith(f"spec.analysis.prometheus.address: {address} is not allowed")
    assert why in refusal
    if "operator's" in why:
        assert "--prometheus-allow" in refusal
        assert "prometheus.allowedAddresses" in refusal


def test_no_patterns_is_an_empty_allow_list() -> None:
    assert not AllowList.parse([])
    assert AllowList.parse(["http://p:9090"])


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("prometheus:9090", "starts with http:// or https://"),
        ("http://*.monitoring:9090", "'*' may only end a pattern"),
        ("http://user@prometheus:9090", "user information"),
        ("http://a@b/*", "may not contain '@'"),
        ("http://prometheus:9090/?q", "?query"),
    ],
)
def test_unusable_patterns_are_refused_naming_the_flag(pattern: str, problem: str) -> None:
    found = pattern_problem(pattern)
    assert found is not None and found.startswith(f"--prometheus-allow {pattern!r}")
    assert problem in found
    with pytest.raises(ValueError, match="--prometheus-allow"):
        AllowList.parse([pattern])


# -- the pool: no request outside the list, credentials only inside it --------------------------


def spec_for(address: str, authorization: bool = False, timeout: str = "2s") -> RolloutSpec:
    prometheus: dict[str, object] = {"address": address, "timeout": timeout}
    if authorization:
        prometheus["authorization"] = {"secretRef": {"name": "prom-auth", "key": "header"}}
    return RolloutSpec.model_validate(
        {
            "flag": {"key": "f", "configMap": "f-flag"},
            "phases": [{"name": "all", "percentage": 100}],
            "analysis": {
                "interval": "1s",
                "prometheus": prometheus,
                "metrics": [{"name": "m", "query": "up", "critical": {"above": 1}}],
            },
        }
    )


# No API call is made in these tests: a refused Rollout is refused before its Secret is read.
UNCONFIGURED = Clients(client.ApiClient(client.Configuration(host="http://127.0.0.1:9")))


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def test_a_refused_address_gets_no_request(listener: Listener) -> None:
    pool = ProviderPool(UNCONFIGURED, AllowList.parse(["http://prometheus.monitoring:9090"]))
    with pytest.raises(ProviderConfigError, match="is not allowed") as refused:
        pool.provider_for("ns", spec_for(listener.url))
    assert "--prometheus-allow" in str(refused.value)
    assert listener.count() == 0


def test_authorization_without_an_allow_list_is_refused_before_reading_the_secret() -> None:
    pool = ProviderPool(UNCONFIGURED, AllowList())
    with pytest.raises(ProviderConfigError) as refused:
        pool.provider_for("ns", spec_for("http://prometheus.monitoring:9090", authorization=True))
    message = str(refused.value)
    assert message.startswith("spec.analysis.prometheus.authorization:")
    assert "no allow-list" in message and "--prometheus-allow" in message
    # Without credentials, any address still works with no configuration at all.
    assert pool.provider_for("ns", spec_for("http://prometheus.monitoring:9090")) is not None


def open_connections(provider: PrometheusProvider) -> int:
    adapters = provider._client._session.adapters.values()
    return sum(len(adapter.poolmanager.pools) for adapter in adapters)  # type: ignore[attr-defined]


def test_pool_is_bounded_and_closes_the_evicted_session(listener: Listener) -> None:
    listener.answer_prometheus_value(1)
    pool = ProviderPool(UNCONFIGURED, AllowList(), capacity=2)

    def provider(timeout: str) -> PrometheusProvider:
        return pool.provider_for("ns", spec_for(listener.url, timeout=timeout))

    first = provider("1s")
    assert first.sample("up").value == 1
    assert provider("1s") is first
    provider("2s")
    provider("1s")  # used again: 2s is now the least recently used
    provider("3s")
    assert len(pool) == 2
    assert provider("1s") is first
    assert open_connections(first) == 1
    provider("4s")
    provider("5s")
    assert len(pool) == 2
    assert open_connections(first) == 0, "the evicted client's connections were left open"
    assert provider("1s") is not first


# -- what of an answer reaches an error text: only its HTTP status --------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 418, 422, 429, 500, 503])
def test_http_errors_say_the_status_and_a_fixed_reason_never_the_body(
    listener: Listener, status: int
) -> None:
    listener.answer(
        status,
        f'{{"status":"error","errorType":"bad_data","error":"{SECRET_BODY_TEXT}"}}'.encode(),
    )
    sample = PrometheusProvider(listener.url, timeout=2).sample("up")
    assert sample.error is not None
    assert f"(HTTP {status})" in sample.error, sample.error
    assert SECRET_BODY_TEXT not in sample.error
    assert sample.error.startswith(f"Prometheus at {listener.url} refused the query: ")


def test_a_bad_query_is_named_as_such() -> None:
    reason = refusal_reason(f"HTTP Status Code 400 (b'{SECRET_BODY_TEXT}')")
    assert reason.startswith("bad query (HTTP 400)")
    assert refusal_reason("something else entirely") == "unexpected answer"


@pytest.mark.parametrize(
    "body",
    [
        f'{{"status":"success","data":{{"resultType":"vector","result":[{{"value":[0,"{SECRET_BODY_TEXT}"]}}]}}}}',
        f'{{"status":"success","data":{{"resultType":"vector","result":[{{"{SECRET_BODY_TEXT}":1}}]}}}}',
        f'{{"status":"success","data":{{"result":"{SECRET_BODY_TEXT}"}}}}',
        f"<html>{SECRET_BODY_TEXT}</html>",
    ],
    ids=["non-numeric value", "no value", "not a list", "not json"],
)
def test_an_unreadable_answer_is_an_error_that_does_not_quote_it(
    listener: Listener, body: str
) -> None:
    listener.answer(200, body.encode())
    sample = PrometheusProvider(listener.url, timeout=2).sample("up")
    assert sample.error is not None and sample.value is None
    assert SECRET_BODY_TEXT not in sample.error


def test_a_readable_answer_is_its_number(listener: Listener) -> None:
    listener.answer_prometheus_value(0.25)
    assert PrometheusProvider(listener.url, timeout=2).sample("up").value == 0.25
    assert instant_value([1700000000, "3"]) == 3
    assert instant_value([]) is None
