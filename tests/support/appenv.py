"""Fresh virtualenvs holding what an application installs: the ramp-flags wheel and its extras.

They show what `ramp.flags` does outside the operator's environment: with nothing but its own
dependencies, on older Pythons, next to packages the operator cannot share an environment with.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.cluster import ROOT

PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def interpreters() -> list[str]:
    """One CPython per release from 3.9 on that this machine has (Debian's, pyenv's), by path.

    A name on PATH may be a pyenv shim that fails unless selected, so each one found is run.
    """
    by_release: dict[str, str] = {}
    for minor in range(9, 20):
        name = f"python3.{minor}"
        pyenv = sorted(Path.home().glob(f".pyenv/versions/3.{minor}.*/bin/{name}"))
        for candidate in [shutil.which(name), f"/usr/bin/{name}", *map(str, pyenv)]:
            if candidate and Path(candidate).exists() and name not in by_release:
                ok = subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False)
                if ok.returncode == 0:
                    by_release[name] = candidate
    return list(by_release.values()) or [sys.executable]


def build_ramp_flags_wheel(out: Path) -> Path:
    """The ramp-flags wheel built from ./flags, as `make dist` builds it."""
    subprocess.run(
        [*PIP, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT / "flags")],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    (built,) = out.glob("ramp_flags-*.whl")
    return built


def app_venv(python: str, venv: Path, *requirements: str) -> Path:
    """A new virtualenv of ``python`` with ``requirements`` installed; returns its python."""
    release = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info[:2] >= (3, 10))"],
        capture_output=True,
        text=True,
        check=True,
    )
    modern = release.stdout.strip() == "True"
    # The operator's pip installs into 3.10+ (--python), fast; 3.9 needs a pip of its own.
    without_pip = ["--without-pip"] if modern else []
    subprocess.run([python, "-m", "venv", *without_pip, str(venv)], check=True)
    app_python = venv / "bin" / "python"
    pip = [*PIP, "--python", str(app_python)] if modern else [str(app_python), "-m", "pip"]
    subprocess.run(
        [*pip, "--disable-pip-version-check", "install", "--quiet", *requirements],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return app_python
