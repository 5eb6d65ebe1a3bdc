"""`ramp run`: wire the handlers, the health and metrics endpoints, and start Kopf."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets

import kopf
from prometheus_client import start_http_server

from ramp import handlers
from ramp.settings import OperatorSettings


def peering_priority(settings: OperatorSettings) -> int | None:
    if settings.peering is None:
        return None
    if settings.priority is not None:
        return settings.priority
    # Replicas of one Deployment share their arguments; a random priority keeps them from tying.
    return secrets.randbelow(2**31)


def run_operator(
    settings: OperatorSettings, kubeconfig: str | None = None, verbose: bool = False
) -> None:
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
    # kopf.configure installs the one log handler (a second one would print every line twice).
    kopf.configure(verbose=verbose, log_prefix=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    handlers.configure(settings)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.bind_address)
    asyncio.run(
        kopf.operator(
            clusterwide=not settings.namespaces,
            namespaces=list(settings.namespaces),
            # Naming a peering makes it mandatory in kopf; only name it when HA is asked for.
            standalone=settings.peering is None,
            peering_name=settings.peering,
            priority=peering_priority(settings),
            liveness_endpoint=f"http://{settings.bind_address}:{settings.health_port}/healthz",
        )
    )
