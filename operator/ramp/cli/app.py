"""`ramp` and `kubectl ramp`: run the operator, see rollouts, and steer them.

ramp run [--all-namespaces | --namespace NS ...]
ramp list [-n NS | -A]
ramp status NAME [-n NS] [--watch]
ramp promote NAME [--full] [--skip-soak] [--override-freeze]
ramp pause NAME | resume NAME | abort NAME | retry NAME
ramp simulate ROLLOUT.yaml --metrics SCRIPT.yaml
ramp dashboard [-n NS | -A] [--port 3100] [--accept-hosts RE,...] [--prometheus-allow URL ...]
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
import typer.rich_utils
from kubernetes import client, config
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from typer.core import TyperArgument, TyperOption

from ramp.api import GROUP, PLURAL, VERSION, format_duration
from ramp.api.status import step_label
from ramp.cli.cohort_view import comparisons_table, detection_lines
from ramp.dashboard.guard import DEFAULT_ACCEPT_HOSTS
from ramp.engine.actions import Action, ActionNotApplicable, unreconciled
from ramp.engine.phases import SOAKING
from ramp.flags import DEFAULT_SCHEME
from ramp.k8s.clients import DEFAULT_API_TIMEOUT, Clients, is_not_found, load_clients
from ramp.k8s.steering import steer
from ramp.metrics.allowlist import FLAG as PROMETHEUS_ALLOW
from ramp.metrics.allowlist import pattern_problem
from ramp.runtime.notifications import FLAG as WEBHOOK_ALLOW
from ramp.runtime.settings import LeaderElectionSettings, OperatorSettings

HELP_WIDTH = 120
"""Columns of --help when the output is no terminal: room for the help of `ramp run`'s long
options beside their names, with the URLs in it whole."""


def help_type(option: TyperOption, ctx: Any) -> str | None:
    """The type shown in --help: none for an on/off flag (its name says it all), the element's
    for a repeatable option (its help says "repeatable")."""
    if option.is_flag:
        return None
    if option.metavar:
        return option.metavar
    shown = DISPLAY_TYPE(option, ctx)
    return shown.replace("<list[", "<").replace("]>", ">") if shown else shown


DISPLAY_TYPE = TyperOption.display_type_rich
TyperOption.display_type_rich = help_type  # type: ignore[method-assign,assignment]
# An argument's name and help say what it is; "<str>" beside it says nothing more.
TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]
if not sys.stdout.isatty() and not os.environ.get("TERMINAL_WIDTH"):
    # Without a terminal Rich assumes 80 columns, which truncates the longer option names
    # (`--prometheus-al…`) in `ramp run --help | less` or a CI log.
    typer.rich_utils.MAX_WIDTH = HELP_WIDTH

app = typer.Typer(
    name="ramp",
    help="Phased feature rollouts on Kubernetes, guarded by Prometheus.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


def show_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        console.print(f"ramp {version('ramp-operator')}", highlight=False)
        raise typer.Exit()


@app.callback()
def ramp(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Phased feature rollouts on Kubernetes, guarded by Prometheus."""


KubeconfigOpt = Annotated[
    str | None,
    typer.Option("--kubeconfig", metavar="FILE", help="Kubeconfig file (default: $KUBECONFIG)."),
]
ContextOpt = Annotated[
    str | None, typer.Option("--context", metavar="NAME", help="Kubeconfig context.")
]
NamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--namespace", "-n", metavar="NS", help="Namespace (default: the context's namespace)."
    ),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def default_namespace(kubeconfig: str | None, context: str | None) -> str:
    try:
        _, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        if context:
            contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
            active = next(c for c in contexts if c["name"] == context)
        return str(active["context"].get("namespace") or "default")
    except Exception:
        return "default"


def connect(
    kubeconfig: str | None, context: str | None, namespace: str | None
) -> tuple[Clients, str]:
    try:
        clients = load_clients(kubeconfig, context)
    except Exception as e:
        raise fail(f"cannot load Kubernetes credentials: {e}") from e
    return clients, namespace or default_namespace(kubeconfig, context)


def read_rollout(clients: Clients, namespace: str, name: str) -> dict[str, Any]:
    try:
        return clients.get_rollout(namespace, name)
    except client.ApiException as e:
        if is_not_found(e):
            raise fail(f'rollout "{name}" not found in namespace "{namespace}"') from e
        raise fail(f"cannot read rollout {namespace}/{name}: {e.reason}") from e


