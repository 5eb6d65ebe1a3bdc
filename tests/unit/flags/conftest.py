"""Fixtures of the ramp.flags tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.appenv import build_ramp_flags_wheel


@pytest.fixture(scope="session")
def ramp_flags_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ramp-flags wheel an application would install, built once per run."""
    return build_ramp_flags_wheel(tmp_path_factory.mktemp("wheel"))
