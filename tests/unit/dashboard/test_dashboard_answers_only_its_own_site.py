"""The dashboard acts with the viewer's credentials, so it answers only its own pages: a request
naming a Host outside `--accept-hosts` (DNS rebinding) is refused, so is a POST (an action) or an
API read sent from another site's page, its pages cannot be framed by another site, and bound
beyond loopback every request needs the token it printed at start.

The real `ramp dashboard` process, with a kubeconfig whose API server does not answer: every
check here happens before the dashboard asks Kubernetes anything."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dashboard import DashboardProcess
from tests.support.operator_process import free_port

ATTACKER = "http://attacker.example"
ACTION = "/api/rollouts/default/checkout/abort"


def unreachable_kubeconfig(folder: Path) -> str:
    """A kubeconfig naming an API server nobody listens on (the dashboard shows the error)."""
    path = folder / "kubeconfig"
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {{server: "https://127.0.0.1:{free_port()}", insecure-skip-tls-verify: true}}
users:
- name: viewer
  user: {{token: viewer-token}}
contexts:
- name: nowhere
  context: {{cluster: nowhere, user: viewer, namespace: default}}
current-context: nowhere
"""
    )
    return str(path)


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> str:
    return unreachable_kubeconfig(tmp_path_factory.mktemp("kube"))


@pytest.fixture(scope="module")
def dashboard(
    kubeconfig: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashboardProcess]:
    """`ramp dashboard` as started by default: on 127.0.0.1, default --accept-hosts."""
    log = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    process = DashboardProcess(kubeconfig, "default", free_port(), log)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def shared_dashboard(
    kubeconfig: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashboardProcess]:
    """`ramp dashboard` bound beyond loopback, reached as dashboard.internal or 127.0.0.1."""
    log = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    hosts = r"^dashboard\.internal$,^127\.0\.0\.1$"
    extra = ("--address", "0.0.0.0", "--accept-hosts", hosts)
    process = DashboardProcess(kubeconfig, "default", free_port(), log, extra)
    yield process
    process.stop()


def test_a_request_naming_a_host_outside_accept_hosts_is_refused(
    dashboard: DashboardProcess,
) -> None:
    port = dashboard.port
    for host in ("attacker.example", "localhost.attacker.example", "127.0.0.1.attacker.example"):
        for path in ("/", "/api/rollouts", "/static/common.js"):
            answer = dashboard.request("GET", path, {"Host": f"{host}:{port}"})
            assert answer.status == 403, (host, path, answer)
            assert f"Host {host!r} is not accepted" in answer.text
            assert "--accept-hosts" in answer.text
    for host in ("localhost", "127.0.0.1", "[::1]"):
        answer = dashboard.request("GET", "/api/rollouts", {"Host": f"{host}:{port}"})
        assert answer.status == 200, (host, answer)


def test_an_action_posted_from_another_origin_is_refused(dashboard: DashboardProcess) -> None:
    own = f"http://127.0.0.1:{dashboard.port}"
    body = {"full": False}
    for headers in (
        {"Origin": ATTACKER},
        {"Origin": "null"},
        {"Origin": f"http://localhost:{dashboard.port}"},  # another origin, though accepted
        {"Referer": f"{ATTACKER}/page"},
        {},
    ):
        answer = dashboard.request("POST", ACTION, headers, body)
        assert answer.status == 403, (headers, answer)
        assert "own origin" in answer.text, answer.text
    # Its own page's POST passes the check: the rollout is then looked up (none exists here).
    for headers in ({"Origin": own}, {"Referer": f"{own}/rollouts/default/checkout"}):
        answer = dashboard.request("POST", ACTION, headers, body)
        assert answer.status == 404, (headers, answer)
        assert "not found" in answer.json()["error"]


def test_an_api_read_from_another_site_is_refused_but_a_link_to_a_page_works(
    dashboard: DashboardProcess,
) -> None:
    own = f"http://127.0.0.1:{dashboard.port}"
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": ATTACKER}):
        answer = dashboard.request("GET", "/api/rollouts/default/checkout/series", headers)
        assert answer.status == 403, (headers, answer)
        assert "another site" in answer.text
    answer = dashboard.request(
        "GET", "/api/rollouts", {"Sec-Fetch-Site": "same-origin", "Origin": own}
    )
    assert answer.status == 200
    # Following a link from elsewhere opens the page; the page's own reads are same-origin.
    answer = dashboard.request("GET", "/", {"Sec-Fetch-Site": "cross-site"})
    assert answer.status == 200


def test_no_other_site_can_frame_the_dashboard(dashboard: DashboardProcess) -> None:
    for path in ("/", "/rollouts/default/checkout", "/api/rollouts"):
        answer = dashboard.request("GET", path)
        assert answer.status == 200
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_beyond_loopback_every_request_needs_the_printed_token(
    shared_dashboard: DashboardProcess,
) -> None:
    token = shared_dashboard.token
    assert token is not None, (
        f"no ?token= in what the dashboard printed:\n{shared_dashboard.tail()}"
    )
    assert len(token) >= 32
    host = {"Host": f"dashboard.internal:{shared_dashboard.port}"}
    for path in ("/", "/api/rollouts", "/api/rollouts/default/checkout/series", "/static/app.css"):
        refused = shared_dashboard.request("GET", path, host)
        assert refused.status == 403, (path, refused)
        assert "token" in refused.text
        assert token not in refused.text
    wrong = shared_dashboard.request("GET", f"/api/rollouts?token={token[:-1]}x", host)
    assert wrong.status == 403

    opened = shared_dashboard.request("GET", f"/?token={token}", host)
    assert opened.status == 200
    cookie = opened.headers["Set-Cookie"]
    name, _, rest = cookie.partition("=")
    assert rest.startswith(f"{token};")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    with_cookie = {**host, "Cookie": f"{name}={token}"}
    assert shared_dashboard.request("GET", "/api/rollouts", with_cookie).status == 200
    assert shared_dashboard.request("GET", "/static/app.css", with_cookie).status == 200
    stale = {**host, "Cookie": f"{name}={token[:-1]}x"}
    assert shared_dashboard.request("GET", "/api/rollouts", stale).status == 403

    # The token does not replace the other checks: an action still needs the own origin.
    own = f"http://dashboard.internal:{shared_dashboard.port}"
    foreign = {**with_cookie, "Origin": ATTACKER}
    assert shared_dashboard.request("POST", ACTION, foreign, {}).status == 403
    assert (
        shared_dashboard.request("POST", ACTION, {**with_cookie, "Origin": own}, {}).status == 404
    )
    # --accept-hosts replaced the default list: localhost is not in this one.
    localhost = {"Host": f"localhost:{shared_dashboard.port}", "Cookie": f"{name}={token}"}
    assert shared_dashboard.request("GET", "/api/rollouts", localhost).status == 403


def test_unusable_flags_are_refused_naming_the_flag(kubeconfig: str) -> None:
    for flags, problem in (
        (("--accept-hosts", "^local(host$"), "--accept-hosts '^local(host$' is not a regular"),
        (("--prometheus-allow", "ftp://prometheus"), "--prometheus-allow 'ftp://prometheus'"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "ramp", "dashboard", "--kubeconfig", kubeconfig, *flags],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode != 0
        assert problem in " ".join((proc.stderr + proc.stdout).split()), proc.stderr
