"""Which addresses the operator's admin lets Rollouts send to: Prometheus servers to query
(`ramp run --prometheus-allow`) and webhooks to notify (`ramp run --webhook-allow`).

A Rollout author is not the operator's admin: without these lists, anyone who may create a
Rollout could make the operator call any address it can reach. A pattern is an exact base URL
(`https://prometheus.monitoring:9090`) or a prefix ending in `*` (`https://thanos.example/*`).
A prefix must end the host name with `:` or `/` before its `*`: `http://prometheus.monitoring*`
would also match `http://prometheus.monitoring.attacker.example`, so it is refused at start-up.
Addresses are compared after normalising what HTTP treats as equal (scheme and host case, a
trailing slash), and an address that could mean something else to the HTTP client than to a
string comparison (user information, dot segments in the path, a query or fragment) is never
allowed by a pattern. The clients never follow a redirect, so a pattern's answer holds for
every request actually sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import requests

FLAG = "--prometheus-allow"
CHART_VALUE = "prometheus.allowedAddresses"
FIELD = "spec.analysis.prometheus.address"


def normalise_address(address: str) -> str:
    """The address as compared against patterns; ValueError says why it cannot be compared."""
    parts = urlsplit(address.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("it is not an http:// or https:// URL")
    if "@" in parts.netloc:
        # `http://allowed.example@attacker.example/` reaches attacker.example.
        raise ValueError("it carries user information (user:password@); use authorization")
    if not parts.hostname:
        raise ValueError("it names no host")
    try:
        parts.port  # noqa: B018  # a port that is not a number means a host that is not one
    except ValueError as e:
        raise ValueError("its port is not a number") from e
    if parts.query or parts.fragment or address.strip().endswith(("?", "#")):
        raise ValueError("it has a ?query or #fragment; give the server's base URL")
    segments = unquote(parts.path).replace("\\", "/").split("/")
    if any(segment in (".", "..") for segment in segments):
        # The HTTP client resolves them, so `/tenant-a/../tenant-b` would leave a prefix.
        raise ValueError("its path has . or .. segments")
    return urlunsplit((scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def pattern_problem(pattern: str, flag: str = FLAG) -> str | None:
    """Why a pattern given to ``flag`` is unusable, or None when it is fine."""
    body = pattern[:-1] if pattern.endswith("*") else pattern
    if "*" in body:
        return f"{flag} {pattern!r}: '*' may only end a pattern (a prefix)"
    if not body.lower().startswith(("http://", "https://")):
        return f"{flag} {pattern!r}: a pattern starts with http:// or https://"
    if pattern.endswith("*"):
        if "@" in body or "?" in body or "#" in body:
            return f"{flag} {pattern!r}: a prefix may not contain '@', '?' or '#'"
        if _host_left_open(body):
            host = body.partition("://")[2]
            return (
                f"{flag} {pattern!r}: the '*' continues the host name, so it would also allow "
                f"{host}.attacker.example; end the host with ':' or '/': "
                f"'{body}:*' (addresses with a port) or '{body}/*' (without one)"
            )
        return None
    try:
        normalise_address(body)
    except ValueError as e:
        return f"{flag} {pattern!r}: not a usable base URL: {e}"
    return None


def _host_left_open(prefix: str) -> bool:
    """Whether a prefix (without its `*`) stops inside the host name: nothing after the scheme
    but a host with neither a port separator nor a path after it. `http://` alone (every
    address of that scheme) is a deliberate choice, not an unfinished host."""
    authority = prefix.partition("://")[2]
    if not authority or "/" in authority:
        return False
    if authority.startswith("["):  # an IPv6 literal: its `]` ends the host, its colons do not
        return "]" not in authority
    return ":" not in authority


@dataclass(frozen=True)
class AllowList:
    """Exact base URLs and prefixes, as given to `--prometheus-allow` or `--webhook-allow`;
    empty means none given."""

    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, patterns: Iterable[str], flag: str = FLAG) -> AllowList:
        """The list from ``flag``'s values; ValueError (naming the flag) for an unusable
        pattern."""
        exact: set[str] = set()
        prefixes: list[str] = []
        for pattern in patterns:
            problem = pattern_problem(pattern, flag)
            if problem is not None:
                raise ValueError(problem)
            if pattern.endswith("*"):
                prefixes.append(_lower_scheme_and_authority(pattern[:-1]))
            else:
                exact.add(normalise_address(pattern))
        return cls(frozenset(exact), tuple(prefixes))

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes)

    def refusal(self, address: str) -> str | None:
        """Why ``address`` may not be queried, or None when a pattern allows it (the text names
        the Prometheus field and flag, and the address: never use it for a webhook's URL)."""
        try:
            normal = normalise_address(address)
        except ValueError as e:
            return f"{FIELD}: {address} is not allowed: {e}"
        if normal in self.exact or any(
            normal.startswith(prefix) or normal == prefix.rstrip("/") for prefix in self.prefixes
        ):
            return None
        return (
            f"{FIELD}: {address} is not allowed by this operator's {FLAG} list "
            f"(chart value {CHART_VALUE}); query an allowed Prometheus, or ask the operator's "
            "admin to allow this address"
        )

    def allows(self, address: str) -> bool:
        return self.refusal(address) is None

    def allows_url(self, url: str) -> bool:
        """Whether a full URL (a webhook's) may be sent to. Its query and fragment do not change
        where a request goes (the host and path end before them, for this parser as for the
        HTTP client), so only the rest is matched: a Google Chat URL carries its key there."""
        parts = urlsplit(url.strip())
        return self.allows(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))


class NoRedirects(requests.Session):
    """The session of every client these lists guard: a 3xx answer comes back as it is,
    instead of its Location being requested, which no pattern ever judged."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None


def _lower_scheme_and_authority(prefix: str) -> str:
    scheme, _, rest = prefix.partition("://")
    authority, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{authority.lower()}{slash}{path}"