# -- the operator ---------------------------------------------------------------------------


@app.command()
def run(
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", metavar="NS", help="Watch this namespace (repeatable)."),
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Watch every namespace.")
    ] = False,
    health_port: Annotated[
        int, typer.Option(help="Port of GET /healthz.")
    ] = OperatorSettings.health_port,
    metrics_port: Annotated[
        int, typer.Option(help="Port of GET /metrics (0: off).")
    ] = OperatorSettings.metrics_port,
    bind_address: Annotated[str, typer.Option(help="Address the endpoints bind.")] = "0.0.0.0",
    leader_elect: Annotated[
        bool,
        typer.Option(
            "--leader-elect/--no-leader-elect",
            help="Lead only while holding a coordination.k8s.io Lease, so replicas (or a laptop "
            "run next to the cluster's operator, with the same lease) never reconcile at once; "
            "the others stand by and write nothing.",
        ),
    ] = True,
    lease_name: Annotated[str, typer.Option(help="Name of the leader Lease.")] = "ramp-operator",
    lease_namespace: Annotated[
        str | None,
        typer.Option(
            help="Namespace of the leader Lease (default: the pod's namespace in a pod, else "
            "the first --namespace; required with --all-namespaces outside a pod)."
        ),
    ] = None,
    lease_duration: Annotated[
        int,
        typer.Option(
            min=2,
            help="Seconds after a standby last saw the leader renew before it takes over; the "
            "leader stops working after 2/3 of it without a renewal and renews every 2/15.",
        ),
    ] = 15,
    prometheus_allow: Annotated[
        list[str] | None,
        typer.Option(
            "--prometheus-allow",
            help="Prometheus address Rollouts may query (repeatable): an exact base URL, or a "
            "prefix ending in '*' after ':' or '/' (http://prometheus.monitoring:*). When "
            "given, other addresses get no request; Authorization headers from Secrets are sent "
            "only to addresses listed here.",
        ),
    ] = None,
    webhook_allow: Annotated[
        list[str] | None,
        typer.Option(
            "--webhook-allow",
            help="Webhook URL Rollouts' spec.notifications may post to (repeatable): an exact "
            "URL, or a prefix ending in '*' after ':' or '/' "
            "(https://hooks.slack.com/services/*). Other URLs get no request; without this "
            "flag no webhook is sent, and such Rollouts get a NotificationRefused Event.",
        ),
    ] = None,
    status_refresh: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds the stored status may keep an earlier analysis's readings while "
            "every analysis since found the same (verdicts, windows, no transition); anything "
            "else is written at once. 0: write every analysis.",
        ),
    ] = 300.0,
    api_timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="Seconds one Kubernetes API request may take before it fails and its "
            "reconcile is tried again (the watch streams are not bound by it).",
        ),
    ] = DEFAULT_API_TIMEOUT,
    kubeconfig: KubeconfigOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the operator against the current kubeconfig or in-cluster credentials."""
    from ramp.runtime.main import CannotStart, run_operator

    if namespace and all_namespaces:
        raise fail("--namespace and --all-namespaces exclude each other")
    if not namespace and not all_namespaces:
        raise fail("say which namespaces to watch: --namespace NS (repeatable) or --all-namespaces")
    for flag, patterns in ((PROMETHEUS_ALLOW, prometheus_allow), (WEBHOOK_ALLOW, webhook_allow)):
        for pattern in patterns or ():
            problem = pattern_problem(pattern, flag)
            if problem is not None:
                raise fail(problem)
    settings = OperatorSettings(
        namespaces=tuple(namespace or ()),
        health_port=health_port,
        metrics_port=metrics_port,
        bind_address=bind_address,
        leader_election=leader_election(
            leader_elect, lease_name, lease_namespace, lease_duration, tuple(namespace or ())
        ),
        prometheus_allow=tuple(prometheus_allow or ()),
        webhook_allow=tuple(webhook_allow or ()),
        status_refresh=status_refresh,
        api_timeout=api_timeout,
    )
    try:
        run_operator(settings, kubeconfig=kubeconfig, verbose=verbose)
    except CannotStart as e:
        raise fail(str(e)) from e


def leader_election(
    elect: bool, name: str, namespace: str | None, duration: int, watched: tuple[str, ...]
) -> LeaderElectionSettings | None:
    from ramp.runtime.leadership import default_lease_namespace

    if not elect:
        return None
    namespace = namespace or default_lease_namespace(watched)
    if namespace is None:
        raise fail(
            "--lease-namespace: say where the leader Lease lives (with --all-namespaces outside "
            "a pod there is no default), or run without leader election: --no-leader-elect"
        )
    return LeaderElectionSettings.scaled(namespace, name, float(duration))


# -- seeing ---------------------------------------------------------------------------------


def age(timestamp: str | None, now: datetime) -> str:
    if not timestamp:
        return "-"
    return format_duration(now - datetime.fromisoformat(timestamp.replace("Z", "+00:00")), 2)


PHASE_STYLE = {
    "Progressing": "cyan",
    "Completed": "green",
    "RolledBack": "red",
    "Failed": "red",
    "Paused": "yellow",
    "AwaitingApproval": "magenta",
    "Disabled": "dim",
}


@app.command("list")
def list_rollouts(
    namespace: NamespaceOpt = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """List rollouts with their phase, step, percentage and health."""
    clients, ns = connect(kubeconfig, context, namespace)
    if all_namespaces:
        found: Any = clients.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    else:
        found = clients.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
    items = found["items"]
    now = datetime.now(UTC)
    table = Table(box=None, header_style="bold")
    if all_namespaces:
        table.add_column("NAMESPACE")
    for column in ("NAME", "PHASE", "STEP", "PERCENT", "HEALTH", "AGE"):
        table.add_column(column)
    for item in items:
        status = item.get("status") or {}
        phase = status.get("phase") or "Pending"
        row = [
            item["metadata"]["name"],
            Text(phase, style=PHASE_STYLE.get(phase, "")),
            step_label(item),
            served_of(status),
            status.get("health") or "-",
            age(item["metadata"].get("creationTimestamp"), now),
        ]
        table.add_row(*([item["metadata"]["namespace"]] if all_namespaces else []), *row)
    if not items:
        where = "any namespace" if all_namespaces else f'namespace "{ns}"'
        console.print(f"No rollouts in {where}.")
        return
    console.print(table)


def served_of(status: dict[str, Any]) -> str:
    """Who is served, as the PERCENT column shows it (status.served: ``10% +2``)."""
    return str(status.get("served") or f"{status.get('percentage', 0):g}%")


def describe_audience(audience: dict[str, Any]) -> str:
    """``internal: email ends with @example.com``, ``beta: targetingKey is one of 2 values``."""
    attribute = audience.get("attribute") or "targetingKey"
    if audience.get("in") is not None:
        values = audience["in"]
        shown = ", ".join(values) if len(values) <= 3 else f"one of {len(values):,} values"
        return f"{audience.get('name')}: {attribute} is {shown}"
    for field, words in (("endsWith", "ends with"), ("startsWith", "starts with")):
        if audience.get(field) is not None:
            return f"{audience.get('name')}: {attribute} {words} {' or '.join(audience[field])}"
    return str(audience.get("name"))


def audiences_served(status: dict[str, Any]) -> str:
    """The audiences status says are published, or that none are."""
    names = status.get("audiences") or []
    if status.get("enabled") is False or not names:
        return "none"
    return ", ".join(names)


def bucketing_of(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """The scheme flags.json is written with: the one status.bucketing keeps while the rollout
    is in flight (engine/bucketing.py), else spec.flag.bucketing."""
    asked = (spec.get("flag") or {}).get("bucketing") or DEFAULT_SCHEME
    kept = status.get("bucketing")
    if kept is None or kept == asked:
        return str(asked)
    return f"{kept} (kept while in flight; spec.flag.bucketing {asked} applies at 0 % or 100 %)"


def not_reconciled_message(namespace: str) -> str:
    """What `ramp status` says of a Rollout no operator has written a status for."""
    return (
        f'no operator has reconciled this Rollout yet: is one watching namespace "{namespace}"? '
        "`ramp run` logs the namespaces it watches at start (installed with the Helm chart: "
        "kubectl logs deploy/ramp -n ramp-system); a request made now waits until one does"
    )


def next_promotion(status: dict[str, Any], now: datetime) -> str | None:
    """When the next promotion comes, or, once its soak is over, what holds it (the status
    message says); None where no promotion is coming."""
    if not status.get("nextPromotionAt"):
        return None
    due = datetime.fromisoformat(status["nextPromotionAt"].replace("Z", "+00:00"))
    if due > now:
        return f"in {format_duration(due - now, 2)} (at {due:%Y-%m-%d %H:%M:%S} UTC)"
    if status.get("phase") not in SOAKING:
        return None
    held = status.get("message") or "waiting for the next analysis"
    return f"soak done {format_duration(now - due, 2)} ago; held: {held}"


def release_rows(spec: dict[str, Any], status: dict[str, Any]) -> list[tuple[str, str]]:
    """The RolloutPolicy in force and what it contributed, and what holds promotion now (the
    next window, a freeze), as the operator last decided."""
    rows = []
    policy = status.get("policy") or {}
    if spec.get("policy"):
        resolved: dict[str, Any] = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "PolicyResolved"), {}
        )
        if resolved.get("status") == "False":
            rows.append(("Policy", f"{spec['policy']}: {resolved.get('message')}"))
        else:
            gave = ", ".join(policy.get("contributed") or []) or "nothing the Rollout lacks"
            generation = policy.get("generation")
            rows.append(("Policy", f"{spec['policy']} (generation {generation}): {gave}"))
    allowed = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PromotionAllowed"), None
    )
    if allowed is not None:
        rows.append(
            (
                "Promotion",
                "allowed now" if allowed.get("status") == "True" else allowed.get("message", ""),
            )
        )
    return rows


def render_status(rollout: dict[str, Any], now: datetime) -> Group:
    spec = rollout.get("spec") or {}
    status = rollout.get("status") or {}
    meta = rollout["metadata"]
    phase = status.get("phase") or "Pending"
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    header.add_row("Rollout", f"{meta['namespace']}/{meta['name']}")
    header.add_row("Phase", Text(phase, style=PHASE_STYLE.get(phase, "")))
    header.add_row("Step", step_label(rollout))
    header.add_row("Percentage", f"{status.get('percentage', 0):g}%")
    defined = (spec.get("flag") or {}).get("audiences") or []
    if defined:
        header.add_row("Audiences served", audiences_served(status))
        header.add_row("Audiences", "; ".join(describe_audience(a) for a in defined))
    header.add_row("Bucketing", bucketing_of(spec, status))
    header.add_row("Health", status.get("health") or "-")
    upcoming = next_promotion(status, now)
    if upcoming is not None:
        header.add_row("Next promotion", upcoming)
    if status.get("message") and status["message"] not in (upcoming or ""):
        header.add_row("Message", status["message"])
    if unreconciled(status):
        header.add_row("Message", not_reconciled_message(meta["namespace"]))
    if status.get("draining"):
        header.add_row("Draining", status["draining"])
    for label, value in release_rows(spec, status):
        header.add_row(label, Text(value))  # not markup: a field path has [brackets]

    phases = Table(title="Phases", title_justify="left", box=None, header_style="bold")
    columns = ["", "NAME", "PERCENT", "DURATION", "APPROVAL"]
    if defined:
        columns.insert(3, "AUDIENCES")  # who each phase serves ahead of its percentage
    for column in columns:
        phases.add_column(column)
    current = status.get("currentPhaseIndex")
    for i, p in enumerate(spec.get("phases") or []):
        if current is None or phase == "Pending":
            mark = " "
        elif i < current or (i == current and phase == "Completed"):
            mark = "✓"
        elif i == current:
            mark = "▶"
        else:
            mark = " "
        row = [
            mark,
            p.get("name", ""),
            f"{p.get('percentage', 0):g}%",
            p.get("duration") or "-",
            p.get("approval") or "Automatic",
        ]
        if defined:
            everyone = p.get("percentage", 0) >= 100
            row.insert(3, "-" if everyone else ", ".join(p.get("audiences") or []) or "-")
        phases.add_row(*row)

    parts: list[Any] = [header, Text(""), phases]
    metrics = status.get("metrics") or []
    if metrics:
        table = Table(title="Metrics", title_justify="left", box=None, header_style="bold")
        for column in ("NAME", "VALUE", "VERDICT", "SINCE"):
            table.add_column(column, no_wrap=True)
        # Why each verdict: the query error, "returned 2 series; aggregate it", the bound.
        table.add_column("MESSAGE", overflow="fold")
        verdict_style = {"Pass": "green", "Warning": "yellow", "Critical": "red", "Error": "red"}
        for m in metrics:
            value = m.get("value")
            table.add_row(
                m.get("name", ""),
                "-" if value is None else f"{value:.4g}",
                Text(m.get("verdict") or "-", style=verdict_style.get(m.get("verdict") or "", "")),
                age(m.get("since"), now),
                Text(m.get("message") or ""),
            )
        parts += [Text(""), table]
    cohorts = comparisons_table("Cohorts (flag on vs off)", metrics)
    if cohorts is not None:
        parts += [Text(""), cohorts, *(Text(line) for line in detection_lines(spec, status))]
    kept = comparisons_table(
        "Cohorts when the failure policy applied",
        (status.get("snapshot") or {}).get("metrics") or [],
    )
    if kept is not None:
        parts += [Text(""), kept]
    return Group(*parts)


@app.command()
def status(
    name: str,
    namespace: NamespaceOpt = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh live.")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Show one rollout: phases, percentage, metric verdicts, time to next promotion."""
    clients, ns = connect(kubeconfig, context, namespace)
    rollout = read_rollout(clients, ns, name)
    if not watch:
        console.print(render_status(rollout, datetime.now(UTC)))
        return
    if not console.is_terminal:
        watch_lines(clients, ns, name, rollout)
        return
    with Live(
        render_status(rollout, datetime.now(UTC)), console=console, auto_refresh=False
    ) as live:
        try:
            while True:
                time.sleep(1)
                rollout = read_rollout(clients, ns, name)
                live.update(render_status(rollout, datetime.now(UTC)), refresh=True)
        except KeyboardInterrupt:
            pass


