"""The reconciliation service's events as protobuf, for the outbox."""

from __future__ import annotations

from google.protobuf.message import Message

from mesh.events import RECON_MISMATCH_OPENED
from mesh.money import InvalidMoney, format_amount
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2
from recon_svc.domain.events import MismatchOpened


def encode_event(event: MismatchOpened) -> tuple[str, str, Message]:
    """(subject, aggregate id, payload) of an event."""
    amount = None
    if event.amount is not None:
        try:
            wire = format_amount(event.amount, event.currency)
        except InvalidMoney:  # a currency paymesh does not know: the PSP's figure as it came
            wire = str(event.amount)
        amount = money_pb2.Money(amount=wire, currency=event.currency)
    return (
        RECON_MISMATCH_OPENED,
        event.mismatch_id,
        events_pb2.ReconMismatchOpened(
            mismatch_id=event.mismatch_id,
            type=event.type,
            detail=event.detail,
            mismatch_class=event.mismatch_class,
            amount=amount,
            run_id=event.run_id,
            suggested_action=event.suggested_action,
            period=event.period.isoformat(),
        ),
    )
