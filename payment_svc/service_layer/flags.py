"""The wallet and ledger answer each succeeded order with their own event; these use cases set
the order's flag, claim the event in the inbox in the same transaction, and recompute the
checkout's `is_payment_done`.

`apply_flag` is the use case of a batched consumer (mesh.consuming.Applier): many of them run in
one transaction, after `lock_checkouts` locked every checkout of the batch once, in checkout id
order; each then finds its checkout as the batch's earlier flags left it, so two orders of one
checkout in one batch still make it done, once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from payment_svc.domain.order import OrderStatus
from payment_svc.service_layer.payment_done import refresh_payment_done
from payment_svc.service_layer.ports import Flag, UnitOfWork, UnknownOrder


class FlagRefused(Exception):
    """The event cannot apply to the order as it is (it never succeeded)."""


@dataclass(frozen=True)
class MarkFlag:
    """Set `flag` on the order for the event `event_id`, received by `consumer` (its inbox)."""

    payment_order_id: str
    flag: Flag
    event_id: str
    consumer: str


async def lock_checkouts(tx: UnitOfWork, commands: Sequence[MarkFlag]) -> None:
    """Lock the checkouts of a batch's orders, each once, in checkout id order (run in the
    batch's transaction before its `apply_flag`s, mesh.consuming.Applier's `prepare`)."""
    await tx.repo.lock_checkouts_of([cmd.payment_order_id for cmd in commands])


async def apply_flag(tx: UnitOfWork, cmd: MarkFlag) -> bool:
    """Apply the flag once per event; False when the event was already applied. `UnknownOrder`
    or `FlagRefused` (nothing claimed, nothing written) when it cannot apply."""
    async with tx:
        first, checkout = await tx.claim_and_lock_checkout(
            cmd.consumer, cmd.event_id, cmd.payment_order_id
        )
        if not first:
            return False
        if checkout is None:
            raise UnknownOrder(cmd.payment_order_id)
        order = next(o for o in checkout.orders if o.payment_order_id == cmd.payment_order_id)
        if order.status is not OrderStatus.SUCCESS:
            raise FlagRefused(
                f"{cmd.flag.value} for payment order {cmd.payment_order_id} in {order.status.value}"
            )
        if not getattr(order, cmd.flag.value):
            setattr(order, cmd.flag.value, True)
            await tx.repo.set_flag(cmd.payment_order_id, cmd.flag)
            await refresh_payment_done(tx, checkout, order)
        await tx.commit()
    return True
