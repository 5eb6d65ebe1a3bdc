"""A Rollout's author names a webhook URL; the operator's admin names where the operator may
post (`ramp run --webhook-allow`). A URL no pattern allows, or any URL when the admin allowed
none, gets no request at all, and a redirect is not followed: the address it points to was never
allowed. Nothing of this ever logs the URL (it is a credential)."""

from __future__ import annotations

import logging

import pytest

from ramp.metrics.allowlist import AllowList
from ramp.runtime.notifications import FLAG, Notifier
from ramp.runtime.settings import OperatorSettings
from tests.support.listener import SECRET_BODY_TEXT, Listener
from tests.support.webhooks import Outcomes, rolled_back

LABEL = "Secret reports/slack[url]"
LOOPBACK = AllowList.parse(["http://127.0.0.1:*"], FLAG)


def test_without_an_allow_list_no_webhook_is_contacted(
    webhook: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(first_backoff=0.01)
    told = Outcomes()
    with caplog.at_level(logging.DEBUG):
        notifier.notify(f"{webhook.url}/hooks/T0KEN", rolled_back(), label=LABEL, on_done=told)
        assert notifier.drain(5)
    assert told.told == [False]
    assert webhook.count() == 0
    assert LABEL in caplog.text and FLAG in caplog.text
    assert "T0KEN" not in caplog.text and webhook.url not in caplog.text


def test_a_url_no_pattern_allows_is_never_contacted(webhook: Listener) -> None:
    notifier = Notifier(allow=AllowList.parse(["https://hooks.slack.com/services/*"], FLAG))
    told = Outcomes()
    notifier.notify(f"{webhook.url}/hooks/T0KEN", rolled_back(), label=LABEL, on_done=told)
    assert notifier.drain(5)
    assert told.told == [False] and webhook.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T0/B0/x",
        "https://chat.googleapis.com/v1/spaces/AAA/messages?key=k&token=t",
    ],
)
def test_allowed_urls_match_without_their_query(url: str) -> None:
    allow = AllowList.parse(
        ["https://hooks.slack.com/services/*", "https://chat.googleapis.com/v1/spaces/*"], FLAG
    )
    assert Notifier(allow=allow).allows(url)
    assert not Notifier(allow=allow).allows("https://hooks.slack.com.attacker.example/services/x")
    assert not Notifier(allow=allow).allows("https://hooks.slack.com@attacker.example/services/")


def test_an_allowed_url_is_delivered(webhook: Listener) -> None:
    notifier = Notifier(allow=LOOPBACK)
    told = Outcomes()
    notifier.notify(f"{webhook.url}/hooks?token=T0KEN", rolled_back(), label=LABEL, on_done=told)
    assert notifier.drain(5)
    assert told.told == [True] and webhook.count() == 1


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_says_to_fix_the_url(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    named, elsewhere = Listener(), Listener()
    try:
        elsewhere.answer(200, b"ok")
        named.answer_redirect(f"{elsewhere.url}/stolen", status)
        # Only the named webhook is allowed, as an exact URL: the redirect leaves it.
        notifier = Notifier(
            allow=AllowList.parse([f"{named.url}/hooks/T0KEN"], FLAG), first_backoff=0.01
        )
        told = Outcomes()
        with caplog.at_level(logging.DEBUG):
            notifier.notify(f"{named.url}/hooks/T0KEN", rolled_back(), label=LABEL, on_done=told)
            assert notifier.drain(5)
        assert told.told == [False]
        assert named.count() == 1, "a redirect is not worth retrying: the URL must be fixed"
        assert elsewhere.count() == 0, "the redirect was followed"
        assert f"HTTP {status}" in caplog.text and "redirected" in caplog.text
        assert "fix the URL in the Secret" in caplog.text
        for secret in ("T0KEN", elsewhere.url, SECRET_BODY_TEXT):
            assert secret not in caplog.text
    finally:
        named.close()
        elsewhere.close()


def test_the_operators_notifier_takes_its_patterns_from_webhook_allow(
    webhook: Listener,
) -> None:
    notifier = Notifier.from_settings(OperatorSettings(webhook_allow=("http://127.0.0.1:*",)))
    assert notifier.allows(f"{webhook.url}/x")
    assert not notifier.allows("http://10.0.0.1:80/x")
    with pytest.raises(ValueError, match=r"--webhook-allow 'http://127\.0\.0\.1\*'"):
        Notifier.from_settings(OperatorSettings(webhook_allow=("http://127.0.0.1*",)))
    assert not Notifier.from_settings(OperatorSettings()).allows(f"{webhook.url}/x")
