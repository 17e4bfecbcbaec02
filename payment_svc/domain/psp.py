"""The payment service provider (PSP) port: what the executor asks of any PSP, in domain terms.

Amounts here are `Decimal` in major units; converting to a PSP's wire format (integer minor units
for Stripe) is the adapter's job and nobody else's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from mesh.retry import Transient


@dataclass(frozen=True)
class ChargeRequest:
    """One payment order to charge once, whatever the number of attempts."""

    payment_order_id: str  # also the PSP idempotency key
    amount: Decimal  # major units, e.g. Decimal("12.34")
    currency: str  # ISO 4217 upper case
    payment_method: str  # PSP token, e.g. "pm_card_visa"
    buyer_id: str
    checkout_id: str


@dataclass(frozen=True)
class HostedPageRequest:
    """One order for the buyer to pay on the PSP's hosted page."""

    payment_order_id: str  # also the PSP idempotency key and the page's metadata
    checkout_id: str
    amount: Decimal
    currency: str
    description: str  # what the buyer sees on the page
    redirect_url: str  # where the page sends the buyer when done
    buyer_email: str = ""


@dataclass(frozen=True)
class HostedPage:
    token: str  # the PSP's id of the page (e.g. a checkout session id)
    url: str  # where the buyer pays


class ChargeStatus(enum.Enum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    PENDING = "pending"  # the PSP needs time (3-D Secure, review): settle by webhook or polling


@dataclass(frozen=True)
class ChargeOutcome:
    """What the PSP answered about one charge."""

    status: ChargeStatus
    psp_reference: str  # the PaymentIntent id ("" if none)
    decline_reason: str = ""  # decline_code or error code when DECLINED, e.g. "insufficient_funds"


class PspUnavailable(Transient):
    """Transient: timeout, connection error, 5xx, 429 — retry later with the SAME idempotency
    key (a consumer retries it for as long as it lasts, never dead-letters it)."""


class PspRejected(Exception):
    """Permanent: the request itself is invalid (4xx other than declines) — do not retry."""


class PaymentProvider(Protocol):
    """A PSP that charges a payment method at most once per `payment_order_id`."""

    def amount_refusal(self, amount: Decimal, currency: str) -> str | None:
        """Why this PSP would refuse to charge `amount` in `currency` (its own minor-unit rules,
        which may be stricter than ISO 4217's), or None when it would take it. Asked before an
        order is accepted, so a client hears it as a 400, not as a failed order later."""
        ...

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        """Charge `request`; a retry with the same `payment_order_id` never charges twice.

        Raises PspUnavailable when the outcome is unknown (retry with the same request) and
        PspRejected when the request can never succeed as sent.
        """
        ...

    async def retrieve(self, psp_reference: str) -> ChargeOutcome:
        """The PSP's current view of an earlier charge, by its `psp_reference`."""
        ...

    async def open_hosted_page(self, request: HostedPageRequest) -> HostedPage:
        """Register the order with the PSP for its hosted page; once per payment order id (a
        retry gets the same page). Raises PspUnavailable / PspRejected like `charge`."""
        ...

    async def find_charge(self, payment_order_id: str) -> ChargeOutcome | None:
        """The PSP's view of the charge made for `payment_order_id`, found without its reference
        (the answer that carried it may have been lost); None when the PSP has none."""
        ...
