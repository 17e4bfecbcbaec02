"""Paying a seller: reserve in the wallet, ask the provider (the payout id is its idempotency
key), then capture the hold on PAID or release it on failure; a PAID payout the bank returns
gives the money back (the wallet's ReturnFunds). The provider is asked what became of a payout
before it is ever asked to pay it again."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from mesh.errors import (
    FieldViolation,
    ServiceError,
    already_exists,
    failed_precondition,
    invalid_argument,
    is_refusal,
    not_found,
)
from mesh.errors import unavailable as unavailable_error
from mesh.money import InvalidMoney, parse_amount
from payout_svc.domain import (
    Payout,
    PayoutProvider,
    PayoutStatus,
    ProviderPayout,
    ProviderRefused,
    ProviderStatus,
    new_payout,
)
from payout_svc.domain.events import PayoutFailed, PayoutPaid, PayoutReserved
from payout_svc.service_layer.ports import Clock, Holds, PayoutUnitOfWork, WalletUnavailable

log = logging.getLogger(__name__)

NewUow = Callable[[], PayoutUnitOfWork]

# The inbox consumer name of the provider's events (webhooks): a redelivered event is claimed
# already and changes nothing again.
PROVIDER_EVENTS_INBOX = "provider-webhooks"
_PROVIDER_EVENTS = uuid.UUID("0b6c51a2-4f0e-4d7a-9c43-7f1e2a9d5b08")


def inbox_key(provider_event_id: str) -> str:
    """The inbox's key (a UUID, as the mesh's mesh events have) of a provider's event id."""
    return str(uuid.uuid5(_PROVIDER_EVENTS, provider_event_id))


@dataclass(frozen=True)
class RequestPayout:
    payout_id: str
    seller_account: str
    amount: str  # "" for everything available
    currency: str


def unavailable(what: str) -> ServiceError:
    return unavailable_error(f"{what} is unavailable; retry with the same payout_id")


async def request_payout(new_uow: NewUow, holds: Holds, clock: Clock, cmd: RequestPayout) -> Payout:
    """Record the payout and hold its money in the wallet. Idempotent on payout_id (the same
    payout is answered). NOT_FOUND unknown seller; NO_PAYOUT_DESTINATION (nothing reserved);
    INSUFFICIENT_FUNDS / NO_BALANCE_IN_CURRENCY from the wallet (the payout is FAILED with it)."""
    amount = None
    if cmd.amount:
        try:
            amount = parse_amount(cmd.amount, cmd.currency, allow_zero=False)
        except InvalidMoney as err:
            raise invalid_argument([FieldViolation("amount", err.rule, str(err))]) from None
    async with new_uow() as uow:
        existing = await uow.payouts.get_payout(cmd.payout_id)
        if existing is None:
            seller = await uow.payouts.get_seller(cmd.seller_account)
            if seller is None:
                raise not_found("seller_account", cmd.seller_account)
            if not seller.destination:
                raise failed_precondition(
                    "NO_PAYOUT_DESTINATION",
                    f"seller {cmd.seller_account} has no payout destination; set one with "
                    "PATCH /v1/sellers/{seller_account}",
                    {"seller_account": cmd.seller_account},
                )
            payout = new_payout(
                cmd.payout_id, cmd.seller_account, cmd.currency, amount, seller.destination, clock()
            )
            if await uow.payouts.add_payout(payout):
                await uow.commit()
            existing = await uow.payouts.get_payout(cmd.payout_id)
    assert existing is not None
    if existing.seller_account != cmd.seller_account or existing.currency != cmd.currency:
        raise already_exists(f"payout {cmd.payout_id} exists for another seller or currency")
    if existing.status is PayoutStatus.REQUESTED:
        return await reserve(new_uow, holds, clock, existing)
    return existing


