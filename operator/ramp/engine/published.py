"""How published values are written: what apps read, and the digest env consumers restart on."""

from __future__ import annotations

import hashlib
from datetime import datetime

from ramp.engine.effects import PublishFlag


def format_percentage(value: float) -> str:
    """25 -> "25", 12.5 -> "12.5", 33.33 -> "33.33" (what apps read in env)."""
    return f"{round(value, 2):g}"


def flag_revision(enabled: bool, percentage: float) -> str:
    """Digest of the published values: changes exactly when what env consumers read changes."""
    text = f"enabled={str(enabled).lower()};percentage={format_percentage(percentage)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def serves(published: PublishFlag | None, wanted: PublishFlag) -> bool:
    """Whether what the ConfigMap serves is what the status says apps are served.

    A disabled flag serves nobody whatever its percentage, so any disabled value serves a
    disabled wish. An enabled one serves it only bucketed by the same scheme (the same
    percentage in another scheme is other users: I11) and to the same audiences.
    """
    if published is None:
        return False
    if not wanted.enabled:
        return not published.enabled
    return (
        published.enabled
        and published.bucketing == wanted.bucketing
        and format_percentage(published.percentage) == format_percentage(wanted.percentage)
        and set(published.audiences) == set(wanted.audiences)
    )


def lowers(published: PublishFlag | None, wanted: PublishFlag) -> bool:
    """Whether serving ``wanted`` instead of ``published`` exposes fewer users. Fewer is always
    allowed, so the shell serves it before the status records it (I1 holds across a crash).
    Under another scheme a lower percentage is other users, not fewer (I11): only nobody is.
    Fewer audiences at no higher a percentage is fewer users."""
    if published is None or not published.enabled:
        return False
    if not wanted.enabled:
        return True
    kept = set(wanted.audiences)
    if not kept <= set(published.audiences) or wanted.percentage > published.percentage:
        return False
    if wanted.percentage == published.percentage and kept == set(published.audiences):
        return False
    return wanted.percentage == 0 or wanted.bucketing == published.bucketing


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
