"""The allow-list judges every request the Prometheus client sends: a redirect is an error and
is never followed (the address it points to was never judged), and a prefix pattern that leaves
the host name open (`http://prometheus.monitoring*`, which also matches
`prometheus.monitoring.attacker.example`) is refused when `ramp run` starts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

import ramp.runtime.main
from ramp.cli.app import app
from ramp.metrics.allowlist import AllowList, pattern_problem
from ramp.metrics.prometheus import PrometheusProvider
from tests.support.listener import SECRET_BODY_TEXT, Listener


@pytest.fixture
def listeners() -> Iterator[tuple[Listener, Listener]]:
    """The address a Rollout names, and another one it redirects to."""
    named, elsewhere = Listener(), Listener()
    elsewhere.answer_prometheus_value(1)
    yield named, elsewhere
    named.close()
    elsewhere.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_error_and_the_other_address_gets_no_request(
    listeners: tuple[Listener, Listener], status: int
) -> None:
    named, elsewhere = listeners
    named.answer_redirect(f"{elsewhere.url}/api/v1/query?query=up", status)
    provider = PrometheusProvider(named.url, timeout=2, headers={"Authorization": "Bearer t0k"})
    sample = provider.sample("up")
    assert sample.value is None and sample.error is not None
    said = f"Prometheus at {named.url} redirected the query (HTTP {status})"
    assert sample.error.startswith(said), sample.error
    assert "fix spec.analysis.prometheus.address" in sample.error
    assert elsewhere.url not in sample.error and SECRET_BODY_TEXT not in sample.error
    assert named.count() == 1
    assert elsewhere.count() == 0, "the redirect was followed, and the credentials with it"


def test_range_queries_do_not_follow_a_redirect_either(
    listeners: tuple[Listener, Listener],
) -> None:
    named, elsewhere = listeners
    named.answer_redirect(elsewhere.url)
    provider = PrometheusProvider(named.url, timeout=2)
    with pytest.raises(RuntimeError, match="redirected the query"):
        provider.by_label("up", "cohort", datetime.now(UTC))
    assert elsewhere.count() == 0


LOOSE = [
    ("http://prometheus.monitoring*", "http://prometheus.monitoring"),
    ("https://thanos.example*", "https://thanos.example"),
    ("http://127.0.0.1*", "http://127.0.0.1"),
    ("http://[::1*", "http://[::1"),
]


@pytest.mark.parametrize(("pattern", "body"), LOOSE)
def test_a_prefix_that_leaves_the_host_open_is_refused_showing_the_safe_forms(
    pattern: str, body: str
) -> None:
    problem = pattern_problem(pattern)
    assert problem is not None, f"{pattern} would allow {body[body.index('//') + 2 :]}.other"
    assert problem.startswith(f"--prometheus-allow {pattern!r}:")
    assert f"'{body}:*'" in problem and f"'{body}/*'" in problem
    assert "\n" not in problem
    with pytest.raises(ValueError, match="continues the host name"):
        AllowList.parse([pattern])


@pytest.mark.parametrize(
    "pattern",
    [
        "http://prometheus.monitoring:*",
        "http://prometheus.monitoring/*",
        "http://prometheus.monitoring:90*",
        "https://thanos.example/tenant-a*",
        "http://[::1]*",
        "https://*",
    ],
)
def test_a_prefix_that_ends_the_host_is_accepted(pattern: str) -> None:
    assert pattern_problem(pattern) is None


def test_a_host_ended_prefix_never_matches_a_longer_host() -> None:
    allow = AllowList.parse(["http://prometheus.monitoring:*", "http://prometheus.monitoring/*"])
    assert allow.allows("http://prometheus.monitoring:9090")
    assert allow.allows("http://prometheus.monitoring/")
    assert not allow.allows("http://prometheus.monitoring.attacker.example:9090")
    assert not allow.allows("http://prometheus.monitoring.attacker.example")


@pytest.mark.parametrize("flag", ["--prometheus-allow", "--webhook-allow"])
def test_ramp_run_refuses_a_loose_prefix_before_it_starts(
    flag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    # Only a guard: were the pattern let through, no operator must start inside the test.
    monkeypatch.setattr(ramp.runtime.main, "run_operator", lambda *a, **k: started.append(a))
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--namespace",
            "reports",
            "--no-leader-elect",
            flag,
            "http://prometheus.monitoring*",
        ],
    )
    assert result.exit_code == 1, result.output
    assert not started
    error = " ".join(result.output.split())  # the terminal may wrap the one line
    assert f"{flag} 'http://prometheus.monitoring*'" in error
    assert "'http://prometheus.monitoring:*'" in error
    assert "'http://prometheus.monitoring/*'" in error
