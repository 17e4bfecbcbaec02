"""The circuit breaker in front of the PSP: a small state machine, no I/O, its clock injected.

CLOSED: calls go through; `failure_threshold` transient failures in a row (timeouts, 5xx, 429,
connection errors; never a decline, which is an answer) open it.
OPEN: every call is refused at once for `open_s`, with the time left as the retry delay, so
that the orders wait in their queue instead of hammering a PSP that is down.
HALF_OPEN: once `open_s` has passed, up to `probes` calls go through at a time; one success
closes the breaker, one failure opens it again for another `open_s`.
After closing, the breaker is *recovering* for `recovery_s`: the caller bounds the rate of
calls (the queue that built up drains at that rate instead of all at once).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from payment_svc.domain.psp import PspUnavailable


class BreakerState(enum.Enum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


# The figure a gauge shows for each state (mesh.metrics PSP_BREAKER_STATE).
STATE_FIGURE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5
    open_s: float = 10.0
    probes: int = 1
    recovery_s: float = 60.0
    # While half-open and every probe slot is taken, the others come back after this long.
    probe_wait_s: float = 1.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.probes < 1:
            raise ValueError("the breaker's failure threshold and probes must be at least 1")
        if self.open_s <= 0 or self.probe_wait_s <= 0 or self.recovery_s < 0:
            raise ValueError("the breaker's open time and probe wait must be positive")


class CircuitOpen(PspUnavailable):
    """The PSP is not called: the breaker is open (or its probe slots are taken). Transient:
    retry after `retry_after_s`, which does not count as an attempt at the PSP."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message, retry_after_s=retry_after_s)


class CircuitBreaker:
    """One per process, shared by every PSP call of the service."""

    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self._clock = clock  # monotonic seconds
        self._state = BreakerState.CLOSED
        self._failures = 0  # transient failures in a row while closed
        self._opened_at = 0.0
        self._closed_at: float | None = None
        self._probing = 0
        self.on_change: Callable[[BreakerState], None] = lambda state: None

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self.policy.open_s
        ):
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def open_for_s(self) -> float:
        """Seconds until the breaker lets a probe through (0 unless open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self.policy.open_s - (self._clock() - self._opened_at))

    @property
    def recovering(self) -> bool:
        """Closed again after an outage less than `recovery_s` ago: bound the call rate."""
        return (
            self.state is BreakerState.CLOSED
            and self._closed_at is not None
            and self._clock() - self._closed_at < self.policy.recovery_s
        )

    def check(self) -> None:
        """Raise CircuitOpen if a call now would be refused (reserves nothing): lets a caller
        leave its order untouched instead of starting an attempt that cannot be made."""
        state = self.state
        if state is BreakerState.OPEN:
            raise CircuitOpen("the PSP's circuit breaker is open", self.open_for_s())
        if state is BreakerState.HALF_OPEN and self._probing >= self.policy.probes:
            raise CircuitOpen("the PSP's circuit breaker is probing", self.policy.probe_wait_s)

    def admit(self) -> None:
        """Let one call through, or raise CircuitOpen. Every admitted call must end with
        exactly one of `succeeded`, `failed` or `abandoned`."""
        self.check()
        if self._state is BreakerState.HALF_OPEN:
            self._probing += 1

    def succeeded(self) -> None:
        """The PSP answered (a decline or a refusal is an answer too)."""
        self._release()
        self._failures = 0
        if self._state is BreakerState.HALF_OPEN:
            self._closed_at = self._clock()
            self._move(BreakerState.CLOSED)

    def failed(self) -> None:
        """The PSP was out of reach (timeout, 5xx, 429, connection error)."""
        self._release()
        if self._state is BreakerState.HALF_OPEN:
            self._open()
            return
        if self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self.policy.failure_threshold:
                self._open()

    def abandoned(self) -> None:
        """The call ended without an answer either way (cancelled)."""
        self._release()

    def _release(self) -> None:
        if self._state is BreakerState.HALF_OPEN and self._probing > 0:
            self._probing -= 1

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._failures = 0
        self._probing = 0
        self._move(BreakerState.OPEN)

    def _move(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            self.on_change(state)
