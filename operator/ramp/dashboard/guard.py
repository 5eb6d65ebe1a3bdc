"""Which requests the dashboard answers. It acts with the viewer's kubeconfig, so a request it
answers is one the viewer could have made with `kubectl`: it must come from the viewer's own
browser, on the dashboard's own pages.

- **Host** (as `kubectl proxy --accept-hosts`): a request whose Host header, without its port,
  matches none of the patterns is refused. A page on another site that makes its own name resolve
  to 127.0.0.1 (DNS rebinding) sends its own name as Host.
- **Origin**: a POST (an action) must come from the dashboard's own origin, by its Origin header
  or, when a browser sends none, its Referer. An API read sent by another site's page
  (`Sec-Fetch-Site`, or an Origin that is not the dashboard's) is refused too: reading a metric's
  series sends Prometheus credentials. Following a link to a page is fine.
- **Token** (as Jupyter): bound beyond loopback, anyone who reaches the port could use the
  viewer's credentials, so every request needs the token printed at start, as `?token=` (which
  sets an HttpOnly, SameSite=Strict cookie for the pages' own requests) or that cookie.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_ACCEPT_HOSTS = r"^localhost$,^127\.0\.0\.1$,^\[::1\]$"
"""`kubectl proxy`'s default: the loopback names a browser on this machine uses."""

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

CROSS_SITE = ("cross-site", "same-site")
"""`Sec-Fetch-Site` values of a request another site's page made (same-site: another port)."""


def parse_accept_hosts(patterns: str) -> tuple[re.Pattern[str], ...]:
    """Comma-separated regular expressions; ValueError naming the flag for one that is not."""
    compiled = []
    for pattern in patterns.split(","):
        try:
            compiled.append(re.compile(pattern))
        except re.error as e:
            raise ValueError(
                f"--accept-hosts {pattern!r} is not a regular expression ({e}); give "
                f"comma-separated patterns such as {DEFAULT_ACCEPT_HOSTS}"
            ) from e
    return tuple(compiled)


def is_loopback(address: str) -> bool:
    """Whether binding ``address`` keeps the dashboard reachable from this machine only."""
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def host_without_port(host: str) -> str:
    """`localhost:3100` -> `localhost`, `[::1]:3100` -> `[::1]`."""
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    return host.rpartition(":")[0] if ":" in host else host


@dataclass(frozen=True)
class Guard:
    """The rules above for one dashboard process."""

    accept_hosts: tuple[re.Pattern[str], ...]
    token: str | None = None
    """None: bound on loopback, no token asked."""
    port: int = 0
    """Names the cookie, so dashboards on other ports of the same host keep their own."""

    @classmethod
    def for_address(cls, address: str, port: int, accept_hosts: str) -> Guard:
        """The guard of a dashboard bound to ``address``: a fresh token when beyond loopback."""
        token = None if is_loopback(address) else secrets.token_urlsafe(32)
        return cls(parse_accept_hosts(accept_hosts), token, port)

    @property
    def cookie(self) -> str:
        return f"ramp-dashboard-token-{self.port}"

    def accepts_host(self, host: str) -> bool:
        # Searched, not fully matched, as kubectl proxy does: the defaults are anchored.
        name = host_without_port(host)
        return any(pattern.search(name) for pattern in self.accept_hosts)

    def refusal(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        query_token: str | None,
        cookie_token: str | None,
    ) -> str | None:
        """Why this request is refused (403), or None. ``headers`` is case-insensitive, as
        aiohttp's are."""
        host = headers.get("Host", "")
        if not host or not self.accepts_host(host):
            return (
                f"Host {host_without_port(host)!r} is not accepted by this dashboard "
                f"(--accept-hosts {accepted_hosts_text(self.accept_hosts)}). Open it by a "
                "name in that list, or start it with --accept-hosts naming the host you use."
            )
        if self.token is not None and not (
            self.is_token(query_token) or self.is_token(cookie_token)
        ):
            return (
                "This dashboard listens beyond this machine, so every request needs the token it "
                "printed when it started: open the URL it printed (…/?token=…). A token from an "
                "earlier start is no longer valid."
            )
        own = f"http://{host}".lower()
        origin = headers.get("Origin")
        if method not in SAFE_METHODS:
            sender = origin or _origin_of(headers.get("Referer"))
            if sender is None or sender.lower() != own:
                return (
                    f"Actions are accepted only from the dashboard's own origin ({own}), and this "
                    f"request came from {sender or 'an unknown origin (no Origin or Referer)'}. "
                    "Use the buttons on the dashboard's pages, or the ramp CLI."
                )
        elif path.startswith("/api/") and (
            headers.get("Sec-Fetch-Site") in CROSS_SITE
            or (origin is not None and origin.lower() != own)
        ):
            return (
                "The dashboard's data is read only by its own pages; this request came from "
                f"another site ({origin or headers.get('Sec-Fetch-Site')})."
            )
        return None

    def is_token(self, given: str | None) -> bool:
        """Whether ``given`` is this start's token (compared in constant time)."""
        return (
            self.token is not None
            and given is not None
            and hmac.compare_digest(given.encode(), self.token.encode())
        )

    def set_cookie_header(self) -> str:
        """The Set-Cookie value carrying the token: the pages' scripts cannot read it, and no
        other site's request carries it."""
        assert self.token is not None
        # token_urlsafe's characters need no quoting in a cookie.
        return f"{self.cookie}={self.token}; HttpOnly; Path=/; SameSite=Strict"


def _origin_of(referer: str | None) -> str | None:
    if not referer:
        return None
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def accepted_hosts_text(patterns: Sequence[re.Pattern[str]]) -> str:
    return ",".join(p.pattern for p in patterns)
