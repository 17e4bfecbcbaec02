"""The payout service's events as protobuf, for the outbox."""

from __future__ import annotations

from google.protobuf.message import Message

from mesh.events import PAYOUT_FAILED, PAYOUT_PAID, PAYOUT_RESERVED
from mesh.money import format_amount
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2
from payout_svc.domain.events import DomainEvent, PayoutPaid, PayoutReserved


def encode_event(event: DomainEvent) -> tuple[str, str, Message]:
    if isinstance(event, PayoutReserved):
        return (
            PAYOUT_RESERVED,
            event.payout_id,
            events_pb2.PayoutReserved(payout_id=event.payout_id),
        )
    if isinstance(event, PayoutPaid):
        return (
            PAYOUT_PAID,
            event.payout_id,
            events_pb2.PayoutPaid(
                payout_id=event.payout_id,
                seller_account=event.seller_account,
                amount=money_pb2.Money(
                    amount=format_amount(event.amount, event.currency), currency=event.currency
                ),
                provider_reference=event.provider_reference,
            ),
        )
    amount = (
        money_pb2.Money(amount=format_amount(event.amount, event.currency), currency=event.currency)
        if event.amount is not None
        else None
    )
    return (
        PAYOUT_FAILED,
        event.payout_id,
        events_pb2.PayoutFailed(
            payout_id=event.payout_id,
            seller_account=event.seller_account,
            amount=amount,
            status=event.status,
            reason=event.reason,
            returned=event.returned,
        ),
    )
