"""How a consumer retries: the policy (base delay, cap, attempts, jitter) and the marker of a
failure that is not the message's fault.

No I/O imports here: a domain or service layer marks its own "dependency unavailable" errors
as `Transient` without knowing of databases or brokers (mesh.transient recognises the drivers'
own errors).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


class Transient(Exception):
    """A dependency is out of reach (the database, NATS, another service, the PSP): the message
    is fine and will succeed once it is back. Retried with backoff for as long as it takes;
    never counted toward dead-lettering.

    `retry_after_s`, when the failure knows it (a PSP's Retry-After, an open circuit breaker),
    is how long to wait before the next attempt: the consumer waits that long instead of its
    own backoff."""

    def __init__(self, *args: object, retry_after_s: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after_s = retry_after_s


def retry_after(err: BaseException) -> float | None:
    """The wait a Transient error (or what caused it) asks for, if any."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        wait = getattr(current, "retry_after_s", None) if isinstance(current, Transient) else None
        if wait is not None:
            return max(0.0, float(wait))
        seen.add(id(current))
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of one consumer. The n-th retry waits between `(1 - jitter)` and 1 times
    min(cap_s, base_s * 2**(n-1)) seconds (jitter 0: exactly that; 1: anywhere from zero), so
    that many messages failing together do not come back together. `max_attempts` bounds
    the attempts of a message that fails for an unexpected reason (a bug, a rule the handler
    did not expect to be broken) before it is dead-lettered; a transient failure never counts."""

    base_s: float = 0.2
    cap_s: float = 30.0
    max_attempts: int = 12
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.cap_s:
            raise ValueError(f"retry base {self.base_s} s must be positive and at most the cap")
        if self.max_attempts < 1:
            raise ValueError(f"retry max attempts {self.max_attempts} must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"retry jitter {self.jitter} must be between 0 and 1")

    def ceiling(self, attempt: int) -> float:
        """The longest wait before the `attempt`-th retry (1-based)."""
        exponent = min(max(0, attempt - 1), 62)  # 2**62 * base is past any cap
        return min(self.cap_s, self.base_s * 2**exponent)

    def delay_after(self, wait_s: float) -> float:
        """A wait someone asked for (Retry-After, a breaker's open time), stretched by up to
        `jitter` of itself (at least that long, never shorter) so that the messages it held
        back do not all come back in the same instant."""
        return wait_s * (1 + random.uniform(0, self.jitter))

    def delay(self, attempt: int) -> float:
        """How long to wait before the `attempt`-th retry (1-based), jitter included."""
        ceiling = self.ceiling(attempt)
        return random.uniform(ceiling * (1 - self.jitter), ceiling)