def summary_line(rollout: dict[str, Any]) -> str:
    """One line per state, as `kubectl get -w` prints: for logs and pipes."""
    status = rollout.get("status") or {}
    verdicts = ", ".join(f"{m.get('name')}={m.get('verdict')}" for m in status.get("metrics") or [])
    return "  ".join(
        part
        for part in (
            rollout["metadata"]["name"],
            status.get("phase") or "Pending",
            step_label(rollout),
            served_of(status),
            verdicts,
            status.get("message") or "",
        )
        if part
    )


def watch_lines(clients: Clients, namespace: str, name: str, rollout: dict[str, Any]) -> None:
    last = None
    try:
        while True:
            line = summary_line(rollout)
            if line != last:
                print(f"{datetime.now(UTC):%H:%M:%S}  {line}", flush=True)
                last = line
            time.sleep(1)
            rollout = read_rollout(clients, namespace, name)
    except KeyboardInterrupt:
        pass


# -- steering -------------------------------------------------------------------------------


def act(
    action: Action,
    name: str,
    namespace: str | None,
    kubeconfig: str | None,
    context: str | None,
    full: bool = False,
    skip_soak: bool = False,
    override_freeze: bool = False,
) -> None:
    clients, ns = connect(kubeconfig, context, namespace)
    rollout = read_rollout(clients, ns, name)
    try:
        plan = steer(
            clients,
            rollout,
            action,
            full=full,
            skip_soak=skip_soak,
            override_freeze=override_freeze,
            component="ramp-cli",
        )
    except ActionNotApplicable as e:
        raise fail(str(e)) from e
    console.print(plan.message)


