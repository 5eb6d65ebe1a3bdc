"""`ramp dashboard`: a local web UI on aiohttp, with the user's kubeconfig (and so their RBAC).

Pages are static files (package data); they read JSON from /api and follow changes over
Server-Sent Events fed by the store's watch. Actions go through `ramp.k8s.steering.steer`, the CLI's
own code path, so a button and `ramp promote` write the same `status.control` request.

Every request passes the guard first (`guard.py`: Host, Origin, token), and every answer tells
browsers not to show it inside another site's frame, where a click could be stolen.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

from aiohttp import web
from kubernetes import client

from ramp.dashboard import views
from ramp.dashboard.guard import Guard, accepted_hosts_text
from ramp.dashboard.series import metric_series
from ramp.dashboard.store import RolloutStore
from ramp.engine.actions import Action, ActionNotApplicable
from ramp.k8s.clients import Clients
from ramp.k8s.policies import read_policy
from ramp.k8s.steering import steer
from ramp.metrics.allowlist import AllowList

logger = logging.getLogger("ramp.dashboard")

STATIC = Path(__file__).parent / "static"
CHART_LIBRARY = STATIC / "vendor" / "uPlot.iife.min.js"

KEEPALIVE_SECONDS = 15.0
"""A comment line this often keeps proxies and browsers from closing an idle event stream."""

ACTIONS: tuple[str, ...] = get_args(Action)

STORE = web.AppKey("store", RolloutStore)
CLIENTS = web.AppKey("clients", Clients)
GUARD = web.AppKey("guard", Guard)
ALLOW = web.AppKey("allow", AllowList)

GUARD_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
"""On every answer: no other site may frame a page (and steal a click on Abort), and no answer
is read as anything but its declared type."""


class MissingAssets(Exception):
    """The chart library was not copied into the package (`make assets`)."""


def build_app(
    clients: Clients, namespace: str | None, *, guard: Guard, allow: AllowList
) -> web.Application:
    """The dashboard application for ``namespace`` (None: every namespace), answering what
    ``guard`` lets through and querying the Prometheus addresses ``allow`` allows."""
    if not CHART_LIBRARY.exists():
        raise MissingAssets(
            f"{CHART_LIBRARY} is missing: the dashboard's chart library is installed from npm at "
            "build time; run `make assets` (or `make venv`) in the Ramp repository"
        )
    app = web.Application(middlewares=[refuse_foreign_requests])
    store = RolloutStore(clients, namespace)
    app[STORE] = store
    app[CLIENTS] = clients
    app[GUARD] = guard
    app[ALLOW] = allow
    app.on_response_prepare.append(add_guard_headers)

    async def start_store(_: web.Application) -> None:
        store.start()

    async def stop_store(_: web.Application) -> None:
        store.stop()

    app.on_startup.append(start_store)
    app.on_cleanup.append(stop_store)
    app.router.add_get("/", page("index.html"))
    app.router.add_get("/rollouts/{namespace}/{name}", page("rollout.html"))
    app.router.add_get("/api/rollouts", list_rollouts)
    app.router.add_get("/api/rollouts/stream", stream_list)
    app.router.add_get("/api/rollouts/{namespace}/{name}", rollout_detail)
    app.router.add_get("/api/rollouts/{namespace}/{name}/stream", stream_detail)
    app.router.add_get("/api/rollouts/{namespace}/{name}/series", rollout_series)
    app.router.add_post("/api/rollouts/{namespace}/{name}/{action}", rollout_action)
    app.router.add_static("/static/", STATIC)
    return app


@web.middleware
async def refuse_foreign_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    guard = request.app[GUARD]
    problem = guard.refusal(
        request.method,
        request.path,
        request.headers,
        request.query.get("token"),
        request.cookies.get(guard.cookie),
    )
    if problem is not None:
        return web.Response(status=403, text=problem + "\n")
    response: web.StreamResponse = await handler(request)
    return response


async def add_guard_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No framing by other sites; the token's cookie when the request carried the token."""
    response.headers.update(GUARD_HEADERS)
    guard = request.app[GUARD]
    if guard.is_token(request.query.get("token")):
        # Headers, not response.set_cookie: aiohttp renders cookies before this hook runs.
        response.headers.add("Set-Cookie", guard.set_cookie_header())


def page(filename: str) -> Any:
    async def handler(_: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / filename, headers={"Cache-Control": "no-cache"})

    return handler


def list_payload(store: RolloutStore) -> dict[str, Any]:
    return {
        "namespace": store.namespace,
        "rollouts": views.rows(list(store.rollouts.values())),
        "error": store.error,
    }


async def list_rollouts(request: web.Request) -> web.Response:
    return web.json_response(list_payload(request.app[STORE]))


