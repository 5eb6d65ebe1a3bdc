"""A small app that reads a Ramp flag with ``ramp.flags`` and exports what it serves, for the
tests that have the testbed's Prometheus scrape it.

    python -m tests.support.served_app FLAGS_JSON FLAG_KEY

It exports ``ramp_flag_served_percentage`` for FLAG_KEY and creates a ``DualRun`` and a
``Fallback`` for it (their series start at 0), serves ``/metrics`` on a free port of
127.0.0.1, prints ``port N``, then runs the commands it reads, one a line, printing ``done``
after each:

- ``compare MATCHES MISMATCHES``: that many compared calls that agree, then disagree;
- ``fallback N``: N calls whose new implementation raises.
"""

from __future__ import annotations

import sys

from prometheus_client import start_http_server

from ramp.flags import DualRun, Fallback, FlagFile, export_served_percentage


def main(path: str, flag_key: str) -> None:
    flags = FlagFile(path, reload_interval=0.2)
    export_served_percentage(flags, flag_key)
    dual_run = DualRun(flags, flag_key, sample_rate=1.0)
    fallback = Fallback(flags, flag_key)
    server, _thread = start_http_server(0, addr="127.0.0.1")
    print(f"port {server.server_port}", flush=True)

    def broken(x: int) -> int:
        raise ConnectionError("the new store is down")

    for line in sys.stdin:
        command, *numbers = line.split()
        if command == "compare":
            matches, mismatches = (int(n) for n in numbers)
            for i in range(matches):
                dual_run.run(f"user-{i}", lambda x: x, lambda x: x, i)
            for i in range(mismatches):
                dual_run.run(f"user-{i}", lambda x: x, lambda x: -x - 1, i)
        elif command == "fallback":
            for i in range(int(numbers[0])):
                fallback.run(f"user-{i}", lambda x: x, broken, i)
        print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
