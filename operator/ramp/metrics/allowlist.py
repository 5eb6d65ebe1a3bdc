"""Which Prometheus addresses the operator's admin lets Rollouts query (`ramp run
--prometheus-allow`).

A Rollout author is not the operator's admin: without this list, anyone who may create a
Rollout could make the operator call any address it can reach. A pattern is an exact base URL
(`https://prometheus.monitoring:9090`) or a prefix ending in `*` (`https://thanos.example/*`).
Addresses are compared after normalising what HTTP treats as equal (scheme and host case, a
trailing slash), and an address that could mean something else to the HTTP client than to a
string comparison (user information, dot segments in the path, a query or fragment) is never
allowed by a pattern.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

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


def pattern_problem(pattern: str) -> str | None:
    """Why a `--prometheus-allow` pattern is unusable, or None when it is fine."""
    body = pattern[:-1] if pattern.endswith("*") else pattern
    if "*" in body:
        return f"{FLAG} {pattern!r}: '*' may only end a pattern (a prefix)"
    if not body.lower().startswith(("http://", "https://")):
        return f"{FLAG} {pattern!r}: a pattern starts with http:// or https://"
    if pattern.endswith("*"):
        if "@" in body or "?" in body or "#" in body:
            return f"{FLAG} {pattern!r}: a prefix may not contain '@', '?' or '#'"
        return None
    try:
        normalise_address(body)
    except ValueError as e:
        return f"{FLAG} {pattern!r}: not a usable base URL: {e}"
    return None


@dataclass(frozen=True)
class AllowList:
    """Exact base URLs and prefixes, as given to `--prometheus-allow`; empty means none given."""

    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, patterns: Iterable[str]) -> AllowList:
        """The list from flag values; ValueError (naming the flag) for an unusable pattern."""
        exact: set[str] = set()
        prefixes: list[str] = []
        for pattern in patterns:
            problem = pattern_problem(pattern)
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
        """Why ``address`` may not be queried, or None when a pattern allows it."""
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


def _lower_scheme_and_authority(prefix: str) -> str:
    scheme, _, rest = prefix.partition("://")
    authority, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{authority.lower()}{slash}{path}"
