"""The PSP behind the circuit breaker (payment_svc.domain.breaker) and a bounded call rate while
the queue drains after an outage: a decorator of the PaymentProvider and RefundProvider ports,
so that the executors, the refund executor and the sweeper all go through one breaker.

A transient failure of a call (PspUnavailable: timeout, 5xx, 429, connection error) counts
toward opening the breaker; any answer (a success, a decline, a refusal) counts as the PSP being
there. A call the breaker refuses raises CircuitOpen (a PspUnavailable, so transient) with the
time left open as its retry delay: the consumer naks with that delay, and the order keeps its
attempts.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Protocol, TypeVar

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from mesh.metrics import PSP_BREAKER_REFUSALS, PSP_BREAKER_STATE
from payment_svc.domain.breaker import STATE_FIGURE, CircuitBreaker, CircuitOpen
from payment_svc.domain.psp import (
    ChargeOutcome,
    ChargeRequest,
    HostedPage,
    HostedPageRequest,
    PaymentProvider,
    PspUnavailable,
)
from payment_svc.domain.psp_refunds import RefundOutcome, RefundProvider, RefundRequest

_T = TypeVar("_T")
_REFUSED_OPEN = PSP_BREAKER_REFUSALS.labels("open")
_REFUSED_DRAINING = PSP_BREAKER_REFUSALS.labels("draining")
_DRAIN_KEY = "psp"


class Provider(PaymentProvider, RefundProvider, Protocol):
    """A PSP that charges and refunds (the Stripe adapter, the fake)."""


class GuardedPsp:
    """`psp` behind `breaker`; while the breaker is recovering, at most `drain_rate` calls
    (a `limits` rate such as "20/second") go through per process."""

    def __init__(self, psp: Provider, breaker: CircuitBreaker, drain_rate: str) -> None:
        self._psp = psp
        self.breaker = breaker
        self._rate: RateLimitItem = parse(drain_rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        # Read at every scrape, so a breaker that turned half-open by the clock shows it.
        PSP_BREAKER_STATE.set_function(lambda: STATE_FIGURE[self.breaker.state])

    def check(self) -> None:
        """Raise CircuitOpen when a call now would not be made (nothing reserved): the executor
        asks before it starts an attempt, so that an order waits untouched."""
        try:
            self.breaker.check()
        except CircuitOpen:
            _REFUSED_OPEN.inc()
            raise
        if self.breaker.recovering and not self._limiter.test(self._rate, _DRAIN_KEY):
            _REFUSED_DRAINING.inc()
            raise CircuitOpen("the PSP's queue is draining at a bounded rate", self._next_slot_s())

    def _next_slot_s(self) -> float:
        reset, _ = self._limiter.get_window_stats(self._rate, _DRAIN_KEY)
        return max(0.05, reset - time.time())

    async def _guarded(self, call: Callable[[], Awaitable[_T]], *, moves_money: bool = True) -> _T:
        """Make `call` if the breaker and the drain rate let it through. Its failure counts
        toward opening the breaker; only an answer to a call that moves money (a charge, a
        refund, a payment page) closes it or resets the count: a lookup answering (the search
        API is a subsystem of its own at Stripe) says little about whether the PSP can charge."""
        self.check()
        if self.breaker.recovering and not self._limiter.hit(self._rate, _DRAIN_KEY):
            _REFUSED_DRAINING.inc()
            raise CircuitOpen("the PSP's queue is draining at a bounded rate", self._next_slot_s())
        self.breaker.admit()
        try:
            result = await call()
        except PspUnavailable:
            self.breaker.failed()
            raise
        except BaseException as err:
            # An answer (a refusal) is not an outage; a cancelled call is no answer at all.
            self._answered(moves_money and isinstance(err, Exception))
            raise
        self._answered(moves_money)
        return result

    def _answered(self, counts: bool) -> None:
        if counts:
            self.breaker.succeeded()
        else:
            self.breaker.abandoned()

    def amount_refusal(self, amount: Decimal, currency: str) -> str | None:
        """The PSP's own rule on amounts, known without calling it: never behind the breaker."""
        return self._psp.amount_refusal(amount, currency)

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        return await self._guarded(lambda: self._psp.charge(request))

    async def retrieve(self, psp_reference: str) -> ChargeOutcome:
        return await self._guarded(lambda: self._psp.retrieve(psp_reference), moves_money=False)

    async def open_hosted_page(self, request: HostedPageRequest) -> HostedPage:
        return await self._guarded(lambda: self._psp.open_hosted_page(request))

    async def find_charge(self, payment_order_id: str) -> ChargeOutcome | None:
        return await self._guarded(
            lambda: self._psp.find_charge(payment_order_id), moves_money=False
        )

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        return await self._guarded(lambda: self._psp.refund(request))

    async def find_refund(self, charge_reference: str, refund_id: str) -> RefundOutcome | None:
        return await self._guarded(
            lambda: self._psp.find_refund(charge_reference, refund_id), moves_money=False
        )


def monotonic() -> float:
    return time.monotonic()
