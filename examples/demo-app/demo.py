"""`make demo`: Ramp end to end on the local control plane, in about two minutes.

Starts the testbed (kube-apiserver, controller-manager, scheduler, etcd, kwok nodes, Prometheus),
installs the CRD, runs the operator, starts two copies of the demo app as local processes that
Prometheus scrapes (kwok nodes run no containers), mirrors each Rollout's ConfigMap into a local
directory the way the kubelet does, applies two Rollouts and shows them live: checkout-v2
completes, search-v2 rolls back by itself when its new code path starts failing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from rich.console import Console
from rich.live import Live
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("RAMP_TESTBED_DIR", ROOT / ".testbed"))
NAMESPACE = "ramp-demo"
GROUP, VERSION, PLURAL = "ramp.dev", "v1alpha1", "rollouts"
APPS = {
    # name: (flag key, share of new-path requests that fail)
    "checkout": ("checkout-v2", 0.0),
    "search": ("search-v2", 0.3),
}
EXPECTED = {"checkout-v2": "Completed", "search-v2": "RolledBack"}
OPERATOR_PID = STATE / "demo-operator.pid"
"""The operator the demo leaves running for exploring; `demo.py --stop` (make demo-stop) ends it."""
# Wide enough for the table when the output is a log rather than a terminal.
console = Console() if sys.stdout.isatty() else Console(width=140)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def step(text: str) -> None:
    console.print(f"[bold cyan]==>[/] {text}")


def start_cluster() -> None:
    step("starting the local control plane and Prometheus (testbed/cluster.py up)")
    subprocess.run([sys.executable, str(ROOT / "testbed" / "cluster.py"), "up"], check=True)


def kubectl(*args: str, input: str | None = None) -> None:
    subprocess.run(
        ["kubectl", "--kubeconfig", str(STATE / "kubeconfig"), *args],
        input=input,
        text=True,
        check=True,
        capture_output=True,
    )


def fresh_namespace(core: client.CoreV1Api) -> None:
    try:
        core.delete_namespace(NAMESPACE)
    except client.ApiException as e:
        if e.status != 404:
            raise
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            core.read_namespace(NAMESPACE)
        except client.ApiException as e:
            if e.status == 404:
                break
            raise
        time.sleep(0.5)
    else:
        raise SystemExit(f"namespace {NAMESPACE} was not deleted within 120 s")
    core.create_namespace({"metadata": {"name": NAMESPACE}})


def stop_operator() -> bool:
    """End the operator an earlier demo left running; True if there was one."""
    try:
        pid = int(OPERATOR_PID.read_text())
    except (OSError, ValueError):
        return False
    OPERATOR_PID.unlink(missing_ok=True)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    for _ in range(150):  # it finishes its current reconcile, then exits
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


class Processes:
    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []
        self.targets: list[Path] = []

    def start(self, args: list[str], log: Path, *, own: bool = False) -> subprocess.Popen[bytes]:
        """``own``: a session of its own, so it outlives the demo (and a Ctrl-C after it)."""
        env = {**os.environ, "KUBECONFIG": str(STATE / "kubeconfig"), "PYTHONUNBUFFERED": "1"}
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=own
            )
        self.children.append(proc)
        return proc

    def keep(self, proc: subprocess.Popen[bytes]) -> None:
        """Leave ``proc`` running when the others stop."""
        self.children.remove(proc)

    def stop(self) -> None:
        for proc in self.children:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.children:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for target in self.targets:
            target.unlink(missing_ok=True)


def wait_http(url: str, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited ({proc.returncode}); see {log}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url} within 60 s; see {log}")


def project(directory: Path, data: dict[str, str]) -> None:
    """Write files the way the kubelet projects a ConfigMap: a timestamped directory, then an
    atomic swap of the `..data` symlink, with each key a symlink through it."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = directory / f"..{time.time_ns()}"
    stamp.mkdir()
    for key, value in data.items():
        (stamp / key).write_text(value)
    tmp = directory / "..data_tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(stamp.name)
    os.replace(tmp, directory / "..data")
    for key in data:
        link = directory / key
        if not link.is_symlink():
            link.symlink_to(f"..data/{key}")
    for old in directory.glob("..[0-9]*"):
        if old != stamp:
            for f in old.iterdir():
                f.unlink()
            old.rmdir()


def mirror_configmaps(core: client.CoreV1Api, stop: threading.Event) -> None:
    """Play the kubelet for the local apps: keep each flag ConfigMap projected on disk."""
    seen: dict[str, dict[str, str]] = {}
    while not stop.is_set():
        for app, (flag, _) in APPS.items():
            try:
                cm = core.read_namespaced_config_map(f"{flag}-flag", NAMESPACE)
            except client.ApiException:
                continue
            data = dict(cm.data or {})
            if seen.get(app) != data:
                project(STATE / "demo" / app, data)
                seen[app] = data
        stop.wait(0.2)


def start_apps(processes: Processes) -> None:
    python = sys.executable
    for app, (flag, failing) in APPS.items():
        port = free_port()
        log = STATE / "logs" / f"demo-{app}.log"
        flags = STATE / "demo" / app / "flags.json"
        proc = processes.start(
            [
                python,
                str(HERE / "app.py"),
                "--name",
                app,
                "--port",
                str(port),
                "--flags-file",
                str(flags),
                "--flag-key",
                flag,
                "--new-path-error-rate",
                str(failing),
                "--self-traffic",
                "50",
            ],
            log,
        )
        wait_http(f"http://127.0.0.1:{port}/metrics", f"demo app {app}", proc, log)
        target = STATE / "targets" / f"ramp-demo-{app}.json"
        target.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"job": app}}]))
        processes.targets.append(target)


