"""A real browser for the dashboard tests: Debian's Chromium, headless, driven by Selenium
through Debian's chromedriver (installed by testbed/browser.sh; nothing downloaded here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.conftest import ROOT, Cluster
from tests.support.eventually import eventually
from tests.support.processes import log_tail, stop_child

ARTIFACTS = Path(os.environ.get("RAMP_TEST_ARTIFACTS", ROOT / "test-artifacts"))
"""Screenshots are kept here for people to look at (CI keeps the folder)."""


def system_chromium() -> tuple[str, str]:
    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        raise AssertionError(
            "Debian's chromium and chromium-driver are missing: run `bash testbed/browser.sh` "
            "(make test does)"
        )
    return browser, driver


@contextmanager
def chromium(width: int = 1280, height: int = 1000) -> Iterator[webdriver.Chrome]:
    browser, driver = system_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",  # root in CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(flag)
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield session
    finally:
        session.quit()


class DashboardProcess:
    """`ramp dashboard` as a user starts it, on a free port."""

    def __init__(self, cluster: Cluster, namespace: str, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        env = {**os.environ, "KUBECONFIG": cluster.kubeconfig, "PYTHONUNBUFFERED": "1"}
        args = [sys.executable, "-m", "ramp", "dashboard", "-n", namespace, "--port", str(port)]
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        eventually(self.ready, timeout=30, what=f"ramp dashboard to answer on {self.url} ({log})")

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"ramp dashboard exited {self.proc.returncode}:\n{self.tail()}")
        with urllib.request.urlopen(f"{self.url}/api/rollouts", timeout=2) as r:
            return "rollouts" in json.load(r)

    def stop(self) -> None:
        stop_child(self.proc, timeout=10)

    def tail(self, lines: int = 40) -> str:
        return log_tail(self.log, lines)
