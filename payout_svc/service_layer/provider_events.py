"""Applying the payout provider's events (Stripe Connect `payout.*` webhooks) to payouts,
alongside the sweeper's polling (which stays as the fallback for a lost webhook).

An event is claimed in the payout service's inbox (PROVIDER_EVENTS_INBOX, on its event id) in
the transaction that records what it did, so a redelivery changes nothing again, however late.
An event only moves a payout forward (Payout.can_move_to): a late or reordered one is claimed
and ignored. The wallet is told first, idempotently on the hold id, as the sweeper does
(payouts.apply_provider_state): a crash before the claim leaves the event unacknowledged and the
provider delivers it again; its second application finds the wallet's step taken.

A verified event is still checked against its payout before it moves it: a signature proves
who sent it, not that it is about this payout. Another connected account, provider payout id
(when one is recorded), amount or currency: MISMATCH, nothing changed (ADR 0003's rule for
pay-in webhooks, ADR 0022).
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from mesh.money import format_amount
from payout_svc.domain import Payout, ProviderPayout
from payout_svc.domain.provider_event import ProviderEvent
from payout_svc.service_layer.payouts import (
    PROVIDER_EVENTS_INBOX,
    TO_STATUS,
    NewUow,
    apply_provider_state,
    claim_event,
    inbox_key,
)
from payout_svc.service_layer.ports import Clock, Holds

DEFAULT_MAX_FUTURE = timedelta(seconds=300)


class WebhookResult(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    MISMATCH = "mismatch"  # genuine, but disagrees with its payout: nothing changed
    REFUSED = "refused"  # genuine, but malformed or from the future: nothing changed


def refusal_of(event: ProviderEvent, now: datetime, max_future: timedelta) -> str:
    """Why `event` may not be applied whatever its payout says; "" when it may."""
    if event.refusal:
        return event.refusal
    if event.created_at > now + max_future:
        return f"made at {event.created_at.isoformat()}, more than {max_future} ahead of our clock"
    return ""


def mismatch_of(event: ProviderEvent, payout: Payout) -> str:
    """How the event disagrees with the payout it names; "" when it agrees."""
    if event.account != payout.destination:
        return f"account {event.account}, the payout's is {payout.destination}"
    if payout.provider_reference and event.reference != payout.provider_reference:
        return f"payout {event.reference}, ours is {payout.provider_reference}"
    if event.currency != payout.currency:
        return f"currency {event.currency}, the payout's is {payout.currency}"
    if payout.amount is None or event.amount != payout.amount:
        shown = format_amount(payout.amount, payout.currency) if payout.amount else "not held"
        return f"amount {event.amount}, the payout's is {shown}"
    return ""


async def apply_provider_event(
    new_uow: NewUow,
    holds: Holds,
    clock: Clock,
    event: ProviderEvent,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
) -> tuple[WebhookResult, str]:
    """What the event did, in words. Raises what the wallet raises (unavailable: the provider
    delivers the event again)."""
    async with new_uow() as uow:  # a look only, rolled back: the claim that counts comes later
        if not await uow.claim_event(PROVIDER_EVENTS_INBOX, inbox_key(event.event_id)):
            return WebhookResult.DUPLICATE, "already received"
    outcome = await _judge(new_uow, event, clock(), max_future)
    if outcome is not None:
        result, note = outcome
        if not await claim_event(new_uow, event.event_id):
            return WebhookResult.DUPLICATE, "already received"
        return result, note
    assert event.status is not None
    before = await _payout(new_uow, event.payout_id)
    assert before is not None
    after = await apply_provider_state(
        new_uow,
        holds,
        clock,
        event.payout_id,
        ProviderPayout(event.reference, event.status, event.failure),
        claim=event.event_id,
    )
    if after.status is before.status:
        return WebhookResult.IGNORED, f"ignored: the payout is already {after.status.value}"
    return WebhookResult.APPLIED, f"applied: {before.status.value} → {after.status.value}"


async def _payout(new_uow: NewUow, payout_id: str) -> Payout | None:
    async with new_uow() as uow:
        return await uow.payouts.get_payout(payout_id)


async def _judge(
    new_uow: NewUow, event: ProviderEvent, now: datetime, max_future: timedelta
) -> tuple[WebhookResult, str] | None:
    """The answer for an event that moves nothing; None for one to apply."""
    refusal = refusal_of(event, now, max_future)
    if refusal:
        return WebhookResult.REFUSED, f"refused: {refusal}"
    if event.status is None:
        return WebhookResult.IGNORED, "ignored: says nothing about a payout's status"
    if not event.payout_id:
        return WebhookResult.IGNORED, "ignored: names no paymesh payout"
    payout = await _payout(new_uow, event.payout_id)
    if payout is None:
        return WebhookResult.IGNORED, "ignored: unknown payout"
    mismatch = mismatch_of(event, payout)
    if mismatch:
        return WebhookResult.MISMATCH, f"mismatch: {mismatch}"
    if not payout.can_move_to(TO_STATUS[event.status]):
        return WebhookResult.IGNORED, f"ignored: the payout is already {payout.status.value}"
    return None
