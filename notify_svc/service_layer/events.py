"""Turning a mesh event into a webhook event with one pending delivery per subscribed endpoint,
in one transaction with its inbox claim (never lost, never doubled); and reading or repeating
an event's deliveries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from notify_svc.domain.webhook_event import WebhookEvent
from notify_svc.service_layer.ports import EventLog, NotifyUnitOfWork

EVENTS_CONSUMER = "notify-events"
# Its durable on the PAYOUT stream (payout.paid / payout.failed); the inbox claims of every
# durable are under EVENTS_CONSUMER (mesh event ids are unique across streams).
PAYOUT_EVENTS_CONSUMER = "notify-payout-events"
# Its durable on the RECON stream (recon.mismatch.opened), the same way.
RECON_EVENTS_CONSUMER = "notify-recon-events"


class UnknownEvent(LookupError):
    pass


async def record_event(
    uow: NotifyUnitOfWork, event: WebhookEvent, clock: Callable[[], datetime]
) -> int:
    """Store the event for every enabled endpoint subscribed to its type; the number of
    deliveries made (0 for a redelivered mesh event, or when nobody subscribed)."""
    async with uow as tx:
        if not await tx.claim_event(EVENTS_CONSUMER, event.source_event_id):
            return 0
        endpoints = await tx.store.subscribers(event.event_type)
        if endpoints:
            await tx.store.add_event(event, endpoints, clock())
        await tx.commit()
    return len(endpoints)


async def event_log(uow: NotifyUnitOfWork, event_id: str) -> EventLog:
    async with uow as tx:
        found = await tx.store.event_log(event_id)
    if found is None:
        raise UnknownEvent(event_id)
    return found


class NothingToRedeliver(ValueError):
    """No enabled endpoint of the event (or not the one named) to send it to."""


async def redeliver(
    uow: NotifyUnitOfWork,
    *,
    caller: str,
    request_id: str,
    event_id: str,
    endpoint_id: str,
    clock: Callable[[], datetime],
) -> EventLog:
    """Make the event's deliveries due now with a fresh retry schedule, once per request id;
    the event's log afterwards."""
    async with uow as tx:
        if await tx.store.event_log(event_id) is None:
            raise UnknownEvent(event_id)
        if await tx.store.claim_redelivery(caller, request_id, event_id, endpoint_id):
            if not await tx.store.redeliver(event_id, endpoint_id, clock()):
                raise NothingToRedeliver(event_id)
        log = await tx.store.event_log(event_id)
        await tx.commit()
    assert log is not None
    return log
