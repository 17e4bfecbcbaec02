"""The `notify-events` consumer: every payment event the marketplace may be told about →
a webhook event and its deliveries. Its own durable on the PAYMENT stream: however far behind
it falls, the payment path never waits on it. `notify-payout-events` does the same for the
payout service's events (payout.paid, payout.failed) on the PAYOUT stream, and
`notify-recon-events` for reconciliation's (recon.mismatch.opened) on the RECON stream."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from mesh.consuming import Applier
from mesh.jetstream import ConsumerSpec
from notify_svc.domain.webhook_event import WebhookEvent
from notify_svc.entrypoints.translate import to_webhook_event
from notify_svc.service_layer.events import (
    EVENTS_CONSUMER,
    PAYOUT_EVENTS_CONSUMER,
    RECON_EVENTS_CONSUMER,
    record_event,
)
from notify_svc.service_layer.ports import NotifyUnitOfWork


def events_consumer_spec(concurrency: int) -> ConsumerSpec:
    # Every payment subject: the ones nobody subscribes to are acked at once. Payouts have a
    # spec of their own on their stream (payout_events_consumer_spec).
    return ConsumerSpec(
        stream="PAYMENT", durable=EVENTS_CONSUMER, subject="payment.>", concurrency=concurrency
    )


def payout_events_consumer_spec(concurrency: int) -> ConsumerSpec:
    # payout.reserved too (the payout service's own work item): not told, acked at once.
    return ConsumerSpec(
        stream="PAYOUT",
        durable=PAYOUT_EVENTS_CONSUMER,
        subject="payout.>",
        concurrency=concurrency,
    )


def recon_events_consumer_spec(concurrency: int) -> ConsumerSpec:
    return ConsumerSpec(
        stream="RECON",
        durable=RECON_EVENTS_CONSUMER,
        subject="recon.>",
        concurrency=concurrency,
    )


def events_handler(
    new_uow: Callable[[], NotifyUnitOfWork],
    clock: Callable[[], datetime],
    recorded: Callable[[], None],
) -> Applier[WebhookEvent, NotifyUnitOfWork, int]:
    """`record_event` for every envelope the marketplace is told about (others are acked at
    once); `recorded` is called after a commit that made deliveries (wakes the delivery
    loop)."""

    def made_deliveries(counts: Sequence[int]) -> None:
        if any(counts):
            recorded()

    return Applier(
        to_webhook_event, partial(record_event, clock=clock), new_uow, applied=made_deliveries
    )