async def reserve(new_uow: NewUow, holds: Holds, clock: Clock, payout: Payout) -> Payout:
    """Hold the payout's money (idempotent on its id) and move it to RESERVED, queueing its
    provider call; a refusal of the wallet fails it and is raised."""
    try:
        held = await holds.reserve(
            payout.payout_id, payout.seller_account, payout.amount, payout.currency
        )
    except WalletUnavailable:
        raise unavailable("the wallet") from None
    except ServiceError as refusal:
        if is_refusal(refusal):
            await _record(new_uow, clock, payout.payout_id, PayoutStatus.FAILED, refusal.reason)
        raise
    async with new_uow() as uow:
        current = await uow.payouts.get_payout(payout.payout_id, lock=True)
        assert current is not None
        if current.status is not PayoutStatus.REQUESTED:
            return current
        reserved = current.moved_to(PayoutStatus.RESERVED, clock(), amount=held)
        await uow.payouts.save_payout(reserved)
        await uow.publish(PayoutReserved(payout.payout_id))
        await uow.commit()
    return reserved


async def get_payout(new_uow: NewUow, payout_id: str) -> Payout:
    async with new_uow() as uow:
        payout = await uow.payouts.get_payout(payout_id)
    if payout is None:
        raise not_found("payout_id", payout_id)
    return payout


async def submit(
    new_uow: NewUow, holds: Holds, provider: PayoutProvider, clock: Clock, payout_id: str
) -> Payout:
    """Have the provider pay a RESERVED payout: first ask it whether an earlier attempt did
    (a lost answer), else pay with the payout id as idempotency key. ProviderUnavailable
    leaves the payout RESERVED (retried); a refusal fails it and releases the hold."""
    payout = await get_payout(new_uow, payout_id)
    if payout.status is not PayoutStatus.RESERVED:
        return payout
    assert payout.amount is not None
    try:
        found = await provider.find(payout.payout_id, payout.destination)
        if found is None:
            found = await provider.pay(
                payout.payout_id, payout.destination, payout.amount, payout.currency
            )
    except ProviderRefused as err:  # e.g. an account the provider does not know
        found = ProviderPayout("", ProviderStatus.FAILED, str(err) or "refused")
    return await apply_provider_state(new_uow, holds, clock, payout.payout_id, found)


TO_STATUS = {
    ProviderStatus.PENDING: PayoutStatus.SUBMITTED,
    ProviderStatus.IN_TRANSIT: PayoutStatus.IN_TRANSIT,
    ProviderStatus.PAID: PayoutStatus.PAID,
    ProviderStatus.FAILED: PayoutStatus.FAILED,
    ProviderStatus.CANCELED: PayoutStatus.CANCELED,
}


async def apply_provider_state(
    new_uow: NewUow,
    holds: Holds,
    clock: Clock,
    payout_id: str,
    seen: ProviderPayout,
    claim: str = "",
) -> Payout:
    """Bring the payout to what the provider says, forward only: a report the payout is at or
    past (a late or reordered webhook, `in_transit` after `paid`) changes nothing. The wallet is
    told first (idempotent), the status recorded after: a crash between the two is finished by
    the next look. `claim`: the provider event id that reported it, claimed in the payout
    service's inbox in the transaction that records the status (PROVIDER_EVENTS_INBOX)."""
    payout = await get_payout(new_uow, payout_id)
    target = TO_STATUS[seen.status]
    if not payout.can_move_to(target):
        if claim:
            await claim_event(new_uow, claim)
        return payout
    try:
        if target is PayoutStatus.PAID:
            await holds.capture(payout_id)
        elif target in (PayoutStatus.FAILED, PayoutStatus.CANCELED):
            if payout.status is PayoutStatus.PAID:
                await holds.return_(payout_id)
            else:
                await holds.release(payout_id)
    except WalletUnavailable:
        raise unavailable("the wallet") from None
    reason = seen.failure or ("returned by the bank" if payout.status is PayoutStatus.PAID else "")
    return await _record(
        new_uow, clock, payout_id, target, reason, provider_reference=seen.reference, claim=claim
    )


