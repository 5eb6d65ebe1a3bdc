"""Each webhook URL has its own queue: a receiver that hangs or refuses, retried with backoff,
delays only its own deliveries, never another tenant's `RolledBack`. Threads are bounded; when
more URLs have work than there are threads, they take turns delivery by delivery, and each URL's
queue is bounded too (what does not fit is told undelivered and stays in status.outbox)."""

from __future__ import annotations

import socket
import time

import pytest

from ramp.metrics.allowlist import AllowList
from ramp.runtime.notifications import FLAG, Notifier
from tests.support.eventually import eventually
from tests.support.listener import Listener
from tests.support.webhooks import Outcomes, rolled_back

LOOPBACK = AllowList.parse(["http://127.0.0.1:*"], FLAG)


def refusing_url() -> str:
    """A loopback port nobody listens on: every connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/hook"


@pytest.mark.parametrize("dead", ["hangs", "refuses"])
def test_a_dead_receiver_does_not_delay_another_targets_delivery(
    dead: str, webhook: Listener, hanging: Listener
) -> None:
    # Each dead delivery takes 3 attempts: 3 x 1 s (hanging) plus 1 + 2 s of backoff.
    notifier = Notifier(allow=LOOPBACK, attempts=3, timeout=1, first_backoff=1)
    dead_url = f"{hanging.url}/hook" if dead == "hangs" else refusing_url()
    dead_told, good_told = Outcomes(), Outcomes()
    for name in ("a", "b"):  # queued first: a single queue would deliver these first
        notifier.notify(dead_url, rolled_back(name), label="Secret a/dead[url]", on_done=dead_told)
    queued = time.monotonic()
    good = f"{webhook.url}/hook"
    notifier.notify(good, rolled_back("c"), label="Secret c/good[url]", on_done=good_told)
    eventually(lambda: good_told.told == [True], timeout=3, what="the good target's delivery")
    took = time.monotonic() - queued
    assert dead_told.told == [], "the dead receiver's deliveries were already given up"
    assert took < 3, f"the good target waited {took:.1f}s"


def test_with_every_thread_busy_targets_take_turns(webhook: Listener, hanging: Listener) -> None:
    notifier = Notifier(allow=LOOPBACK, attempts=2, timeout=0.5, first_backoff=0.1, workers=1)
    dead_told, good_told = Outcomes(), Outcomes()
    for name in ("a", "b", "c"):
        notifier.notify(f"{hanging.url}/hook", rolled_back(name), label="dead", on_done=dead_told)
    notifier.notify(f"{webhook.url}/hook", rolled_back("d"), label="good", on_done=good_told)
    # The one thread gives up the first dead delivery (about 1.1 s), then it is the good one's
    # turn, not the dead target's next delivery.
    eventually(lambda: good_told.told == [True], timeout=5, what="the good target's turn")
    assert len(dead_told.told) < 3, "the good target waited for every dead delivery"
    assert notifier.drain(10)
    assert dead_told.told == [False, False, False]


def test_a_targets_queue_is_bounded(hanging: Listener) -> None:
    notifier = Notifier(allow=LOOPBACK, attempts=1, timeout=1, queued_per_destination=2)
    told = Outcomes()
    notifier.notify(f"{hanging.url}/hook", rolled_back("a"), label="dead", on_done=told)
    eventually(lambda: hanging.in_flight() == 1, timeout=2, what="the first delivery to arrive")
    for name in ("b", "c", "d"):
        notifier.notify(f"{hanging.url}/hook", rolled_back(name), label="dead", on_done=told)
    # One is being delivered (for a second), two wait; the fourth does not fit: told at once.
    assert told.told == [False]
    assert notifier.drain(10)
    assert told.told == [False] * 4
