"""Delivery bookkeeping of status.outbox: what is still to be told, and what was confirmed.

Each announcement is delivered at least once: it stays in the status until the shell confirms
every delivery of it, so an operator killed in between delivers it again after its restart,
under the same id (receivers drop duplicates by the `X-Ramp-Delivery` header; Events are named
after the id, so the API refuses a second one).
"""

from __future__ import annotations

from collections.abc import Iterator, Set

from ramp.api.status import Announcement


def delivery_key(announcement: Announcement, target: str) -> str:
    """``"<seq>/<target>"``: one delivery of one announcement."""
    return f"{announcement.seq}/{target}"


def pending_deliveries(outbox: list[Announcement] | None) -> Iterator[tuple[Announcement, str]]:
    for announcement in outbox or []:
        for target in announcement.pending:
            yield announcement, target


def settle(outbox: list[Announcement] | None, delivered: Set[str]) -> list[Announcement] | None:
    """The outbox without the confirmed deliveries; announcements fully told leave it."""
    if not delivered or not outbox:
        return outbox
    kept = []
    for announcement in outbox:
        pending = [
            t for t in announcement.pending if delivery_key(announcement, t) not in delivered
        ]
        if pending:
            kept.append(announcement.model_copy(update={"pending": pending}))
    return kept or None
