"""How `ramp status` shows a compare metric: both cohorts, the ratio with its always-valid
interval, the verdict, and how long a 2x regression takes to be caught at today's traffic."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from ramp.api import format_duration
from ramp.engine.sequential import wald_detection_seconds

VERDICT_STYLE = {"Regressed": "red", "Passing": "green", "Inconclusive": "yellow"}


def _rate(cohort: dict[str, Any]) -> str:
    rate = cohort.get("failureRate")
    return "-" if rate is None else f"{rate:.3%}"


def _ratio(compare: dict[str, Any]) -> str:
    ratio = compare.get("ratio")
    text = "-" if ratio is None else f"{ratio:.3g}x"
    low, high = compare.get("ratioLow"), compare.get("ratioHigh")
    if low is not None and high is not None:
        text += f" [{low:.3g}-{high:.3g}]"
    return text


def comparisons_table(title: str, metrics: list[dict[str, Any]]) -> Table | None:
    """One row per cohort of every compare metric in ``metrics`` (status or snapshot)."""
    compared = [m for m in metrics if m.get("compare")]
    if not compared:
        return None
    table = Table(title=title, title_justify="left", box=None, header_style="bold")
    for column in ("METRIC", "COHORT", "UNITS", "FAILED", "RATE", "RATIO [INTERVAL]", "VERDICT"):
        table.add_column(column)
    for m in compared:
        compare = m["compare"]
        verdict = compare.get("verdict") or "-"
        for i, cohort in enumerate(("treatment", "control")):
            counts = compare.get(cohort) or {}
            table.add_row(
                m.get("name", "") if i == 0 else "",
                cohort,
                f"{counts.get('units', 0):.0f}",
                f"{counts.get('failures', 0):.0f}",
                _rate(counts),
                _ratio(compare) if i == 0 else "",
                Text(verdict, style=VERDICT_STYLE.get(verdict, "")) if i == 0 else "",
            )
    return table


def detection_lines(spec: dict[str, Any], status: dict[str, Any]) -> list[str]:
    """Per compare metric: the traffic it sees and the expected time to catch a 2x regression
    at the share of units the flag-on cohort has (Wald's figure): the percentage, or, once units
    are counted, the share measured, which includes the audiences' members."""
    by_name = {m.get("name"): m for m in (spec.get("analysis") or {}).get("metrics") or []}
    percentage = (status.get("percentage") or 0) / 100
    lines = []
    for m in status.get("metrics") or []:
        compare = m.get("compare")
        defined = (by_name.get(m.get("name")) or {}).get("compare")
        if not compare or defined is None:
            continue
        speed = compare.get("unitsPerSecond")
        control = (compare.get("control") or {}).get("failureRate")
        alpha = 1 - float(defined.get("confidence", 0.95))
        treated = float((compare.get("treatment") or {}).get("units") or 0)
        untreated = float((compare.get("control") or {}).get("units") or 0)
        counted = treated + untreated > 0
        fraction = treated / (treated + untreated) if counted else percentage
        seconds = None
        if speed and control and 0 < fraction < 1:
            seconds = wald_detection_seconds(fraction, speed, control, 2.0, alpha)
        if seconds is None:
            when = "unknown until both cohorts have traffic and the control has failures"
        else:
            when = f"about {format_duration(seconds)}"
        traffic = "-" if not speed else f"{speed:.3g} units/s"
        share = f"{fraction:.0%} flag on" + (
            f" (the percentage and the members of {', '.join(status['audiences'])})"
            if counted and status.get("audiences")
            else ""
        )
        lines.append(
            f"{m.get('name')}: {traffic} at {share}; a 2x regression is expected to be "
            f"caught in {when}"
        )
    return lines
