"""A first `make demo` builds only what the demo runs (the control plane, etcd, kwok; Prometheus
installed), not the tools only tests use (helm, Flux's controllers, the flagd-eval harness,
lua), and each build step says how long it takes before it starts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cluster import ROOT

BUILD = ROOT / "testbed" / "build.sh"


def versions() -> dict[str, str]:
    found = {}
    for line in (ROOT / "testbed" / "versions.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            name, value = line.split("=", 1)
            found[name] = value
    return found


def test_make_demo_asks_only_for_the_cluster() -> None:
    dry = subprocess.run(
        ["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    builds = [line for line in dry.splitlines() if "testbed/build" in line]
    assert builds == ["bash testbed/build.sh cluster"], dry
    cluster_py = (ROOT / "testbed" / "cluster.py").read_text()
    assert '["bash", str(BUILD), "cluster"]' in cluster_py, "cluster.py up builds more"


@pytest.mark.skipif(
    shutil.which("prometheus") is None and not Path("/usr/bin/prometheus").exists(),
    reason="build.sh would install Prometheus with apt-get",
)
def test_the_cluster_step_builds_nothing_else(tmp_path: Path) -> None:
    v = versions()
    cache = tmp_path / "cache"
    for path in (
        f"kubernetes-{v['KUBERNETES_VERSION']}/kube-apiserver",
        f"kubernetes-{v['KUBERNETES_VERSION']}/kube-controller-manager",
        f"kubernetes-{v['KUBERNETES_VERSION']}/kube-scheduler",
        f"etcd-{v['ETCD_VERSION']}/etcd",
        f"kwok-{v['KWOK_VERSION']}/kwok",
    ):
        stub = cache / path
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    built = subprocess.run(
        ["bash", str(BUILD), "cluster"],
        env={**os.environ, "RAMP_TESTBED_CACHE": str(cache), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert built.stdout.strip().splitlines()[-1] == str(cache / "bin")
    assert sorted(p.name for p in (cache / "bin").iterdir()) == [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
    ]
    made = sorted(p.name for p in cache.iterdir() if not p.name.startswith("."))
    assert not [m for m in made if m.startswith(("flux-", "flagd-eval", "helm-"))], made


def test_a_cold_step_says_how_long_it_takes_before_it_starts(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    go = tools / "go"
    go.write_text("#!/bin/sh\necho 'go: stopped by the test' >&2\nexit 1\n")
    go.chmod(0o755)
    built = subprocess.run(
        ["bash", str(BUILD), "kwok"],
        env={
            **os.environ,
            "RAMP_TESTBED_CACHE": str(tmp_path / "cache"),
            "PATH": f"{tools}:{os.environ['PATH']}",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert built.returncode != 0
    lines = built.stderr.splitlines()
    announced = next(i for i, line in enumerate(lines) if "building kwok" in line)
    assert "(about " in lines[announced], lines[announced]
    assert announced < lines.index("go: stopped by the test")


def test_an_unknown_step_is_refused_naming_the_steps() -> None:
    refused = subprocess.run(
        ["bash", str(BUILD), "everything"], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 2
    assert "give all, cluster, or some of kubernetes" in refused.stderr
