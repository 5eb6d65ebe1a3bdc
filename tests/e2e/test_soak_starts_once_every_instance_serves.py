"""I10b on the testbed: app processes read the flag with ramp.flags from a file that a stand-in
kubelet copies from the Rollout's ConfigMap (after a delay the test chooses), the real
Prometheus scrapes their `ramp_flag_served_percentage`, and the real operator holds each
phase's soak until every instance serves it."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ramp.k8s.flagd import render_flags_json
from tests.support.cluster import ROOT, Cluster
from tests.support.eventually import eventually
from tests.support.exporter import wait_scraped
from tests.support.mount import Mount
from tests.support.operator_process import OperatorProcess
from tests.support.rollouts import apply, event_reasons, events, flag_data, status, when

LATE = 20.0
"""Seconds the late app takes to apply a published change."""

# Stored readings refreshed every 2 s: the restart test watches lastAnalysisAt move on.
OPERATOR_ARGS = ("--status-refresh", "2")


class App:
    """An app process reading its flag from a mounted ConfigMap, scraped by Prometheus; a
    stand-in kubelet copies the ConfigMap's flags.json into the mount ``delay`` seconds after
    it changes (None: never again, a process that never reloads)."""

    def __init__(
        self, cluster: Cluster, namespace: str, name: str, root: Path, delay: float | None
    ) -> None:
        self.cluster, self.namespace, self.name, self.delay = cluster, namespace, name, delay
        self.flag = name.rsplit("-", 1)[0]
        self.mount = Mount(root)
        self.mount.publish(render_flags_json(self.flag, True, 0))
        self.stopped = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.served_app", str(self.mount.path), self.flag],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline().split()
        assert first[:1] == ["port"], f"the app did not start: {first}"
        self.target = cluster.add_scrape_target(f"{namespace}-{name}", f"127.0.0.1:{first[1]}")
        self.kubelet = threading.Thread(target=self._sync, daemon=True)
        self.kubelet.start()

    def _sync(self) -> None:
        seen: str | None = None
        pending: list[tuple[float, str]] = []
        while not self.stopped.wait(0.2):
            try:
                data = flag_data(self.cluster, self.namespace, f"{self.flag}-flag") or {}
            except Exception:  # the apiserver is the test's to check, not the kubelet's
                continue
            flags = data.get("flags.json")
            now = datetime.now().timestamp()
            if flags is not None and flags != seen:
                seen = flags
                if self.delay is not None:
                    pending.append((now + self.delay, flags))
            while pending and pending[0][0] <= now:
                self.mount.publish(pending.pop(0)[1])

    def reload_now(self) -> None:
        """A person restarts the process that never reloaded: it reads the file as it is."""
        data = flag_data(self.cluster, self.namespace, f"{self.flag}-flag") or {}
        self.mount.publish(data["flags.json"])

    def stop(self) -> None:
        self.stopped.set()
        self.kubelet.join(timeout=5)
        self.target.unlink(missing_ok=True)
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def apps(cluster: Cluster, namespace: str, tmp_path: Path) -> Iterator[Any]:
    started: list[App] = []

    def start(name: str, delay: float | None) -> App:
        root = tmp_path / name
        root.mkdir()
        app = App(cluster, namespace, name, root, delay)
        started.append(app)
        wait_scraped(cluster, served_series(namespace, app), 0)
        return app

    yield start
    for app in started:
        app.stop()


def served_series(namespace: str, app: App) -> str:
    return f'ramp_flag_served_percentage{{exporter="{namespace}-{app.name}"}}'


def served_rollout(cluster: Cluster, namespace: str, name: str, within: str) -> dict[str, Any]:
    return {
        "apiVersion": "ramp.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "flag": {"key": name, "configMap": f"{name}-flag"},
            "phases": [
                {"name": "canary", "percentage": 10, "duration": "5s"},
                {"name": "everyone", "percentage": 100},
            ],
            "analysis": {
                "interval": "1s",
                "prometheus": {"address": cluster.prometheus_url, "timeout": "2s"},
                "metrics": [{"name": "errors", "query": "vector(0)", "critical": {"above": 1}}],
                "served": {"within": within, "matchers": {"exporter": f"~{namespace}-{name}-.*"}},
            },
        },
    }


def history(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    return list(status(cluster, namespace, name).get("history") or [])


def entry(entries: list[dict[str, Any]], reason: str, percentage: float) -> dict[str, Any]:
    return next(e for e in entries if e["reason"] == reason and e["percentage"] == percentage)


def served_condition(cluster: Cluster, namespace: str, name: str) -> tuple[str, str]:
    found = next(
        c for c in status(cluster, namespace, name).get("conditions") or [] if c["type"] == "Served"
    )
    return found["status"], found["reason"]


def warning_events(cluster: Cluster, namespace: str, saying: str, *, what: str) -> list[str]:
    """The messages of the stuck Rollout's Warning Events saying ``saying``, once there is one."""
    return eventually(
        lambda: [
            e.message or ""
            for e in events(cluster, namespace, "stuck")
            if e.reason == "Warning" and saying in (e.message or "")
        ],
        timeout=40,
        what=what,
    )


