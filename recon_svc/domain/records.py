"""The rows reconciliation compares, and what the matcher hands back about them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class PspTransaction:
    """One of the PSP's balance transactions. `gross` is signed (a refund is negative);
    `currency` is upper case; empty strings where the report has no value."""

    id: str
    category: str
    source: str
    payment_intent: str
    payment_order_id: str
    refund_id: str
    gross: Decimal
    fee: Decimal
    currency: str
    created: datetime


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """A payment order as paymesh has it. `psp_fee` is the PSP's fee as booked by paymesh, None
    while it is not booked (then there is nothing to compare the PSP's fee with)."""

    payment_order_id: str
    psp_reference: str
    status: str
    amount: Decimal
    currency: str
    psp_fee: Decimal | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RefundRecord:
    """A refund as paymesh has it (`amount` positive, as in payment.refunds)."""

    refund_id: str
    payment_order_id: str
    psp_reference: str
    status: str
    amount: Decimal
    currency: str
    created_at: datetime


class MatchRule(enum.Enum):
    """How a PSP transaction was tied to one of our records, most specific first: the first
    rule that ties a transaction wins, and a record is tied to one transaction at most."""

    PSP_ID = "psp_id"  # the PSP's id (PaymentIntent, refund) stored on our record
    METADATA = "metadata"  # the payment_order_id / refund_id paymesh sent in the metadata
    AMOUNT_CURRENCY_DATE = "amount_currency_date"  # same amount and currency, close in time

    @property
    def is_certain(self) -> bool:
        """Ids prove a match; amount and date only suggest one, so no fix rests on them."""
        return self is not MatchRule.AMOUNT_CURRENCY_DATE


class CandidateKind(enum.Enum):
    """What the matcher found about a PSP transaction or one of our records."""

    CHARGE_PAIR = "charge_pair"  # a charge tied to an order
    DUPLICATE_CHARGE = "duplicate_charge"  # a further charge tied to an already tied order
    CHARGE_ALONE = "charge_alone"  # a charge tied to no order
    ORDER_ALONE = "order_alone"  # an order no charge is tied to
    REFUND_PAIR = "refund_pair"
    DUPLICATE_REFUND = "duplicate_refund"
    PSP_REFUND_ALONE = "psp_refund_alone"
    OUR_REFUND_ALONE = "our_refund_alone"
    OTHER_PSP = "other_psp"  # a category reconciliation does not compare (fee, adjustment, ...)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A possible mismatch, as the matcher hands it over: the rows involved and how they were
    tied. The matcher passes on every pair in which anything differs and every row left alone;
    the domain decides what, if anything, is wrong (`find_mismatches`)."""

    kind: CandidateKind
    rule: MatchRule | None = None
    psp: PspTransaction | None = None
    order: OrderRecord | None = None
    refund: RefundRecord | None = None
