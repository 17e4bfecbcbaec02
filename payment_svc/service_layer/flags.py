"""The wallet and ledger answer each succeeded order with their own event; these use cases set
the order's flag, claim the event in the inbox in the same transaction, and recompute the
checkout's `is_payment_done`."""

from __future__ import annotations

from payment_svc.domain.order import OrderStatus
from payment_svc.service_layer.payment_done import refresh_payment_done
from payment_svc.service_layer.ports import Flag, UnitOfWorkFactory, UnknownOrder


class FlagRefused(Exception):
    """The event cannot apply to the order as it is (it never succeeded)."""


async def mark_flag(
    payment_order_id: str, flag: Flag, *, event_id: str, consumer: str, uow: UnitOfWorkFactory
) -> bool:
    """Apply the flag once per event; False when the event was already applied."""
    async with uow() as tx:
        first, checkout = await tx.repo.claim_and_lock_checkout(
            consumer, event_id, payment_order_id
        )
        if not first:
            return False
        if checkout is None:
            raise UnknownOrder(payment_order_id)
        order = next(o for o in checkout.orders if o.payment_order_id == payment_order_id)
        if order.status is not OrderStatus.SUCCESS:
            raise FlagRefused(
                f"{flag.value} for payment order {payment_order_id} in {order.status.value}"
            )
        if not getattr(order, flag.value):
            setattr(order, flag.value, True)
            await tx.repo.set_flag(payment_order_id, flag)
            await refresh_payment_done(tx, checkout, order)
        await tx.commit()
    return True


async def mark_wallet_updated(
    payment_order_id: str, *, event_id: str, consumer: str, uow: UnitOfWorkFactory
) -> bool:
    return await mark_flag(
        payment_order_id, Flag.WALLET_UPDATED, event_id=event_id, consumer=consumer, uow=uow
    )


async def mark_ledger_updated(
    payment_order_id: str, *, event_id: str, consumer: str, uow: UnitOfWorkFactory
) -> bool:
    return await mark_flag(
        payment_order_id, Flag.LEDGER_UPDATED, event_id=event_id, consumer=consumer, uow=uow
    )
