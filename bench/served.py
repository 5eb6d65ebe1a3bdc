"""Publish to served, on the app's side: the time from a new ``flags.json`` appearing in a
ConfigMap volume (the kubelet's atomic ``..data`` swap) to ``ramp_flag_served_percentage``
reporting it, for a ``ramp.flags.FlagFile`` with a given ``reload_interval``.

A scraper is played by reading the gauge's value every ``--poll`` seconds, as Prometheus does
(each read is also a reload check, as a scrape is). The kubelet's own sync of a changed
ConfigMap into the volume is not simulated: it comes on top (docs/PERFORMANCE.md).

    .venv/bin/python -m bench.served [--samples 30] [--reload-interval 1.0] [--poll 0.05]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from ramp.flags import FlagFile, served_percentage
from ramp.k8s.flagd import render_flags_json
from tests.support.mount import Mount

FLAG = "bench-served"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--reload-interval", type=float, default=1.0)
    parser.add_argument("--poll", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        mount = Mount(Path(root))
        mount.publish(render_flags_json(FLAG, True, 0))
        flags = FlagFile(str(mount.path), reload_interval=args.reload_interval)
        times = []
        for i in range(args.samples):
            share = float(10 + i % 80)
            time.sleep(random.uniform(0, args.reload_interval))  # publish at any moment
            published = time.monotonic()
            mount.publish(render_flags_json(FLAG, True, share))
            while served_percentage(flags, FLAG) != share:
                time.sleep(args.poll)
            times.append(time.monotonic() - published)
    times.sort()
    print(
        f"reload_interval {args.reload_interval:g} s, polled every {args.poll:g} s, "
        f"{len(times)} samples: median {statistics.median(times):.2f} s, "
        f"p90 {times[int(0.9 * (len(times) - 1))]:.2f} s, max {times[-1]:.2f} s"
    )


if __name__ == "__main__":
    main()
