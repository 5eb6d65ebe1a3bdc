"""Fixtures of the ramp.flags tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from ramp.k8s.flagd import render_flags_json
from tests.support.appenv import build_ramp_flags_wheel


@pytest.fixture(scope="session")
def ramp_flags_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ramp-flags wheel an application would install, built once per run."""
    return build_ramp_flags_wheel(tmp_path_factory.mktemp("wheel"))


FlagWriter = Callable[..., Path]


@pytest.fixture
def write_flags(tmp_path: Path) -> FlagWriter:
    """Write the flags.json Ramp publishes for one flag (``render_flags_json``), return its path."""

    def write(key: str, percentage: float, *, enabled: bool = True) -> Path:
        path = tmp_path / "flags.json"
        staged = tmp_path / "flags.json.new"
        staged.write_text(render_flags_json(key, enabled, percentage), encoding="utf-8")
        staged.replace(path)  # atomic, as the kubelet's symlink swap is
        return path

    return write


@pytest.fixture
def registry() -> CollectorRegistry:
    """A registry of the test's own, read back with ``get_sample_value``."""
    return CollectorRegistry()