async def claim_event(new_uow: NewUow, event_id: str) -> bool:
    """Record the provider event `event_id` as handled; False when it was before."""
    async with new_uow() as uow:
        if not await uow.claim_event(PROVIDER_EVENTS_INBOX, inbox_key(event_id)):
            return False
        await uow.commit()
    return True


async def _record(
    new_uow: NewUow,
    clock: Clock,
    payout_id: str,
    status: PayoutStatus,
    reason: str = "",
    provider_reference: str = "",
    claim: str = "",
) -> Payout:
    async with new_uow() as uow:
        payout = await uow.payouts.get_payout(payout_id, lock=True)
        assert payout is not None
        if claim and not await uow.claim_event(PROVIDER_EVENTS_INBOX, inbox_key(claim)):
            return payout  # a concurrent delivery of the same event recorded it
        if not payout.can_move_to(status):  # moved there (or past) meanwhile
            await uow.commit()  # the claim, if any
            return payout
        changes = {"provider_reference": provider_reference} if provider_reference else {}
        moved = payout.moved_to(status, clock(), reason, **changes)
        await uow.payouts.save_payout(moved)
        told = outcome_event(moved)
        if told is not None:  # the marketplace hears of it (notify_svc), in this transaction
            await uow.publish(told)
        await uow.commit()
    log.info("payout %s %s → %s %s", payout_id, payout.status.value, status.value, reason)
    return moved


def outcome_event(payout: Payout) -> PayoutPaid | PayoutFailed | None:
    """The event a payout's final status (PAID, FAILED, CANCELED) is published as."""
    if payout.status is PayoutStatus.PAID:
        assert payout.amount is not None
        return PayoutPaid(
            payout.payout_id,
            payout.seller_account,
            payout.amount,
            payout.currency,
            payout.provider_reference,
        )
    if payout.status in (PayoutStatus.FAILED, PayoutStatus.CANCELED):
        return PayoutFailed(
            payout.payout_id,
            payout.seller_account,
            payout.amount,
            payout.currency,
            payout.status.value,
            payout.failure_reason,
            payout.returned,
        )
    return None


async def sweep(
    new_uow: NewUow,
    holds: Holds,
    provider: PayoutProvider,
    clock: Clock,
    stale_after_s: float,
    return_window_s: float,
    batch: int = 100,
) -> int:
    """Finish what is stuck: REQUESTED payouts are reserved again (idempotent), RESERVED ones
    submitted (asking the provider first), SUBMITTED / IN_TRANSIT / PAID ones brought to what
    the provider says (a PAID one may still come back, for `return_window_s`). Returns how
    many it looked at."""
    now = clock()
    before = now - timedelta(seconds=stale_after_s)
    async with new_uow() as uow:
        requested = await uow.payouts.stale((PayoutStatus.REQUESTED,), before, batch)
        reserved = await uow.payouts.stale((PayoutStatus.RESERVED,), before, batch)
        moving = await uow.payouts.stale(
            (PayoutStatus.SUBMITTED, PayoutStatus.IN_TRANSIT), before, batch
        )
        moving += await uow.payouts.stale(
            (PayoutStatus.PAID,), before, batch, now - timedelta(seconds=return_window_s)
        )
    for payout_id in requested:
        try:
            await reserve(new_uow, holds, clock, await get_payout(new_uow, payout_id))
        except ServiceError as err:
            log.warning("payout %s: reserve: %s", payout_id, err)
    for payout_id in reserved:
        await submit(new_uow, holds, provider, clock, payout_id)
    for payout_id in moving:
        payout = await get_payout(new_uow, payout_id)
        try:
            seen = await provider.find(payout_id, payout.destination)
        except ProviderRefused as err:
            log.warning("payout %s: the provider refuses to show it: %s", payout_id, err)
            continue
        if seen is None:
            log.warning("payout %s is %s but the provider has none", payout_id, payout.status)
            continue
        await apply_provider_state(new_uow, holds, clock, payout_id, seen)
    return len(requested) + len(reserved) + len(moving)
