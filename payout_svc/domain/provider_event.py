"""An event the payout provider sent about a payout on a connected account (a Stripe Connect
`payout.*` webhook), in domain terms.

The adapter that verified and parsed it fills `status` only for events that say where a payout
stands; other events change nothing. A signed event whose shape cannot be trusted (no payout
id, amount or currency on a payout event, a malformed `data` object) carries a `refusal`: it is
recorded (a redelivery is a duplicate) and refused, never applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from payout_svc.domain.provider import ProviderStatus


@dataclass(frozen=True)
class ProviderEvent:
    event_id: str  # the provider's id, unique per event: a redelivery carries the same one
    type: str  # e.g. "payout.paid"
    created_at: datetime  # when the provider made the event
    account: str = ""  # the connected account the payout is on (`account` of a Connect event)
    payout_id: str = ""  # paymesh's payout id (the payout's metadata); "" when it names none
    reference: str = ""  # the provider's payout id, po_...
    status: ProviderStatus | None = None  # None: the event says nothing about a payout's status
    failure: str = ""  # the provider's failure code, for a failed payout
    amount: Decimal | None = None  # major units
    currency: str = ""  # ISO 4217 upper case, with `amount`
    refusal: str = ""  # why the event may not be applied at all; "" when it may
