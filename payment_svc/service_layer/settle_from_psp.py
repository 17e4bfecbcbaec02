"""Settle one order or refund now from the PSP's answer, as the sweeper would once it is
stuck: reconciliation's class-1 fix (recon_svc asks, having seen in the PSP's report that the
PSP acted). Never a second charge or refund: the PSP idempotency key is the order's (the
refund's) id, and an attempt whose outcome is unknown asks the PSP first."""

from __future__ import annotations

from mesh.errors import not_found
from payment_svc.domain.order import OrderStatus
from payment_svc.domain.psp import PaymentProvider
from payment_svc.domain.psp_refunds import RefundProvider
from payment_svc.domain.refund import RefundStatus
from payment_svc.service_layer.execute_order import execute_order, settle_pending
from payment_svc.service_layer.execute_refund import UnknownRefund, execute_refund
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory, UnknownOrder


async def settle_order_from_psp(
    payment_order_id: str, *, uow: UnitOfWorkFactory, psp: PaymentProvider, clock: Clock
) -> OrderStatus:
    """The order's status after settling it (unchanged when it was settled already)."""
    async with uow() as tx:
        order = await tx.repo.get_order(payment_order_id)
    if order is None:
        raise not_found("payment_order_id", payment_order_id)
    try:
        if order.status is OrderStatus.PENDING:
            await settle_pending(payment_order_id, uow=uow, psp=psp, clock=clock)
        elif order.status in (OrderStatus.NOT_STARTED, OrderStatus.EXECUTING):
            await execute_order(payment_order_id, uow=uow, psp=psp, clock=clock)
    except UnknownOrder:
        raise not_found("payment_order_id", payment_order_id) from None
    async with uow() as tx:
        after = await tx.repo.get_order(payment_order_id)
    assert after is not None
    return after.status


async def settle_refund_from_psp(
    refund_id: str, *, uow: UnitOfWorkFactory, psp: RefundProvider, clock: Clock
) -> RefundStatus:
    """The refund's status after settling it."""
    try:
        await execute_refund(refund_id, uow=uow, psp=psp, clock=clock)
    except UnknownRefund:
        raise not_found("refund_id", refund_id) from None
    async with uow() as tx:
        refund = await tx.refunds.get_refund(refund_id)
    if refund is None:
        raise not_found("refund_id", refund_id)
    return refund.status
