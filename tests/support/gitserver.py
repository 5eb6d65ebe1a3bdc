"""A Git repository served over smart HTTP from this machine (`git http-backend` behind a small
threaded HTTP server), and a working clone to commit to it, as a team's Git host would be."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} in {cwd} failed:\n{proc.stderr}{proc.stdout}")
    return proc.stdout.strip()


def http_backend() -> str:
    exec_path = subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return str(Path(exec_path) / "git-http-backend")


class _Backend(BaseHTTPRequestHandler):
    """CGI for `git http-backend`: clones and fetches (upload-pack) only."""

    root: Path

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def _cgi(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length),
            "REMOTE_ADDR": self.client_address[0],
        }
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(
            [http_backend()], input=body, capture_output=True, env=env, timeout=60
        )
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the Git host's access log is noise in test output


class GitServer:
    """Serves ``root/NAME.git`` at ``url_of(NAME)``; ``workdir`` is a clone to commit from."""

    def __init__(self, root: Path, name: str = "apps") -> None:
        self.root = root
        self.name = name
        self.bare = root / f"{name}.git"
        self.workdir = root / f"{name}-work"
        handler = type("Backend", (_Backend,), {"root": root})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{self.name}.git"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        git(self.root, "init", "--quiet", "--bare", "--initial-branch=main", str(self.bare))
        git(self.root, "init", "--quiet", "--initial-branch=main", str(self.workdir))
        git(self.workdir, "config", "user.name", "Ramp tests")
        git(self.workdir, "config", "user.email", "tests@ramp.dev")
        git(self.workdir, "remote", "add", "origin", str(self.bare))
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def commit(self, message: str, files: dict[str, list[dict[str, Any]] | None]) -> str:
        """Write each file (a list of manifests; None removes it), commit, push; the commit id."""
        for name, manifests in files.items():
            path = self.workdir / name
            if manifests is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
        git(self.workdir, "add", "--all")
        git(self.workdir, "commit", "--quiet", "-m", message)
        git(self.workdir, "push", "--quiet", "origin", "main")
        return git(self.workdir, "rev-parse", "HEAD")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
