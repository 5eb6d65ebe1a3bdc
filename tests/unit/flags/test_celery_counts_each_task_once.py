"""The Celery example of docs/flags.md counts tasks and failures per variant, once per task id.

Celery cannot share the operator's environment (it pins python-dateutil below what the
Kubernetes client needs), which is also how apps use it: next to `ramp-flags`, not the operator.
So the documented block runs, as written, in a fresh virtualenv with `ramp-flags[prometheus]`
and Celery, on a real worker (in-memory broker, solo pool), with tasks that fail and are retried.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ramp.k8s.flagd import render_flags_json
from tests.support.appenv import app_venv
from tests.support.cluster import ROOT

FLAG = "async-reports"
TASKS = 40
MAX_RETRIES = 2  # as in the documented task

# Runs in the app's venv: the documented block, a worker, TASKS tasks whose report i fails
# (TimeoutError, retried) i % 4 times before it succeeds, so i % 4 == 3 fails for good.
WORKER = r"""
import json, re, sys, time
from celery.contrib.testing.worker import start_worker
from prometheus_client import REGISTRY

doc, flags_path, n = open(sys.argv[1]).read(), sys.argv[2], int(sys.argv[3])
match = re.search(r"<!-- tests/unit/flags/test_celery[^>]*-->\n```python\n(.*?)```", doc, re.S)
block = match.group(1).replace("/etc/ramp/flags.json", flags_path)

attempts = {}
def render_report(report_id, new_path):
    attempts[report_id] = attempts.get(report_id, 0) + 1
    if attempts[report_id] <= report_id % 4:
        raise TimeoutError(f"report {report_id}: attempt {attempts[report_id]}")
    return "rendered"

ns = {"__name__": "reports", "render_report": render_report}
exec(compile(block, "docs/flags.md", "exec"), ns)
app, task, flags, flag = ns["app"], ns["generate_report"], ns["flags"], ns["FLAG"]
app.conf.update(broker_url="memory://", result_backend="cache+memory://")
task.default_retry_delay = 0  # the documented task waits Celery's default 3 minutes

def counted(name, variant):
    labels = {"feature_flag_key": flag, "feature_flag_result_variant": variant}
    return REGISTRY.get_sample_value(name, labels) or 0.0

with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
    results = [task.delay(report_id=i, user_id=f"user-{i}") for i in range(n)]
    for result in results:
        result.get(timeout=60, propagate=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the signals fire around storing the result
        if sum(counted("report_tasks_total", v) for v in ("on", "off")) >= n:
            break
        time.sleep(0.05)
    states = [r.state for r in results]

json.dump({
    "variants": [flags.variant(flag, f"user-{i}") for i in range(n)],
    "states": states,
    "attempts": sum(attempts.values()),
    "counted": {
        v: {m: counted(m, v) for m in ("report_tasks_total", "report_tasks_failed_total")}
        for v in ("on", "off")
    },
}, sys.stdout)
"""


def test_documented_celery_signals_count_each_task_once_per_variant(
    ramp_flags_wheel: Path, tmp_path: Path
) -> None:
    python = app_venv(
        sys.executable, tmp_path / "celery-app", f"{ramp_flags_wheel}[prometheus]", "celery>=5.4"
    )
    flags_json = tmp_path / "flags.json"
    flags_json.write_text(render_flags_json(FLAG, True, 50), encoding="utf-8")

    run = subprocess.run(
        [str(python), "-c", WORKER, str(ROOT / "docs" / "flags.md"), str(flags_json), str(TASKS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, f"the documented Celery example failed:\n{run.stderr[-3000:]}"
    seen = json.loads(run.stdout)

    fails_for_good = [i % 4 > MAX_RETRIES for i in range(TASKS)]
    assert seen["states"] == ["FAILURE" if f else "SUCCESS" for f in fails_for_good]
    retries = sum(min(i % 4, MAX_RETRIES) for i in range(TASKS))
    assert seen["attempts"] == TASKS + retries, "the tasks were not retried as planned"
    expected = {
        v: {
            "report_tasks_total": float(seen["variants"].count(v)),
            "report_tasks_failed_total": float(
                sum(f for f, got in zip(fails_for_good, seen["variants"], strict=True) if got == v)
            ),
        }
        for v in ("on", "off")
    }
    assert seen["counted"] == expected, "each task id must be counted once, in its variant"
    assert 0 < seen["variants"].count("on") < TASKS
