"""An app installs `ramp-flags` alone: it reads the operator's flags.json with nothing else.

The wheel is built from ./flags and installed into a fresh virtualenv per Python interpreter
found on this machine (3.9 and newer, what `mmh3` supports). There, `ramp.flags` must decide
every key exactly as it does in the operator's environment (where it is checked against the
flagd provider), and the environment must hold `ramp-flags` and `mmh3` and nothing else.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ramp.flags import FlagFile
from ramp.k8s.flagd import render_flags_json
from tests.support.appenv import app_venv, interpreters

FLAG = "async-reports"
KEYS = [f"user-{i}" for i in range(2000)] + ["", "é" * 30, "🦊", "a" * 300]

# What the operator needs and an app must not be made to install.
OPERATOR_DEPENDENCIES = {
    "kopf",
    "kubernetes",
    "pydantic",
    "prometheus_api_client",
    "prometheus_client",
    "cbor2",
    "yaml",
    "typer",
    "rich",
}

# Runs inside the fresh virtualenv: decisions for the keys on stdin, then what it holds.
PROBE = """
import importlib.metadata, json, sys
from ramp.flags import FlagFile
flags = FlagFile(sys.argv[1])
keys = json.load(sys.stdin)
try:
    import ramp.cli.app  # noqa: F401
    operator = True
except ImportError:
    operator = False
json.dump({
    "decisions": [flags.is_enabled(sys.argv[2], k) for k in keys],
    "percentage": flags.percentage(sys.argv[2]),
    "distributions": sorted(
        d.metadata["Name"].lower() for d in importlib.metadata.distributions()
    ),
    "operator_importable": operator,
    "version": list(sys.version_info[:2]),
}, sys.stdout)
"""


@pytest.mark.parametrize("python", interpreters(), ids=lambda p: Path(p).name)
def test_ramp_flags_alone_reads_the_operators_flags_json(
    python: str, ramp_flags_wheel: Path, tmp_path: Path
) -> None:
    app_python = app_venv(python, tmp_path / "app-venv", str(ramp_flags_wheel))
    flags_json = tmp_path / "flags.json"
    flags_json.write_text(render_flags_json(FLAG, True, 25), encoding="utf-8")

    probe = subprocess.run(
        [str(app_python), "-c", PROBE, str(flags_json), FLAG],
        input=json.dumps(KEYS),
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, (
        f"ramp.flags failed in a venv with ramp-flags only:\n{probe.stderr}"
    )
    app = json.loads(probe.stdout)

    here = FlagFile(flags_json)
    assert app["decisions"] == [here.is_enabled(FLAG, k) for k in KEYS], (
        f"ramp.flags on Python {app['version']} decides differently from the operator's copy"
    )
    assert app["percentage"] == 25.0
    assert 0.2 < sum(app["decisions"]) / len(KEYS) < 0.3
    installed = set(app["distributions"]) - {"pip", "setuptools"}  # what venv itself puts there
    assert installed == {"mmh3", "ramp-flags"}, (
        "an app installing ramp-flags must get only ramp-flags and mmh3"
    )
    assert not app["operator_importable"]


def test_importing_ramp_flags_next_to_the_operator_imports_none_of_its_dependencies() -> None:
    # Here every operator dependency is installed, so an import of one would succeed silently.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, ramp.flags; print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = {name.split(".")[0] for name in json.loads(probe.stdout)}
    assert not OPERATOR_DEPENDENCIES & loaded, (
        f"importing ramp.flags imported operator dependencies {OPERATOR_DEPENDENCIES & loaded}"
    )
    assert "mmh3" in loaded
