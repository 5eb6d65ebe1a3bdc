"""Fixtures shared by every test tier.

`cluster` brings the real local control plane up once per session (reusing one started by
`make cluster`, which it then leaves running) and down again at the end if it started it. The
harness itself (`Cluster`, `OperatorProcess`) lives in tests/support, where bench/ imports it too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.cluster import Cluster, fresh_namespace, load_testbed
from tests.support.listener import Listener


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    testbed = load_testbed()
    tb = testbed.Testbed(dir=testbed.testbed_dir())
    tb.load()
    started = False
    if not testbed.is_up(tb):
        testbed.build_binaries(tb)
        testbed.up(tb)
        started = True
    tb.load()
    kubeconfig = str(tb.kubeconfig)
    os.environ["KUBECONFIG"] = kubeconfig
    connected = Cluster.connect(tb.dir, kubeconfig, str(tb.state["prometheus_url"]))
    try:
        yield connected
    finally:
        connected.api.close()
        if started and not os.environ.get("RAMP_KEEP_CLUSTER"):
            testbed.stop(tb, quiet=True)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    with fresh_namespace(cluster) as name:
        yield name


@pytest.fixture
def webhook() -> Iterator[Listener]:
    """A webhook receiver on loopback that accepts every delivery (tests may answer otherwise)."""
    listener = Listener()
    listener.answer(200, b"ok")
    yield listener
    listener.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    # Lets fixtures see whether the test failed, to print logs only when they help.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
