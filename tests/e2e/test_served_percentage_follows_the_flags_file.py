"""A process that reads its flag with ramp.flags from a file mounted the way the kubelet mounts
a ConfigMap, scraped by the testbed's real Prometheus: `ramp_flag_served_percentage` follows
each change of the file, and the example's dual-run queries read the app's counters."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ramp.k8s.flagd import render_flags_json
from tests.support.cluster import ROOT, Cluster
from tests.support.eventually import eventually
from tests.support.exporter import query, wait_scraped
from tests.support.mount import Mount

FLAG = "orders-v2-path"  # examples/code-migration.yaml's flag: its queries run unchanged


@dataclass
class App:
    process: subprocess.Popen[str]
    name: str

    def send(self, command: str) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "done"


@pytest.fixture
def mount(tmp_path: Path) -> Mount:
    return Mount(tmp_path)


@pytest.fixture
def app(cluster: Cluster, mount: Mount) -> Iterator[App]:
    mount.publish(render_flags_json(FLAG, True, 5))
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.served_app", str(mount.path), FLAG],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    name = f"served-{uuid.uuid4().hex[:8]}"
    target: Path | None = None
    try:
        assert process.stdout is not None
        first = process.stdout.readline().split()
        assert first[:1] == ["port"], f"the app did not start: {first}"
        target = cluster.add_scrape_target(name, f"127.0.0.1:{first[1]}")
        yield App(process, name)
    finally:
        if target is not None:
            target.unlink(missing_ok=True)
        process.terminate()
        process.wait(timeout=10)


def served(app: App) -> str:
    return f'ramp_flag_served_percentage{{exporter="{app.name}",feature_flag_key="{FLAG}"}}'


def test_the_served_gauge_follows_each_change_of_the_mounted_file(
    cluster: Cluster, mount: Mount, app: App
) -> None:
    wait_scraped(cluster, served(app), 5)
    mount.publish(render_flags_json(FLAG, True, 25))
    wait_scraped(cluster, served(app), 25)
    mount.publish(render_flags_json(FLAG, True, 12.5))  # a decrease (a rollback) is seen too
    wait_scraped(cluster, served(app), 12.5)
    mount.publish(render_flags_json(FLAG, False, 12.5))  # disabled: serves nobody
    wait_scraped(cluster, served(app), 0)
    mount.publish(render_flags_json(FLAG, True, 50))
    wait_scraped(cluster, served(app), 50)
    mount.remove()  # the ConfigMap is gone: the app serves off, and says so
    wait_scraped(cluster, served(app), 0)


def example_queries() -> dict[str, str]:
    rollout = yaml.safe_load((ROOT / "examples" / "code-migration.yaml").read_text())
    return {m["name"]: m["query"] for m in rollout["spec"]["analysis"]["metrics"]}


def test_the_examples_dual_run_queries_read_the_apps_counters(
    cluster: Cluster, mount: Mount, app: App
) -> None:
    queries = example_queries()
    mount.publish(render_flags_json(FLAG, True, 100))  # all on the new path, which may fall back
    wait_scraped(cluster, served(app), 100)
    # Scraped at 0 first: the helper creates every series at 0, so increase() counts from it.
    wait_scraped(
        cluster,
        f'sum(ramp_dual_run_total{{exporter="{app.name}",feature_flag_key="{FLAG}"}})',
        0,
    )
    wait_scraped(cluster, f'ramp_flag_fallbacks_total{{exporter="{app.name}"}}', 0)
    app.send("compare 30 120")
    app.send("fallback 3")
    wait_scraped(
        cluster,
        f'ramp_dual_run_total{{exporter="{app.name}",result="mismatch"}}',
        120,
    )
    wait_scraped(cluster, f'ramp_flag_fallbacks_total{{exporter="{app.name}"}}', 3)
    mismatches = eventually(
        lambda: query(cluster, queries["dual-run-mismatches"]),
        timeout=30,
        what="the example's dual-run-mismatches query to answer",
    )
    assert mismatches > 100, "the example's critical threshold (above 100) is crossed"
    rate = eventually(
        lambda: query(cluster, queries["dual-run-mismatch-rate"]),
        timeout=30,
        what="the example's dual-run-mismatch-rate query to answer",
    )
    assert 0 < rate <= 1, rate
    fallbacks = query(cluster, queries["fallbacks"])
    # No http_requests_total{service="orders"} here: the ratio has no data, and the example
    # says onNoData: Ignore for it. With requests it is fallbacks per request.
    assert fallbacks is None
