"""`ramp run`: wire the handlers, the health and metrics endpoints, and start Kopf."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import socket

import kopf
from prometheus_client import start_http_server

from ramp.k8s.clients import load_clients
from ramp.runtime import handlers
from ramp.runtime.settings import OperatorSettings

logger = logging.getLogger("ramp")

M_ARENA_MAX = -8
"""glibc's mallopt parameter for the number of malloc arenas."""


def fewer_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas, unless MALLOC_ARENA_MAX says otherwise; True if capped.

    glibc gives each thread that allocates an arena of its own (up to eight per core) and keeps
    what is freed there. The API threads parse and build thousands of bodies in bursts (every
    Rollout after a restart), so without a cap most of the operator's resident memory beyond
    its live objects is freed memory held in those arenas. Must run before the threads start.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to cap
        return False


GC_THRESHOLDS = (50_000, 20, 100)
"""Allocations between young collections, and collections between older ones (CPython's
defaults: 700, 10, 10)."""


def fewer_collections() -> None:
    """Collect cyclic garbage less often than CPython's defaults, which suit small heaps.

    The operator keeps every Rollout's body (a few hundred dicts and lists each) for as long as
    it runs, and each analysis allocates thousands of short-lived ones. With the default
    thresholds the collector ran over a thousand times a minute with 3,000 analysed Rollouts,
    its older generations walking that whole heap: close to a third of the operator's CPU
    while idle (docs/PERFORMANCE.md, fourth round). Almost all
    garbage here is freed by reference counting; what the collector is for (cycles, such as a
    caught exception and its traceback) waits a little longer.
    """
    gc.set_threshold(*GC_THRESHOLDS)


class CannotStart(Exception):
    """What keeps the operator from starting, in one line naming the flag to change: retrying
    cannot fix it, so `ramp run` exits instead of retrying."""


def check_credentials(kubeconfig: str | None) -> None:
    try:
        load_clients(kubeconfig)
    except Exception as e:
        raise CannotStart(
            f"cannot load Kubernetes credentials ({e}): give --kubeconfig FILE or set "
            "KUBECONFIG, or run in a pod with a service account"
        ) from e


def check_port(flag: str, address: str, port: int) -> None:
    """Fail now, not in Kopf's retry loop, when the endpoint's port is taken."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((address, port))
    except OSError as e:
        raise CannotStart(
            f"{flag} {port}: cannot listen on {address}:{port} ({e.strerror or e}); "
            f"another process uses it: give {flag} another port"
        ) from e


def run_operator(
    settings: OperatorSettings, kubeconfig: str | None = None, verbose: bool = False
) -> None:
    """Start and run until stopped; raises `CannotStart` before anything runs."""
    check_credentials(kubeconfig)
    check_port("--health-port", settings.bind_address, settings.health_port)
    if settings.metrics_port:
        check_port("--metrics-port", settings.bind_address, settings.metrics_port)
    fewer_malloc_arenas()
    fewer_collections()
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
    # kopf.configure installs the one log handler (a second one would print every line twice).
    kopf.configure(verbose=verbose, log_prefix=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    handlers.configure(settings)
    # Said once at start: where to look when a Rollout stays without a status.
    watched = ", ".join(settings.namespaces) if settings.namespaces else "every namespace"
    logger.info("watching Rollouts in %s", watched)
    if settings.metrics_port:
        try:
            start_http_server(settings.metrics_port, addr=settings.bind_address)
        except OSError as e:  # taken since the check
            raise CannotStart(
                f"--metrics-port {settings.metrics_port}: cannot listen ({e.strerror or e}); "
                "give --metrics-port another port"
            ) from e
    asyncio.run(
        kopf.operator(
            clusterwide=not settings.namespaces,
            namespaces=list(settings.namespaces),
            # No Kopf peering: a Lease decides who leads (ramp.runtime.leadership), and only the
            # leader's loops write; Kopf itself only watches and calls the event handlers.
            standalone=True,
            liveness_endpoint=f"http://{settings.bind_address}:{settings.health_port}/healthz",
        )
    )
