"""A prefork server (gunicorn, Celery's prefork pool) forks its workers after the app module has
created its helpers: a worker inherits the DualRun but not its threads, and must still compare
(not count every call as the other side's timeout)."""

from __future__ import annotations

import os
import sys

import pytest
from prometheus_client import CollectorRegistry

from ramp.flags import DualRun, FlagFile
from tests.unit.flags.conftest import FlagWriter

FLAG = "orders-v2-path"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_compares_with_threads_of_its_own(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    run = DualRun(FlagFile(write_flags(FLAG, 100)), FLAG, timeout=5, registry=registry)
    assert run.run("u", lambda: 1, lambda: 1) == 1  # the parent's worker threads are running

    def matches() -> float | None:
        return registry.get_sample_value(
            "ramp_dual_run_total", {"feature_flag_key": FLAG, "result": "match"}
        )

    pid = os.fork()
    if pid == 0:  # the worker: report through the exit code, never return into pytest
        code = 1
        try:
            served = run.run("u", lambda: 2, lambda: 2)
            code = 0 if served == 2 and matches() == 2 else 3
        except BaseException as e:
            print(f"forked worker failed: {e!r}", file=sys.stderr)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the forked worker did not compare"
    assert matches() == 1, "the parent counts only its own comparisons"
