"""Rate limits, with the `limits` library in memory (sliding window counter): one budget per API
key (its own rate, or the gateway's default) and one per client address for failed
authentication, checked before the database is asked about a key.

Everything here is a dict lookup in this process: no I/O per request. With several gateway
replicas each keeps its own counters (docs/adr/0001-scopes-rate-limits-audit.md).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from mesh.errors import RETRY_AFTER_KEY, Code, ServiceError
from mesh.metrics import RATE_LIMITED

# 429s by which budget ran out (mesh.metrics).
_KEY_LIMITED = RATE_LIMITED.labels("key")
_ADDRESS_LIMITED = RATE_LIMITED.labels("auth_failures")


class RateError(ValueError):
    """A rate that is not "<count>/<second|minute|hour|day>"."""


def parse_rate(text: str) -> RateLimitItem:
    """`text` ("50/second", "1000 per minute") as a limits item; RateError when it is not one
    rate with a positive count."""
    try:
        item = parse(text.strip())
    except (ValueError, IndexError):
        raise RateError(
            f"{text!r} is not a rate: write it as <count>/<second|minute|hour|day>, e.g. 50/second"
        ) from None
    if item.amount < 1 or ";" in text or "," in text:
        raise RateError(f"{text!r} must be one rate with a count of at least 1")
    return item


@dataclass(frozen=True)
class Quota:
    """Where a key stands after a request, for the RateLimit-* headers."""

    allowed: bool  # False: this request is over the limit
    limit: int
    remaining: int
    reset_s: int  # seconds until at least one more request is allowed again

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }


def rate_limited(quota: Quota) -> ServiceError:
    return ServiceError(
        Code.RESOURCE_EXHAUSTED,
        "RATE_LIMITED",
        f"this API key may send {quota.limit} requests per window; retry after {quota.reset_s} s",
        metadata={RETRY_AFTER_KEY: str(quota.reset_s), "limit": str(quota.limit)},
    )


def auth_failures_limited(retry_after_s: int) -> ServiceError:
    return ServiceError(
        Code.RESOURCE_EXHAUSTED,
        "RATE_LIMITED",
        "too many failed authentications from this address; retry later",
        metadata={RETRY_AFTER_KEY: str(retry_after_s)},
    )


class InlineExpiryStorage(MemoryStorage):
    """limits' MemoryStorage without a thread per request: the library drops expired counters
    from a `threading.Timer` it starts again whenever the last one is done (10 ms), which
    under load is a thread started for nearly every request (a quarter of the gateway's CPU
    in a profile of `paymesh bench`). Here the same sweep runs inline, at most once a second;
    counts stay exact, as the storage already treats an expired counter as zero when it reads
    it (only memory is reclaimed by the sweep)."""

    SWEEP_EVERY_S = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = 0.0

    # The library's private hook (name-mangled), called before every count it changes.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_EVERY_S
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class RateLimits:
    """The gateway's budgets. `default_rate` applies to keys without their own rate;
    `auth_failure_rate` to failed authentications per client address."""

    def __init__(self, default_rate: str, auth_failure_rate: str) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(InlineExpiryStorage())
        self.default = parse_rate(default_rate)
        self.auth_failures = parse_rate(auth_failure_rate)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, rate: str | None) -> RateLimitItem:
        if not rate:
            return self.default
        item = self._items.get(rate)
        if item is None:
            # Stored rates were checked when the key was issued; a bad one falls back.
            try:
                item = parse_rate(rate)
            except RateError:
                item = self.default
            if len(self._items) < 1000:
                self._items[rate] = item
        return item

    def _quota(self, allowed: bool, item: RateLimitItem, *identifiers: str) -> Quota:
        stats = self._limiter.get_window_stats(item, *identifiers)
        reset_s = max(1, math.ceil(stats.reset_time - time.time()))
        return Quota(allowed, item.amount, stats.remaining, reset_s)

    def hit_key(self, key_id: str, rate: str | None) -> Quota:
        """Count one request of `key_id` against its rate (or the default); the quota says
        whether it was allowed."""
        item = self._item(rate)
        allowed = self._limiter.hit(item, "key", key_id)
        if not allowed:
            _KEY_LIMITED.inc()
        return self._quota(allowed, item, "key", key_id)

    def check_address(self, address: str) -> None:
        """RATE_LIMITED when `address` failed to authenticate too often lately: refused before
        any key lookup, so random keys cannot keep the database busy."""
        if not self._limiter.test(self.auth_failures, "auth-failure", address):
            quota = self._quota(False, self.auth_failures, "auth-failure", address)
            _ADDRESS_LIMITED.inc()
            raise auth_failures_limited(quota.reset_s)

    def auth_failed(self, address: str) -> None:
        """Count one failed authentication from `address`."""
        self._limiter.hit(self.auth_failures, "auth-failure", address)
