"""Fixtures for tests that run the real operator process against the local cluster (the process
itself: tests/support/operator_process.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from tests.support.operator_process import OperatorProcess, install_crd, running_operator


@pytest.fixture(scope="session")
def rollout_crd(cluster: Cluster) -> str:
    """The generated Rollout CRD, installed and Established."""
    return install_crd(cluster)


@pytest.fixture
def operator(
    cluster: Cluster,
    rollout_crd: str,
    namespace: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[OperatorProcess]:
    """The real operator, watching the test's namespace; a test module may give it more `ramp run`
    flags in OPERATOR_ARGS."""
    extra = tuple(getattr(request.module, "OPERATOR_ARGS", ()))
    with running_operator(cluster, [namespace], tmp_path / "operator.log", extra) as process:
        yield process
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"--- operator log ({process.log}) ---\n{process.tail()}")
