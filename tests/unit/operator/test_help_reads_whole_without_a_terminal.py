"""`ramp ... --help` piped or in a CI log (no terminal): every option name whole, and no
`<bool>` beside an on/off flag."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("command", ["run", "dashboard", "simulate", "status"])
def test_help_shows_every_option_whole(command: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TERMINAL_WIDTH", "COLUMNS")}
    shown = subprocess.run(
        [sys.executable, "-m", "ramp", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert shown.returncode == 0, shown.stderr
    assert "…" not in shown.stdout, shown.stdout
    assert "<bool>" not in shown.stdout and "<list[" not in shown.stdout, shown.stdout
    if command in ("run", "dashboard"):
        assert "--prometheus-allow " in shown.stdout
