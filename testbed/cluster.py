"""Start and stop Ramp's local control plane: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok with fake nodes, and Prometheus, all on free loopback ports.

    python testbed/cluster.py up      # idempotent: says so when the cluster is already up
    python testbed/cluster.py down    # stops every process it started, by pid
    python testbed/cluster.py status
    python testbed/cluster.py restart kube-apiserver   # one component, same ports and data

Standard library only, so it runs before any virtualenv exists. Everything lives under
``.testbed/`` (or ``$RAMP_TESTBED_DIR``): kubeconfig, prometheus.url, targets/, logs/, state.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(__file__).resolve().parent / "build.sh"
TOKEN = "ramp-testbed-admin-token"
NODE_COUNT = 2
START_TIMEOUT = 60.0


class ComponentFailed(RuntimeError):
    """A component did not start; the message names it and carries the tail of its log."""


@dataclass
class Testbed:
    dir: Path
    bin: Path = field(default_factory=Path)
    state: dict[str, object] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    def load(self) -> None:
        self.state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def save(self) -> None:
        self.state_file.write_text(json.dumps(self.state, indent=2))

    @property
    def pids(self) -> dict[str, int]:
        pids = self.state.setdefault("pids", {})
        assert isinstance(pids, dict)
        return pids


def testbed_dir() -> Path:
    return Path(os.environ.get("RAMP_TESTBED_DIR", ROOT / ".testbed")).resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def kept_port(tb: Testbed, key: str) -> int:
    """The port recorded under ``key``, or a free one recorded now: a component restarted by
    `restart` listens where its clients already connect (`up` starts from an empty state)."""
    port = tb.state.get(key)
    if not isinstance(port, int):
        port = free_port()
        tb.state[key] = port
    return port


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive: it has exited and waits for its parent.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def start(tb: Testbed, name: str, argv: list[str]) -> None:
    tb.logs.mkdir(parents=True, exist_ok=True)
    log = open(tb.logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=tb.dir,
    )
    tb.pids[name] = proc.pid
    tb.save()


def wait_for(tb: Testbed, name: str, ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    pid = tb.pids.get(name)
    while time.monotonic() < deadline:
        if pid is not None and not alive(pid):
            raise ComponentFailed(
                f"{name} exited before it was ready ({what}); last lines of "
                f"{tb.logs / (name + '.log')}:\n{log_tail(tb.logs / (name + '.log'))}"
            )
        try:
            if ready():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise ComponentFailed(
        f"{name} was not ready after {START_TIMEOUT:.0f}s (waited for {what}); last lines of "
        f"{tb.logs / (name + '.log')}:\n{log_tail(tb.logs / (name + '.log'))}"
    )


def http_ok(url: str, token: str | None = None, expect: bytes | None = None) -> bool:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(req, timeout=2, context=ctx) as resp:
            body = resp.read()
            return resp.status == 200 and (expect is None or expect in body)
    except (urllib.error.URLError, OSError):
        return False


def api(tb: Testbed, method: str, path: str, body: object | None = None) -> object:
    port = tb.state["apiserver_port"]
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"https://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    req.add_header("Content-Type", "application/json")
    ctx = ssl.create_default_context(cafile=str(tb.dir / "pki" / "apiserver.crt"))
    with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
        return json.loads(resp.read() or b"null")


def build_binaries(tb: Testbed) -> None:
    print("testbed: checking binaries (a cold build compiles Kubernetes: 10+ min)", flush=True)
    # Only what the cluster runs: `make binaries` (and so `make test`) builds the tests' tools.
    out = subprocess.run(
        ["bash", str(BUILD), "cluster"], check=True, stdout=subprocess.PIPE, text=True
    )
    tb.bin = Path(out.stdout.strip().splitlines()[-1])


def prometheus_binary() -> str:
    for candidate in ("/usr/bin/prometheus", "/usr/local/bin/prometheus"):
        if os.access(candidate, os.X_OK):
            return candidate
    raise ComponentFailed("prometheus: binary not found; testbed/build.sh installs it from Debian")


def make_pki(tb: Testbed) -> None:
    pki = tb.dir / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    if not (pki / "sa.key").exists():
        subprocess.run(
            ["openssl", "genrsa", "-out", str(pki / "sa.key"), "2048"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["openssl", "rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub")],
            check=True,
            capture_output=True,
        )
    (pki / "tokens.csv").write_text(f'{TOKEN},ramp-admin,ramp-admin,"system:masters"\n')


def write_kubeconfig(tb: Testbed) -> None:
    port = tb.state["apiserver_port"]
    ca = tb.dir / "pki" / "apiserver.crt"
    tb.kubeconfig.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: ramp-testbed
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority: {ca}
users:
- name: ramp-admin
  user:
    token: {TOKEN}
contexts:
- name: ramp-testbed
  context: {{cluster: ramp-testbed, user: ramp-admin, namespace: default}}
current-context: ramp-testbed
"""
    )
    tb.kubeconfig.chmod(0o600)


