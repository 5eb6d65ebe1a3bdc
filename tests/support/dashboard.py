"""`ramp dashboard` as a user starts it, and raw HTTP requests to it with the headers a browser
(or an attacker's page) would send: Host, Origin, Referer, Sec-Fetch-Site, Cookie."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.eventually import eventually
from tests.support.processes import log_tail, stop_child

TOKEN_IN_URL = re.compile(r"\?token=([A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class DashboardProcess:
    """`ramp dashboard -n NAMESPACE --port PORT [extra flags]`, with ``kubeconfig``."""

    def __init__(
        self,
        kubeconfig: str,
        namespace: str,
        port: int,
        log: Path,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        env = {**os.environ, "KUBECONFIG": kubeconfig, "PYTHONUNBUFFERED": "1"}
        args = [sys.executable, "-m", "ramp", "dashboard", "-n", namespace, "--port", str(port)]
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [*args, *extra], stdout=out, stderr=subprocess.STDOUT, env=env
            )
        eventually(self.ready, timeout=30, what=f"ramp dashboard to answer on {self.url} ({log})")

    @property
    def token(self) -> str | None:
        """The token in the URL the dashboard printed at start (None when it printed none)."""
        found = TOKEN_IN_URL.search(self.log.read_text(errors="replace"))
        return found.group(1) if found else None

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"ramp dashboard exited {self.proc.returncode}:\n{self.tail()}")
        query = f"?token={self.token}" if self.token else ""
        answer = self.request("GET", f"/api/rollouts{query}")
        return answer.status == 200 and "rollouts" in answer.json()

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> Answer:
        """One request on 127.0.0.1; Host is ``127.0.0.1:PORT`` unless ``headers`` name one."""
        sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            return Answer(response.status, response.headers, response.read().decode())
        finally:
            connection.close()

    def stop(self) -> None:
        stop_child(self.proc, timeout=10)

    def tail(self, lines: int = 40) -> str:
        return log_tail(self.log, lines)
