"""Finding the command-line tools some tests drive (helm, hadolint)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def find_tool(name: str, preferred: Path | None, hint: str) -> str:
    """``preferred`` when that file exists (the copy the project's own setup installs), else
    ``name`` on PATH; fails the test with ``hint`` (how to install it) when neither is there."""
    if preferred is not None and preferred.is_file():
        return str(preferred)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: {hint}")
    return found