async def stream_list(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    return await event_stream(request, store, lambda: list_payload(store))


def found(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    rollout = store.get(namespace, name)
    if rollout is None:
        where = "every namespace" if store.namespace is None else f"namespace {store.namespace!r}"
        raise web.HTTPNotFound(
            text=json.dumps(
                {
                    "error": f'rollout "{name}" not found in namespace "{namespace}" '
                    f"(the dashboard watches {where})"
                }
            ),
            content_type="application/json",
        )
    return rollout


def read_events(clients: Clients, rollout: dict[str, Any]) -> list[dict[str, Any]]:
    meta = rollout["metadata"]
    selector = f"involvedObject.kind=Rollout,involvedObject.name={meta['name']}"
    try:
        found = clients.core.list_namespaced_event(meta["namespace"], field_selector=selector)
    except client.ApiException as e:
        return [
            {
                "time": None,
                "type": "Warning",
                "reason": "EventsUnreadable",
                "message": f"cannot list Events in {meta['namespace']}: {e.reason}",
                "count": 1,
                "source": "ramp-dashboard",
            }
        ]
    uid = meta.get("uid")
    return [
        views.event_view(e)
        for e in found.items
        if uid is None or e.involved_object.uid in (None, uid)
    ]


async def policy_of(request: web.Request, rollout: dict[str, Any]) -> dict[str, Any] | None:
    """The RolloutPolicy the Rollout names, read with the viewer's credentials (None: it names
    none, it is missing, or the viewer may not read it: the page then says so)."""
    name = (rollout.get("spec") or {}).get("policy")
    if not isinstance(name, str):
        return None
    try:
        namespace = rollout["metadata"]["namespace"]
        return await asyncio.to_thread(read_policy, request.app[CLIENTS], namespace, name)
    except client.ApiException:
        return None


async def detail_payload(request: web.Request) -> dict[str, Any]:
    rollout = found(request)
    events = await asyncio.to_thread(read_events, request.app[CLIENTS], rollout)
    policy = await policy_of(request, rollout)
    return {**views.detail(rollout, events, policy=policy), "error": request.app[STORE].error}


async def rollout_detail(request: web.Request) -> web.Response:
    return web.json_response(await detail_payload(request))


async def stream_detail(request: web.Request) -> web.StreamResponse:
    found(request)
    return await event_stream(request, request.app[STORE], lambda: detail_payload(request))


async def rollout_series(request: web.Request) -> web.Response:
    rollout = found(request)
    spec, problem = views.parse_spec(rollout, await policy_of(request, rollout))
    if spec is None:
        return web.json_response({"series": {}, "error": problem})
    series = await asyncio.to_thread(
        metric_series, request.app[CLIENTS], rollout, spec, request.app[ALLOW]
    )
    return web.json_response(series)


async def rollout_action(request: web.Request) -> web.Response:
    """POST /api/rollouts/NS/NAME/ACTION with a JSON body ({"full": bool} for promote).

    The guard let through only a POST from the dashboard's own origin. Only JSON is accepted
    too: a page from another origin cannot send it without a CORS preflight, which this server
    never grants.
    """
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound(text=f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the action as application/json")
    body = await request.json()
    rollout = found(request)
    try:
        plan = await asyncio.to_thread(
            steer,
            request.app[CLIENTS],
            rollout,
            action,  # type: ignore[arg-type]  # checked against ACTIONS above
            full=bool(body.get("full")),
            component="ramp-dashboard",
        )
    except ActionNotApplicable as e:
        return web.json_response({"error": str(e)}, status=409)
    except client.ApiException as e:
        name = rollout["metadata"]["name"]
        return web.json_response(
            {"error": f"cannot {action} {name}: the API server said {e.status} {e.reason}"},
            status=e.status if e.status in (403, 404, 409, 422) else 502,
        )
    return web.json_response({"message": plan.message, "reason": plan.reason})


async def event_stream(
    request: web.Request, store: RolloutStore, payload: Any
) -> web.StreamResponse:
    """Server-Sent Events: the payload now, then again after each change of the store."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    seen = -1
    last = None
    while True:
        version = await store.wait_change(seen, KEEPALIVE_SECONDS)
        try:
            if version == seen:
                await response.write(b": keepalive\n\n")
                continue
            seen = version
            data = payload()
            if asyncio.iscoroutine(data):
                data = await data
            text = json.dumps(data)
            if text != last:
                await response.write(f"data: {text}\n\n".encode())
                last = text
        except web.HTTPNotFound:
            await response.write(b"event: gone\ndata: {}\n\n")
            break
        except (ConnectionResetError, asyncio.CancelledError):
            break
    return response


def serve(
    clients: Clients,
    namespace: str | None,
    host: str,
    port: int,
    *,
    guard: Guard,
    allow: AllowList,
) -> None:
    """Run until interrupted."""
    app = build_app(clients, namespace, guard=guard, allow=allow)
    where = "every namespace" if namespace is None else f"namespace {namespace}"
    shown = browsable_host(host)
    url = f"http://{shown}:{port}/"
    if guard.token is not None:
        url += f"?token={guard.token}"
    print(
        f"Ramp dashboard for {where} on {url} "
        f"(started {datetime.now(UTC):%H:%M:%S}; Ctrl-C to stop)",
        flush=True,
    )
    if guard.token is not None:
        print(
            f"It listens on {host}, beyond this machine: every request needs the token above, "
            f"and its Host must match --accept-hosts ({accepted_hosts_text(guard.accept_hosts)}).",
            flush=True,
        )
    if not guard.accepts_host(shown):
        print(
            f"warning: {shown} is not accepted by --accept-hosts; browsers opening this URL are "
            "refused. Add it to the list: "
            f"--accept-hosts '{accepted_hosts_text(guard.accept_hosts)},^{re.escape(shown)}$'",
            flush=True,
        )
    web.run_app(app, host=host, port=port, print=None, access_log=None)


def browsable_host(address: str) -> str:
    """The host to print in the URL: the bound address, or 127.0.0.1 when it is every one."""
    if address in ("", "0.0.0.0"):
        return "127.0.0.1"
    if address == "::":
        return "[::1]"
    return f"[{address}]" if ":" in address and not address.startswith("[") else address