def start_etcd(tb: Testbed) -> None:
    client, peer = kept_port(tb, "etcd_port"), kept_port(tb, "etcd_peer_port")
    url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    start(
        tb,
        "etcd",
        [
            str(tb.bin / "etcd"),
            "--name=testbed",
            f"--data-dir={tb.dir / 'etcd'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=testbed={peer_url}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
    )
    wait_for(tb, "etcd", lambda: http_ok(f"{url}/health", expect=b'"health":"true"'), "/health")


def start_apiserver(tb: Testbed) -> None:
    port = kept_port(tb, "apiserver_port")
    pki = tb.dir / "pki"
    start(
        tb,
        "kube-apiserver",
        [
            str(tb.bin / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{tb.state['etcd_port']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={pki}",
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            # Watches are served from etcd, which keeps every revision until compaction: a
            # client resuming a watch after `restart kube-apiserver` gets each version it
            # missed. A fresh watch cache would answer 410 Gone instead, and a recorder of
            # every published value (the chaos run) would only see the newest one.
            "--watch-cache=false",
        ],
    )
    wait_for(
        tb,
        "kube-apiserver",
        lambda: http_ok(f"https://127.0.0.1:{port}/readyz", token=TOKEN),
        "/readyz to answer ok",
    )
    write_kubeconfig(tb)


def start_controllers(tb: Testbed) -> None:
    pki = tb.dir / "pki"
    start(
        tb,
        "kube-controller-manager",
        [
            str(tb.bin / "kube-controller-manager"),
            f"--kubeconfig={tb.kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'apiserver.crt'}",
            "--use-service-account-credentials=false",
            "--horizontal-pod-autoscaler-sync-period=2s",
            "--concurrent-deployment-syncs=10",
            "--concurrent-replicaset-syncs=10",
            "--concurrent-gc-syncs=20",
        ],
    )
    start(
        tb,
        "kube-scheduler",
        [
            str(tb.bin / "kube-scheduler"),
            f"--kubeconfig={tb.kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=0",
        ],
    )

    # The service-account controller creating `default` proves the controller-manager runs.
    def default_sa() -> bool:
        return bool(api(tb, "GET", "/api/v1/namespaces/default/serviceaccounts/default"))

    wait_for(tb, "kube-controller-manager", default_sa, "the default ServiceAccount to appear")


def start_kwok(tb: Testbed) -> None:
    start(
        tb,
        "kwok",
        [
            str(tb.bin / "kwok"),
            f"--kubeconfig={tb.kubeconfig}",
            "--manage-all-nodes=true",
            # Renew each node's Lease in kube-node-lease as a kubelet does. kwok posts a node's
            # status only when it changes, so without Leases the node lifecycle controller sees
            # no heartbeat for its grace period and marks every node NotReady (and unreachable)
            # about once a minute.
            "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{free_port()}",
        ],
    )
    for i in range(NODE_COUNT):
        name = f"kwok-node-{i}"
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "type": "kwok",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
            },
            "status": {
                "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            },
        }
        try:
            api(tb, "POST", "/api/v1/nodes", node)
        except urllib.error.HTTPError as e:
            if e.code != 409:
                raise

    def nodes_ready() -> bool:
        nodes = api(tb, "GET", "/api/v1/nodes")
        assert isinstance(nodes, dict)
        ready = [
            n
            for n in nodes["items"]
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
        ]
        return len(ready) >= NODE_COUNT

    wait_for(tb, "kwok", nodes_ready, f"{NODE_COUNT} Ready nodes")


def start_prometheus(tb: Testbed) -> None:
    port = kept_port(tb, "prometheus_port")
    targets = tb.dir / "targets"
    targets.mkdir(parents=True, exist_ok=True)
    config = tb.dir / "prometheus.yml"
    config.write_text(
        f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ramp-testbed
    file_sd_configs:
      - files: ['{targets}/*.json']
        refresh_interval: 1s
"""
    )
    start(
        tb,
        "prometheus",
        [
            prometheus_binary(),
            f"--config.file={config}",
            f"--storage.tsdb.path={tb.dir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=6h",
            "--web.enable-lifecycle",
        ],
    )
    url = f"http://127.0.0.1:{port}"
    tb.state["prometheus_url"] = url
    tb.save()
    wait_for(tb, "prometheus", lambda: http_ok(f"{url}/-/ready"), "/-/ready")
    (tb.dir / "prometheus.url").write_text(url + "\n")


def is_up(tb: Testbed) -> bool:
    wait_for_restart(tb)
    pids = tb.pids
    if not pids or not all(alive(pid) for pid in pids.values()):
        return False
    port = tb.state.get("apiserver_port")
    return bool(port) and http_ok(f"https://127.0.0.1:{port}/readyz", token=TOKEN)


def up(tb: Testbed) -> None:
    tb.load()
    if is_up(tb):
        print(f"testbed: cluster is already up (kubeconfig: {tb.kubeconfig})")
        return
    if tb.pids:
        stop(tb, quiet=True)
    build_binaries(tb)
    tb.dir.mkdir(parents=True, exist_ok=True)
    for stale in ("etcd", "prometheus-data"):
        subprocess.run(["rm", "-rf", str(tb.dir / stale)], check=True)
    tb.state = {"pids": {}, "bin": str(tb.bin)}
    tb.save()
    began = time.monotonic()
    try:
        make_pki(tb)
        start_etcd(tb)
        start_apiserver(tb)
        start_controllers(tb)
        start_kwok(tb)
        start_prometheus(tb)
    except BaseException:
        stop(tb, quiet=True)
        raise
    print(
        f"testbed: cluster up in {time.monotonic() - began:.1f}s\n"
        f"  kubeconfig: {tb.kubeconfig}\n"
        f"  prometheus: {tb.state['prometheus_url']} (targets: {tb.dir / 'targets'}/*.json)\n"
        f"  logs:       {tb.logs}/"
    )


def stop(tb: Testbed, quiet: bool = False) -> None:
    tb.load()
    pids = dict(tb.pids)
    if not pids:
        if not quiet:
            print("testbed: nothing to stop")
        return
    # Reverse start order: clients go before the apiserver, the apiserver before etcd.
    for pid in reversed(list(pids.values())):
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(p) for p in pids.values()):
        time.sleep(0.1)
    for name, pid in pids.items():
        if alive(pid):
            print(f"testbed: {name} (pid {pid}) ignored SIGTERM; killing it", file=sys.stderr)
            os.kill(pid, signal.SIGKILL)
    tb.state["pids"] = {}
    tb.save()
    for f in ("prometheus.url",):
        (tb.dir / f).unlink(missing_ok=True)
    if not quiet:
        print(f"testbed: stopped {', '.join(pids)}")


# Components `restart` can bring back alone, with the function that starts them. The
# controller-manager and scheduler start together and are not in the list.
RESTARTABLE: dict[str, Callable[[Testbed], None]] = {
    "etcd": start_etcd,
    "kube-apiserver": start_apiserver,
    "kwok": start_kwok,
    "prometheus": start_prometheus,
}
RESTART_MARK = "restarting"
RESTART_GRACE = 3.0
"""Seconds a restarted component gets to exit on SIGTERM before it is killed."""


def restart(tb: Testbed, name: str) -> None:
    """Stop one component and start it again on the same ports and data, so its clients
    (controllers, operators, tests) reconnect; return once it is ready (/readyz, /-/ready).

    While it runs, state.json names the component under ``restarting``: `is_up` (and so `up`
    and the test fixtures) waits for it instead of taking the gap for a dead cluster.
    """
    tb.load()
    starter = RESTARTABLE.get(name)
    if starter is None:
        raise ComponentFailed(
            f"{name}: cannot be restarted alone; choose one of {', '.join(RESTARTABLE)}"
        )
    pid = tb.pids.get(name)
    if pid is None:
        raise ComponentFailed(f"{name}: not running in {tb.dir}; start the cluster first (up)")
    tb.bin = Path(str(tb.state["bin"]))
    tb.state[RESTART_MARK] = {"name": name, "since": time.time()}
    tb.save()
    try:
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + RESTART_GRACE
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            # kube-apiserver stops serving at once but can linger 15s+ draining connections;
            # its state is in etcd, so a kill loses nothing and keeps the outage short.
            os.kill(pid, signal.SIGKILL)
        starter(tb)
    finally:
        tb.state.pop(RESTART_MARK, None)
        tb.save()


def wait_for_restart(tb: Testbed) -> None:
    """Give a `restart` under way (by any process) time to finish before judging the cluster."""
    deadline = time.monotonic() + START_TIMEOUT + 20
    while isinstance(mark := tb.state.get(RESTART_MARK), dict) and time.monotonic() < deadline:
        if time.time() - float(mark.get("since", 0)) > START_TIMEOUT + 20:
            return  # left behind by a restart that was itself killed
        time.sleep(0.2)
        tb.load()


def status(tb: Testbed) -> int:
    tb.load()
    if not tb.pids:
        print("testbed: not running")
        return 1
    for name, pid in tb.pids.items():
        print(f"{name:26} pid {pid:<8} {'running' if alive(pid) else 'DEAD'}")
    return 0 if is_up(tb) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "restart"])
    parser.add_argument("component", nargs="?", help=f"for restart: {', '.join(RESTARTABLE)}")
    args = parser.parse_args(argv)
    tb = Testbed(dir=testbed_dir())
    try:
        if args.command == "up":
            up(tb)
        elif args.command == "down":
            stop(tb)
        elif args.command == "restart":
            if not args.component:
                parser.error(f"restart needs a component: {', '.join(RESTARTABLE)}")
            began = time.monotonic()
            restart(tb, args.component)
            print(f"testbed: {args.component} restarted in {time.monotonic() - began:.1f}s")
        else:
            return status(tb)
    except ComponentFailed as e:
        print(f"testbed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
