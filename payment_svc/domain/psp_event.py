"""An event the PSP sent about a charge (a webhook), in domain terms.

The adapter that verified and parsed it fills `outcome` only for events that say how a charge
ended up (or that it is still under way); other events are kept for audit and change nothing.
A signed event whose shape the adapter cannot trust (no intent id, a malformed `data` object)
carries a `refusal`: it is kept for audit and refused, never applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from payment_svc.domain.psp import ChargeOutcome


@dataclass(frozen=True)
class PspEvent:
    event_id: str  # the PSP's id, unique per event: a redelivery carries the same one
    type: str  # e.g. "payment_intent.succeeded"
    created_at: datetime  # when the PSP made the event
    payment_order_id: str  # from the charge's metadata; "" when it names none
    psp_reference: str  # the charge (PaymentIntent) id; "" when none
    outcome: ChargeOutcome | None  # None: the event says nothing about a charge's outcome
    payload: bytes  # the event as received, kept for audit
    amount: Decimal | None = None  # the charge's amount in major units, when it has one
    currency: str = ""  # ISO 4217 upper case, with `amount`
    refusal: str = ""  # why the event may not be applied at all; "" when it may
