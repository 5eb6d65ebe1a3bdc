"""flagd's Go core (testbed/flagd-eval on github.com/open-feature/flagd/core) as a test oracle."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.cluster import ROOT


def build_flagd_eval() -> Path:
    """The flagd-eval binary, built once from the Go module proxy and cached."""
    built = subprocess.run(
        ["bash", str(ROOT / "testbed" / "build-flagd.sh")],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert built.returncode == 0, f"testbed/build-flagd.sh failed:\n{built.stderr[-3000:]}"
    return Path(built.stdout.strip().splitlines()[-1])


def core_version(binary: Path) -> str:
    """The github.com/open-feature/flagd/core version ``binary`` was built with."""
    run = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    return run.stdout.strip()


def evaluate(
    binary: Path, flags_json: Path, flag_key: str, contexts: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """What flagd's Go core resolves ``flag_key`` to, for each evaluation context, in order."""
    run = subprocess.run(
        [str(binary), str(flags_json), flag_key],
        input="".join(json.dumps(c) + "\n" for c in contexts),
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, f"flagd-eval failed on {flags_json}:\n{run.stderr[-3000:]}"
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == len(contexts)
    return results


def decisions(
    binary: Path, flags_json: Path, flag_key: str, targeting_keys: Sequence[str]
) -> list[bool]:
    """The boolean a Go application gets for each targeting key (its default, False, on error)."""
    results = evaluate(binary, flags_json, flag_key, [{"targetingKey": k} for k in targeting_keys])
    return [r["value"] is True and not r.get("error") for r in results]
