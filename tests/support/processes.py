"""Child processes the tests start (the operator, Flux's controllers, the dashboard): stopping
one politely and reading the end of its log."""

from __future__ import annotations

import subprocess
from pathlib import Path


def stop_child(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_tail(log: Path, lines: int) -> str:
    """The last ``lines`` lines of ``log`` (empty when it does not exist yet)."""
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    return "\n".join(text[-lines:])
