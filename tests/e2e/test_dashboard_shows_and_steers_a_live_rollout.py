"""`ramp dashboard` in a real browser (Debian's headless Chromium) against the testbed, the real
operator and Prometheus: the list and a Rollout's page follow the live rollout without a reload,
Promote opens a Manual gate exactly as `ramp promote` does, a rollback shows on the chart, and a
button whose action cannot apply is disabled with the CLI's refusal as its tooltip. A page whose
host name was rebound to 127.0.0.1 (DNS rebinding) gets nothing from the dashboard and cannot
steer a Rollout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.analysis import analysed_rollout, error_rate
from tests.support.browser import ARTIFACTS, chromium
from tests.support.cluster import Cluster
from tests.support.dashboard import DashboardProcess
from tests.support.eventually import eventually
from tests.support.exporter import Exporter
from tests.support.operator_process import OperatorProcess, free_port
from tests.support.rollouts import apply, delivered_event_reasons, rollout_manifest, status

PHASES = [
    {"name": "canary", "percentage": 10, "duration": "1s", "approval": "Manual"},
    {"name": "half", "percentage": 50, "duration": "1h"},
    {"name": "everyone", "percentage": 100},
]


@pytest.fixture
def dashboard(cluster: Cluster, namespace: str, tmp_path: Path) -> Iterator[DashboardProcess]:
    process = DashboardProcess(
        cluster.kubeconfig, namespace, free_port(), tmp_path / "dashboard.log"
    )
    yield process
    process.stop()


def text_of(browser: WebDriver, selector: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, selector).text)


def drawn(browser: WebDriver, script: str) -> Any:
    """What the page drew, read from the charts it keeps in window.ramp."""
    return browser.execute_script(f"return {script}")


def click_promote(browser: WebDriver, answer: str) -> None:
    """Click Promote and wait for the answer under the buttons (the CLI's own words)."""
    browser.find_element(By.CSS_SELECTOR, 'button[data-action="promote"]:not([data-full])').click()
    eventually(
        lambda: text_of(browser, "#action-result") == answer,
        timeout=10,
        what=f"the dashboard to answer Promote with {answer!r}",
    )


def screenshot(browser: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    assert browser.save_screenshot(str(path)), f"chromium saved no screenshot to {path}"
    return path


def test_dashboard_follows_promotes_and_shows_a_rollback(
    cluster: Cluster,
    namespace: str,
    operator: OperatorProcess,
    exporter: Exporter,
    dashboard: DashboardProcess,
) -> None:
    metric = error_rate(warning={"above": 0.02})
    apply(
        cluster,
        namespace,
        analysed_rollout(cluster, "checkout", namespace, [metric], phases=PHASES),
    )
    with chromium() as browser:
        # The list follows the rollout to its Manual gate without a reload.
        browser.get(dashboard.url + "/")
        row = '#rollouts tr[data-name="checkout"]'
        eventually(
            lambda: text_of(browser, f"{row} .phase") == "AwaitingApproval",
            timeout=60,
            what="the list to show checkout AwaitingApproval",
        )
        assert text_of(browser, f"{row} .percentage") == "10%"
        screenshot(browser, "list")

        # The Rollout's page: phase, percentage, ladder, the metric against its thresholds.
        browser.find_element(By.LINK_TEXT, "checkout").click()
        eventually(
            lambda: text_of(browser, "#phase") == "AwaitingApproval",
            timeout=20,
            what="the rollout page to show AwaitingApproval",
        )
        assert text_of(browser, "#percentage") == "10%"
        current = browser.find_elements(By.CSS_SELECTOR, "#ladder .rung.current")
        assert [r.text.split()[0] for r in current] == ["canary"]
        eventually(
            lambda: drawn(browser, "window.ramp.charts['metric:error-rate'].data[1].length") > 0,
            timeout=30,
            what="the error-rate chart to hold values from Prometheus",
        )
        labels = drawn(browser, "window.ramp.charts['metric:error-rate'].series.map(s => s.label)")
        assert "warning above 0.02" in labels
        assert "critical above 0.05" in labels

        # Promote opens the gate through status.control, like `ramp promote`.
        click_promote(browser, answer="promotion of checkout past canary requested")
        eventually(
            lambda: (
                text_of(browser, "#phase") == "Progressing"
                and text_of(browser, "#percentage") == "50%"
            ),
            timeout=30,
            what="the page to show the half phase at 50 % without a reload",
        )
        assert "PromoteRequested" in delivered_event_reasons(cluster, namespace, "checkout")
        assert status(cluster, namespace, "checkout")["currentPhase"] == "half"

        # A breach rolls back; the percentage chart ends at 0 with the rollback marked.
        exporter.set_error_rate(0.3)
        eventually(
            lambda: text_of(browser, "#phase") == "RolledBack",
            timeout=60,
            what="the page to show the rollback",
        )
        eventually(
            lambda: drawn(browser, "window.ramp.charts.percentage.data[1].at(-1)") == 0,
            timeout=10,
            what="the percentage chart to end at 0 %",
        )
        spike = (
            "Math.max(...window.ramp.charts['metric:error-rate'].data[1].filter(v => v !== null))"
        )
        eventually(
            lambda: drawn(browser, spike) >= 0.3,
            timeout=20,
            what="the error-rate chart to show the 0.3 Prometheus recorded",
        )
        reasons = drawn(
            browser, "window.ramp.detail.percentageSeries.transitions.map(t => t.reason)"
        )
        assert "RolledBack" in reasons, reasons
        assert browser.find_elements(By.CSS_SELECTOR, '#transitions li[data-reason="RolledBack"]')
        assert not browser.find_element(By.ID, "snapshot-section").get_attribute("hidden")
        eventually(
            lambda: browser.find_elements(By.CSS_SELECTOR, '#events td[data-reason="RolledBack"]'),
            timeout=10,
            what="the RolledBack Event in the page's Events",
        )

        # A button is enabled only where its action applies; a disabled one says why, in the
        # CLI's own words.
        promote = browser.find_element(
            By.CSS_SELECTOR, 'button[data-action="promote"]:not([data-full])'
        )
        eventually(
            lambda: not promote.is_enabled(),
            timeout=10,
            what="Promote to be disabled once RolledBack",
        )
        assert str(promote.get_attribute("title")).startswith(
            "cannot promote checkout: it is RolledBack"
        )
        assert browser.find_element(By.CSS_SELECTOR, 'button[data-action="retry"]').is_enabled()
        assert not (status(cluster, namespace, "checkout").get("control") or {}).get("promote")
        browser.execute_script("window.scrollTo(0, 0)")
        browser.set_window_size(1280, 2200)
        screenshot(browser, "rollout")

        # Readable on a phone: nothing wider than the screen but the scrolling tables.
        browser.set_window_size(390, 844)
        eventually(
            lambda: drawn(browser, "document.documentElement.scrollWidth <= window.innerWidth"),
            timeout=5,
            what="the page to fit a 390 px wide screen",
        )
        screenshot(browser, "rollout-phone")


ABORT = """
const [url, done] = arguments;
fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})
  .then(async (r) => done([r.status, await r.text()]), (e) => done([0, String(e)]));
"""


def test_a_page_on_a_rebound_host_name_cannot_steer_a_rollout(
    cluster: Cluster, rollout_crd: str, namespace: str, dashboard: DashboardProcess
) -> None:
    apply(cluster, namespace, rollout_manifest("checkout", [{"name": "all", "percentage": 100}]))
    # attacker.example resolves to 127.0.0.1, as after a DNS rebinding: to the browser, a page
    # of attacker.example and the dashboard's API are then one origin.
    rebound = f"http://attacker.example:{dashboard.port}"
    with chromium(flags=("--host-resolver-rules=MAP attacker.example 127.0.0.1",)) as browser:
        browser.get(f"{rebound}/rollouts/{namespace}/checkout")
        page = text_of(browser, "body")
        assert "Host 'attacker.example' is not accepted" in page, page
        status_code, answer = browser.execute_async_script(
            ABORT, f"{rebound}/api/rollouts/{namespace}/checkout/abort"
        )
        assert status_code == 403, answer
        assert not (status(cluster, namespace, "checkout").get("control") or {}).get("abort")

        # The dashboard's own page still aborts.
        browser.get(f"{dashboard.url}/rollouts/{namespace}/checkout")
        eventually(
            lambda: text_of(browser, "#phase") == "Pending",
            timeout=20,
            what="the rollout page to show checkout Pending",
        )
        browser.find_element(By.CSS_SELECTOR, 'button[data-action="abort"]').click()
        eventually(
            lambda: text_of(browser, "#action-result").startswith("abort of checkout requested"),
            timeout=10,
            what="the dashboard to answer Abort",
        )
        assert (status(cluster, namespace, "checkout").get("control") or {}).get("abort")