@app.command()
def promote(
    name: str,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Skip to the last phase, past the later soaks and gates (recorded with who).",
        ),
    ] = False,
    skip_soak: Annotated[
        bool,
        typer.Option(
            "--skip-soak",
            help="Promote now although the phase still soaks; the history records who skipped.",
        ),
    ] = False,
    override_freeze: Annotated[
        bool,
        typer.Option(
            "--override-freeze",
            help="Promote although a freeze or the promotion windows hold promotion; the "
            "history records who overrode what.",
        ),
    ] = False,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Approve the phase awaiting approval (Manual gate); refused while it soaks, unless
    --skip-soak, and in a freeze or outside the promotion windows, unless --override-freeze."""
    act(
        "promote",
        name,
        namespace,
        kubeconfig,
        context,
        full=full,
        skip_soak=skip_soak,
        override_freeze=override_freeze,
    )


@app.command()
def pause(
    name: str,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Hold the rollout where it is; the soak clock stops until `resume`."""
    act("pause", name, namespace, kubeconfig, context)


@app.command()
def resume(
    name: str,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Resume a rollout paused with `ramp pause`, with the soak time it had left."""
    act("resume", name, namespace, kubeconfig, context)


@app.command()
def abort(
    name: str,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Roll back to 0% now; the rollout stays RolledBack until `retry`."""
    act("abort", name, namespace, kubeconfig, context)


@app.command()
def retry(
    name: str,
    namespace: NamespaceOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Start again after a rollback or abort."""
    act("retry", name, namespace, kubeconfig, context)


@app.command()
def simulate(
    rollout: Annotated[str, typer.Argument(metavar="ROLLOUT.yaml", help="Rollout manifest.")],
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics", metavar="SCRIPT.yaml", help="Scripted metric values over time (YAML)."
        ),
    ] = None,
    prometheus: Annotated[
        str | None,
        typer.Option(
            "--prometheus", metavar="URL", help="Replay this Prometheus' history instead."
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", metavar="TIME", help="Backtest start (RFC 3339).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", metavar="TIME", help="Backtest end (RFC 3339).")
    ] = None,
    authorization: Annotated[
        str | None,
        typer.Option(
            envvar="RAMP_PROMETHEUS_AUTHORIZATION",
            help="Authorization header for --prometheus (better from the environment variable).",
            show_envvar=True,
        ),
    ] = None,
    insecure_skip_verify: Annotated[
        bool,
        typer.Option(
            "--insecure-skip-verify", help="Skip TLS verification of --prometheus (testing only)."
        ),
    ] = False,
    plot: Annotated[
        str | None,
        typer.Option(
            "--plot",
            metavar="FILE",
            help="Also draw the timeline and each metric into this .png or .svg.",
        ),
    ] = None,
) -> None:
    """Run the real engine on simulated time and print its timeline of decisions."""
    from ramp.simulate import run as simulation

    if prometheus is not None:
        raise typer.Exit(
            simulation.backtest_main(
                rollout,
                prometheus,
                start,
                end,
                authorization=authorization,
                insecure_skip_verify=insecure_skip_verify,
                plot=plot,
            )
        )
    if metrics is None:
        raise fail("give --metrics SCRIPT.yaml (scripted values) or --prometheus URL (backtest)")
    raise typer.Exit(simulation.main(rollout, metrics, plot))


@app.command()
def dashboard(
    namespace: NamespaceOpt = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Show every namespace.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 3100,
    address: Annotated[
        str,
        typer.Option(
            help="Address to bind (the dashboard acts with your credentials). Beyond loopback, "
            "every request needs the token printed at start."
        ),
    ] = "127.0.0.1",
    accept_hosts: Annotated[
        str,
        typer.Option(
            "--accept-hosts",
            help="Comma-separated regular expressions, as kubectl proxy's: a request whose Host "
            "header (without its port) matches none of them is refused.",
        ),
    ] = DEFAULT_ACCEPT_HOSTS,
    prometheus_allow: Annotated[
        list[str] | None,
        typer.Option(
            "--prometheus-allow",
            help="Prometheus address the charts may query (repeatable), as `ramp run "
            "--prometheus-allow`: an exact base URL, or a prefix ending in '*'. When given, "
            "other addresses get no request; an Authorization header read from a Secret with "
            "your credentials is sent only to addresses listed here, never without the flag.",
        ),
    ] = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Serve a web UI of rollouts, live, with promote/pause/resume/abort/retry buttons."""
    from ramp.dashboard.guard import Guard
    from ramp.dashboard.server import MissingAssets, serve
    from ramp.metrics.allowlist import AllowList

    try:
        allow = AllowList.parse(prometheus_allow or ())
        guard = Guard.for_address(address, port, accept_hosts)
    except ValueError as e:
        raise fail(str(e)) from e
    clients, ns = connect(kubeconfig, context, namespace)
    try:
        serve(clients, None if all_namespaces else ns, address, port, guard=guard, allow=allow)
    except MissingAssets as e:
        raise fail(str(e)) from e
    except OSError as e:
        raise fail(f"cannot serve on {address}:{port}: {e.strerror or e}; try --port") from e


def main() -> None:
    """Entry point of both `ramp` and `kubectl-ramp` (so `kubectl ramp ...` works)."""
    app(prog_name="kubectl ramp" if sys.argv[0].endswith("kubectl-ramp") else "ramp")
