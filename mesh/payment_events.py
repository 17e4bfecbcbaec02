"""What the payment service's succeeded orders and refunds say, as the plain commands the
consumers' use cases take (the wallet credits and debits, the ledger posts): one definition for
every consumer, no protobuf here (mesh.consuming reads them off the wire, `Poison` when it
cannot)."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.money import Money


@dataclass(frozen=True)
class OrderSucceeded:
    """A `payment.order.succeeded` event as its consumers read it. `event_id` is the envelope's,
    as sent; `gross` is positive, `fee` may be zero (the rules between them are each
    consumer's domain's)."""

    event_id: str
    payment_order_id: str
    seller_account: str
    gross: Money
    fee: Money


@dataclass(frozen=True)
class RefundSucceeded:
    """A `payment.refund.succeeded` event as its consumers read it: `amount` is positive and
    `fee_refunded` (possibly zero) is in its currency; the seller gives back
    amount - fee_refunded. `event_id` is the envelope's, as sent."""

    event_id: str
    refund_id: str
    payment_order_id: str
    seller_account: str
    amount: Money
    fee_refunded: Money
