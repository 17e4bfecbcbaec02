"""The webhook event types a marketplace can subscribe to, and which mesh event each comes
from. A new source (payouts, reconciliation mismatches) is one more entry here, the same name
in the contract's list (CreateWebhookEndpointRequest.event_types) and its translation in
notify_svc.entrypoints.translate."""

from __future__ import annotations

# Mesh subject (mesh.events) -> webhook event type. Subjects not listed are not told.
TYPE_OF_SUBJECT: dict[str, str] = {
    "payment.checkout.done": "checkout.done",
    "payment.order.succeeded": "order.succeeded",
    "payment.order.failed": "order.failed",
    "payment.order.pending": "order.pending",
    "payment.refund.created": "refund.pending",
    "payment.refund.succeeded": "refund.succeeded",
    "payment.refund.failed": "refund.failed",
    "payout.paid": "payout.paid",
    "payout.failed": "payout.failed",  # FAILED, CANCELED, or paid then returned by the bank
    "recon.mismatch.opened": "recon.mismatch_opened",  # a new one in the finance queue
}

WEBHOOK_EVENT_TYPES: tuple[str, ...] = tuple(TYPE_OF_SUBJECT.values())