def rollouts(prometheus: str) -> list[dict[str, Any]]:
    text = (HERE / "rollouts.yaml").read_text().replace("PROMETHEUS", prometheus)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def table(custom: client.CustomObjectsApi) -> tuple[Table, dict[str, str]]:
    view = Table(title=f"kubectl get rollouts -n {NAMESPACE}", expand=True)
    for column in ("NAME", "PHASE", "STEP", "PERCENT", "HEALTH", "MESSAGE"):
        view.add_column(column, overflow="fold")
    phases: dict[str, str] = {}
    items = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]
    for item in sorted(items, key=lambda i: i["metadata"]["name"]):
        status = item.get("status") or {}
        name = item["metadata"]["name"]
        phases[name] = status.get("phase") or "Pending"
        colour = {"Completed": "green", "RolledBack": "red"}.get(phases[name], "yellow")
        view.add_row(
            name,
            f"[{colour}]{phases[name]}[/]",
            status.get("currentPhase") or "-",
            f"{status.get('percentage', 0):g}%",
            status.get("health") or "-",
            status.get("message") or "",
        )
    return view, phases


def watch(custom: client.CustomObjectsApi, timeout: float, live: bool) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    phases: dict[str, str] = {}
    last: dict[str, str] = {}
    if live:
        with Live(console=console, refresh_per_second=4) as screen:
            while time.monotonic() < deadline:
                view, phases = table(custom)
                screen.update(view)
                if all(phases.get(n) == p for n, p in EXPECTED.items()):
                    break
                time.sleep(0.5)
        return phases
    while time.monotonic() < deadline:
        _, phases = table(custom)
        for item in custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)[
            "items"
        ]:
            s = item.get("status") or {}
            line = f"{s.get('phase')} {s.get('currentPhase')} {s.get('percentage', 0):g}%"
            name = item["metadata"]["name"]
            if last.get(name) != line:
                console.print(f"  {name:<12} {line}  {s.get('message') or ''}")
                last[name] = line
        if all(phases.get(n) == p for n, p in EXPECTED.items()):
            break
        time.sleep(0.5)
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description="Ramp's two-minute demo.")
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--plain", action="store_true", help="print lines instead of a live table")
    parser.add_argument(
        "--stop", action="store_true", help="stop the operator an earlier demo left running"
    )
    args = parser.parse_args()
    live = not args.plain and console.is_terminal
    if args.stop:
        print("stopped the demo's operator" if stop_operator() else "no demo operator is running")
        return 0

    start_cluster()
    config.load_kube_config(str(STATE / "kubeconfig"))
    core, custom = client.CoreV1Api(), client.CustomObjectsApi()
    prometheus = (STATE / "prometheus.url").read_text().strip()

    step("installing the Rollout and RolloutPolicy CRDs")
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    kubectl("wait", "--for=condition=Established", "crd/rollouts.ramp.dev", "--timeout=60s")
    if stop_operator():
        step("stopped the operator an earlier demo left running")
    step(f"preparing namespace {NAMESPACE}")
    fresh_namespace(core)

    processes = Processes()
    stop = threading.Event()
    try:
        step("starting the Ramp operator (ramp run)")
        health, metrics = free_port(), free_port()
        log = STATE / "logs" / "demo-operator.log"
        operator = processes.start(
            [
                sys.executable,
                "-m",
                "ramp",
                "run",
                "--namespace",
                NAMESPACE,
                "--health-port",
                str(health),
                "--metrics-port",
                str(metrics),
                "--bind-address",
                "127.0.0.1",
            ],
            log,
            own=True,
        )
        wait_http(f"http://127.0.0.1:{health}/healthz", "the operator", operator, log)
        step("starting the demo apps (checkout: healthy new path; search: new path fails 30 %)")
        threading.Thread(target=mirror_configmaps, args=(core, stop), daemon=True).start()
        start_apps(processes)
        step("applying two Rollouts: 10 % -> 50 % -> 100 %, 15 s soaks, error rate < 10 %")
        for doc in rollouts(prometheus):
            custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, doc)
        phases = watch(custom, args.timeout, live)
        view, phases = table(custom)
        console.print(view)
        # Explore what the operator did, and try your own Rollout in the same namespace.
        processes.keep(operator)
        OPERATOR_PID.write_text(str(operator.pid))
    finally:
        stop.set()
        processes.stop()

    ok = all(phases.get(n) == p for n, p in EXPECTED.items())
    console.print()
    if ok:
        console.print("[bold green]checkout-v2 Completed; search-v2 RolledBack by itself.[/]")
    else:
        console.print(f"[bold red]unexpected outcome[/]: {phases} (expected {EXPECTED}); see {log}")
    kube = STATE / "kubeconfig"
    console.print(
        f"\nExplore: the cluster is still up, and the operator keeps watching {NAMESPACE} "
        f"(pid {operator.pid}, log {log}):\n"
        f"  export KUBECONFIG={kube} PATH=$PWD/.venv/bin:$PATH\n"
        f"  kubectl get rollouts -n {NAMESPACE} -o wide\n"
        f"  kubectl ramp status search-v2 -n {NAMESPACE}\n"
        f"  kubectl get events -n {NAMESPACE} --sort-by=.lastTimestamp\n"
        f"  Prometheus: {prometheus}\n"
        "  make demo-stop      # stop the demo's operator\n"
        "  make cluster-down   # stop the cluster and Prometheus",
        highlight=False,
        soft_wrap=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
