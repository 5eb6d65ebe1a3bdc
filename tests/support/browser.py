"""A real browser for the dashboard tests: Debian's Chromium, headless, driven by Selenium
through Debian's chromedriver (installed by testbed/browser.sh; nothing downloaded here)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.support.cluster import ROOT

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
def chromium(
    width: int = 1280, height: int = 1000, flags: tuple[str, ...] = ()
) -> Iterator[webdriver.Chrome]:
    """Headless Chromium; ``flags`` are more command-line switches (such as
    --host-resolver-rules, to make a name resolve to 127.0.0.1 as DNS rebinding would)."""
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
        *flags,
    ):
        options.add_argument(flag)
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield session
    finally:
        session.quit()
