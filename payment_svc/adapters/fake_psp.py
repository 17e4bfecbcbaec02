"""An in-memory PaymentProvider for unit tests: idempotent like Stripe, with scripted faults.

Never wired in production or in the dev stack (that is the sandbox PSP's job).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from payment_svc.domain.psp import (
    ChargeOutcome,
    ChargeRequest,
    ChargeStatus,
    HostedPage,
    HostedPageRequest,
    PspRejected,
    PspUnavailable,
)
from payment_svc.domain.psp_refunds import RefundOutcome, RefundOutcomeStatus, RefundRequest

# The same test tokens as Stripe (and the sandbox PSP), with the same outcomes.
DEFAULT_OUTCOMES: dict[str, tuple[ChargeStatus, str]] = {
    "pm_card_visa": (ChargeStatus.SUCCEEDED, ""),
    "pm_card_mastercard": (ChargeStatus.SUCCEEDED, ""),
    "pm_card_chargeDeclined": (ChargeStatus.DECLINED, "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": (ChargeStatus.DECLINED, "insufficient_funds"),
    "pm_card_threeDSecure2Required": (ChargeStatus.PENDING, ""),
}


@dataclass(frozen=True)
class FakeCharge:
    """One charge the fake PSP holds, keyed by payment order id."""

    request: ChargeRequest
    outcome: ChargeOutcome


@dataclass(frozen=True)
class FakeRefund:
    """One refund the fake PSP holds, keyed by refund id."""

    request: RefundRequest
    outcome: RefundOutcome


class FakePaymentProvider:
    """Charges once per `payment_order_id`; a retry with the same request replays the outcome.

    - `set_outcome(token, status, reason)` scripts what a payment-method token does.
    - `fail_next(n)` raises PspUnavailable on the next n calls, before anything happens.
    - `lose_next_answers(n)` charges on the next n calls, then raises PspUnavailable, as when
      the PSP acted but its answer was lost (the caller must retry or ask, never charge again).
    - `settle(reference, status, reason)` finishes a PENDING charge (3-D Secure done, webhook).
    - `refund(...)` refunds once per refund id, never beyond the charge; `refund_outcome` sets
      what a new refund does; `lose_next_answers` and `fail_next` apply to refunds too.
    """

    def __init__(self, outcomes: dict[str, tuple[ChargeStatus, str]] | None = None) -> None:
        self._outcomes = dict(DEFAULT_OUTCOMES if outcomes is None else outcomes)
        self._charges: dict[str, FakeCharge] = {}  # by payment order id
        self._by_reference: dict[str, str] = {}  # psp reference -> payment order id
        self._failures_left = 0
        self._lost_answers_left = 0
        self.calls = 0  # every charge(), retrieve() and find_charge() call, failed ones included
        self.lookups = 0  # find_charge() calls
        self.refunds: dict[str, FakeRefund] = {}  # by refund id
        self.refund_calls = 0  # refund() calls, failed ones included
        self.refund_lookups = 0  # find_refund() calls
        self.refund_outcome = RefundOutcomeStatus.SUCCEEDED  # what the next new refund does
        self.hosted_pages: dict[str, HostedPage] = {}  # by payment order id
        self.refused_currencies: dict[str, str] = {}  # currency -> why amounts in it are refused

    def amount_refusal(self, amount: Decimal, currency: str) -> str | None:
        return self.refused_currencies.get(currency)

    def set_outcome(self, payment_method: str, status: ChargeStatus, reason: str = "") -> None:
        self._outcomes[payment_method] = (status, reason)

    def fail_next(self, times: int = 1) -> None:
        self._failures_left = times

    def lose_next_answers(self, times: int = 1) -> None:
        self._lost_answers_left = times

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        self.calls += 1
        self._maybe_fail()
        existing = self._charges.get(request.payment_order_id)
        if existing is not None:
            if existing.request != request:
                raise PspRejected(
                    f"idempotency key {request.payment_order_id!r} reused with other parameters"
                )
            return self._answer(existing.outcome)
        scripted = self._outcomes.get(request.payment_method)
        if scripted is None:
            raise PspRejected(f"no such payment method: {request.payment_method!r}")
        status, reason = scripted
        reference = f"pi_fake_{len(self._charges) + 1:06d}"
        if status is not ChargeStatus.DECLINED:
            reason = ""
        outcome = ChargeOutcome(status, reference, reason)
        self._charges[request.payment_order_id] = FakeCharge(request, outcome)
        self._by_reference[reference] = request.payment_order_id
        return self._answer(outcome)

    async def retrieve(self, psp_reference: str) -> ChargeOutcome:
        self.calls += 1
        self._maybe_fail()
        order_id = self._by_reference.get(psp_reference)
        if order_id is None:
            raise PspRejected(f"no such payment intent: {psp_reference!r}")
        return self._charges[order_id].outcome

    async def open_hosted_page(self, request: HostedPageRequest) -> HostedPage:
        self.calls += 1
        self._maybe_fail()
        page = self.hosted_pages.setdefault(
            request.payment_order_id,
            HostedPage(
                f"cs_fake_{len(self.hosted_pages) + 1:06d}",
                f"https://psp.test/pay/{request.payment_order_id}",
            ),
        )
        return page

    async def find_charge(self, payment_order_id: str) -> ChargeOutcome | None:
        self.calls += 1
        self.lookups += 1
        self._maybe_fail()
        charge = self._charges.get(payment_order_id)
        return None if charge is None else charge.outcome

    def settle(self, psp_reference: str, status: ChargeStatus, reason: str = "") -> None:
        """Finish a PENDING charge, as 3-D Secure completion or a webhook would."""
        order_id = self._by_reference[psp_reference]
        charge = self._charges[order_id]
        if charge.outcome.status is not ChargeStatus.PENDING:
            raise ValueError(f"{psp_reference} is already {charge.outcome.status.name}")
        self._charges[order_id] = FakeCharge(
            charge.request, ChargeOutcome(status, psp_reference, reason)
        )

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        """Refund once per refund id, never more than what is left of the charge (refunds not
        failed); a retry replays the first outcome."""
        self.calls += 1
        self.refund_calls += 1
        self._maybe_fail()
        existing = self.refunds.get(request.refund_id)
        if existing is not None:
            if existing.request != request:
                raise PspRejected(f"idempotency key {request.refund_id!r} reused")
            return self._answer_refund(existing.outcome)
        order_id = self._by_reference.get(request.charge_reference)
        charge = self._charges.get(order_id or "")
        if charge is None or charge.outcome.status is not ChargeStatus.SUCCEEDED:
            raise PspRejected(f"no succeeded charge {request.charge_reference!r} to refund")
        refunded = sum(
            r.request.amount
            for r in self.refunds.values()
            if r.request.charge_reference == request.charge_reference
            and r.outcome.status is not RefundOutcomeStatus.FAILED
        )
        if refunded + request.amount > charge.request.amount:
            raise PspRejected("refund amount is greater than unrefunded amount on charge")
        reason = "declined" if self.refund_outcome is RefundOutcomeStatus.FAILED else ""
        outcome = RefundOutcome(self.refund_outcome, f"re_fake_{len(self.refunds) + 1:06d}", reason)
        self.refunds[request.refund_id] = FakeRefund(request, outcome)
        return self._answer_refund(outcome)

    async def find_refund(self, charge_reference: str, refund_id: str) -> RefundOutcome | None:
        self.calls += 1
        self.refund_lookups += 1
        self._maybe_fail()
        found = self.refunds.get(refund_id)
        if found is None or found.request.charge_reference != charge_reference:
            return None
        return found.outcome

    def _answer_refund(self, outcome: RefundOutcome) -> RefundOutcome:
        if self._lost_answers_left > 0:
            self._lost_answers_left -= 1
            raise PspUnavailable("fake PSP: refunded, but the answer was lost")
        return outcome

    def charge_for(self, payment_order_id: str) -> FakeCharge | None:
        return self._charges.get(payment_order_id)

    def charges_by_order(self) -> dict[str, int]:
        """Succeeded charges per payment order id, like `list_charges_by_order` (at most 1 here:
        the fake cannot double-charge, so tests of callers look at `calls` and outcomes)."""
        return {
            order_id: 1
            for order_id, charge in self._charges.items()
            if charge.outcome.status is ChargeStatus.SUCCEEDED
        }

    def _maybe_fail(self) -> None:
        if self._failures_left > 0:
            self._failures_left -= 1
            raise PspUnavailable("fake PSP: scripted outage")

    def _answer(self, outcome: ChargeOutcome) -> ChargeOutcome:
        if self._lost_answers_left > 0:
            self._lost_answers_left -= 1
            raise PspUnavailable("fake PSP: charged, but the answer was lost")
        return outcome
