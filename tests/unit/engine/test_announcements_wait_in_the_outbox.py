"""I7/I8: every transition is recorded once in status.history and waits in status.outbox
until its Event and each subscribed webhook are confirmed delivered."""

from __future__ import annotations

from ramp.api import RolloutStatus
from ramp.engine import Observations, PublishFlag, decide
from ramp.engine.draft import OUTBOX_LIMIT
from tests.support.engine import T0, make_spec, minutes

NOTIFY = [
    {"secretRef": {"name": "hook", "key": "url"}},
    {"secretRef": {"name": "pager", "key": "url"}, "on": ["RolledBack"]},
]


def test_a_transition_waits_for_its_event_and_subscribed_webhooks() -> None:
    spec = make_spec(notifications=NOTIFY)
    decision = decide(spec, RolloutStatus(), T0, Observations())
    [started] = decision.announced
    assert (started.reason, started.pending) == ("Started", ["event", "webhook-0"])
    history = decision.status.history or []
    assert [(h.reason, h.seq) for h in history] == [("Started", started.seq)]
    seen = Observations(published=PublishFlag(True, 5), delivered=frozenset({"1/event"}))
    status = decide(spec, decision.status, T0, seen).status
    assert [a.pending for a in status.outbox or []] == [["webhook-0"]]
    seen = Observations(published=PublishFlag(True, 5), delivered=frozenset({"1/webhook-0"}))
    status = decide(spec, status, T0, seen).status
    assert status.outbox is None
    assert len(status.history or []) == 1, "settling the outbox records no transition"


def test_undelivered_announcements_survive_a_restart_and_are_bounded() -> None:
    spec = make_spec(
        [{"name": "a", "percentage": 5, "duration": "1m"}, {"name": "b", "percentage": 5}],
        notifications=NOTIFY,
    )
    status = RolloutStatus()
    for i in range(OUTBOX_LIMIT + 10):
        status = decide(spec, status, T0 + minutes(i), Observations()).status
        status = RolloutStatus.model_validate_json(status.model_dump_json(by_alias=True))
        if status.phase == "Completed":
            status = status.model_copy(update={"phase": "RolledBack"})
            status = status.model_copy(update={"control": status.control or None})
            break
    outbox = status.outbox or []
    assert outbox and all(a.pending for a in outbox)
    assert len(outbox) <= OUTBOX_LIMIT
    seqs = [a.seq for a in outbox]
    assert seqs == sorted(set(seqs))