def test_an_app_applying_changes_20s_late_starts_the_soak_20s_late(
    cluster: Cluster, namespace: str, operator: OperatorProcess, apps: Any
) -> None:
    apps("late-prompt", 0.0)
    apps("late-slow", LATE)
    apply(cluster, namespace, served_rollout(cluster, namespace, "late", within="2m"))
    eventually(
        lambda: "1 of 2 instances still serve 0 %" in status(cluster, namespace, "late")["message"],
        timeout=30,
        what="the rollout to hold canary while the slow app serves 0 %",
    )
    assert served_condition(cluster, namespace, "late") == ("False", "Propagating")
    eventually(
        lambda: status(cluster, namespace, "late").get("phase") == "Completed",
        timeout=120,
        what="the rollout to complete once the slow app serves each phase",
    )
    entries = history(cluster, namespace, "late")
    started = when(entry(entries, "Started", 10)["time"])
    served = entry(entries, "Served", 10)
    promoted = when(entry(entries, "Promoted", 100)["time"])
    assert LATE - 1 <= served["propagationSeconds"] <= LATE + 8, served
    assert when(served["time"]) - started >= timedelta(seconds=LATE - 1)
    # The canary's 5 s soak counted from served everywhere, not from the publish.
    assert promoted - when(served["time"]) >= timedelta(seconds=5)
    assert promoted - started >= timedelta(seconds=LATE + 5 - 1)
    assert entry(entries, "Served", 100)["propagationSeconds"] >= LATE - 1
    assert "ramp_flag_propagation_seconds_count" in operator.metrics()


def test_an_instance_that_never_reloads_holds_the_phase_across_an_operator_restart(
    cluster: Cluster, namespace: str, operator: OperatorProcess, apps: Any
) -> None:
    apps("stuck-prompt", 0.0)
    stuck = apps("stuck-frozen", None)
    apply(cluster, namespace, served_rollout(cluster, namespace, "stuck", within="8s"))
    warned = warning_events(
        cluster,
        namespace,
        "not served within 8s",
        what="a Warning Event once the frozen app has not served 10 % within 8s",
    )
    assert "1 of 2 instances still serve 0 %" in warned[0]
    assert "spec.flag.restartOnChange" in warned[0]
    held = status(cluster, namespace, "stuck")
    assert (held["phase"], held["currentPhase"]) == ("Progressing", "canary")
    assert held["message"] == (
        "canary at 10 %: 1 of 2 instances still serve 0 %; the soak counts from when every "
        "instance serves it"
    )
    assert served_condition(cluster, namespace, "stuck") == ("False", "NotServedInTime")

    operator.kill()
    operator.start()
    eventually(operator.healthy, timeout=30, what="the operator to start again")
    # Analysed again by the restarted operator: still held, and the Warning not told again.
    eventually(
        lambda: (
            status(cluster, namespace, "stuck").get("lastAnalysisAt", "")
            > held.get("lastAnalysisAt", "")
        ),
        timeout=30,
        what="an analysis by the restarted operator",
    )
    after = status(cluster, namespace, "stuck")
    assert (after["phase"], after["currentPhase"]) == ("Progressing", "canary")
    assert event_reasons(cluster, namespace, "stuck").count("Warning") == 1

    stuck.reload_now()
    eventually(
        lambda: status(cluster, namespace, "stuck").get("currentPhase") == "everyone",
        timeout=40,
        what="the canary to soak and promote once the frozen app serves it",
    )

    # Frozen at 10 % again. Disabled: the decrease is published at once, and the frozen app
    # still serving 10 % is reported as loudly as a breach, though metrics are not analysed.
    disabled = served_rollout(cluster, namespace, "stuck", within="8s")
    disabled["spec"]["enabled"] = False
    apply(cluster, namespace, disabled)
    eventually(
        lambda: status(cluster, namespace, "stuck").get("phase") == "Disabled",
        timeout=20,
        what="the rollout to be disabled without waiting for the frozen app",
    )
    loud = warning_events(
        cluster,
        namespace,
        "more than the 0 % now published",
        what="a Warning Event for the frozen app still serving 10 % after the disable",
    )
    assert loud[0].startswith("1 of 2 instances still serve 10 %"), loud
    assert served_condition(cluster, namespace, "stuck") == ("False", "ServedAboveRules")
