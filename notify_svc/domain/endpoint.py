"""A marketplace endpoint: which URLs are accepted, and when one that keeps failing is
disabled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class InvalidEndpointUrl(ValueError):
    """The URL cannot be an endpoint."""


def check_url(url: str, *, allow_http_loopback: bool) -> str:
    """The URL if it may receive events: https, or plain http to this machine only where
    `allow_http_loopback` (the dev stack and tests; never in production, where events carry
    payment data and the signature does not hide it)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError as err:  # "https://[not-an-ip]/"
        raise InvalidEndpointUrl(f"the URL cannot be read: {err}") from None
    if not host:
        raise InvalidEndpointUrl("the URL has no host")
    if parts.username or parts.password:
        raise InvalidEndpointUrl("the URL may not carry credentials")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        if allow_http_loopback:
            return url
        raise InvalidEndpointUrl("plain http is refused here (NOTIFY_ALLOW_HTTP_LOOPBACK=0)")
    raise InvalidEndpointUrl("the URL must be https (plain http only to 127.0.0.1 in dev)")


@dataclass(frozen=True)
class DisablePolicy:
    """An endpoint is disabled after `after_failures` failed attempts in a row, or when it has
    failed without a single success for `after_s` seconds (0 turns either rule off)."""

    after_failures: int
    after_s: float

    def reason_to_disable(
        self, consecutive_failures: int, failing_since: datetime | None, now: datetime
    ) -> str | None:
        if self.after_failures and consecutive_failures >= self.after_failures:
            return f"{consecutive_failures} failed deliveries in a row"
        if (
            self.after_s
            and failing_since is not None
            and now - failing_since >= timedelta(seconds=self.after_s)
        ):
            return f"failing since {failing_since.isoformat()} without a success"
        return None
