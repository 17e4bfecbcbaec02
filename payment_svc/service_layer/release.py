"""Releasing a SUCCESS order's funds to its seller (delivery confirmed): the order's
`payment.order.released` event goes out through the outbox; the wallet moves the order's
credit from pending to available once per order, so calling this again is harmless."""

from __future__ import annotations

from mesh.errors import Code, ServiceError, not_found
from payment_svc.domain.events import OrderReleased
from payment_svc.domain.order import OrderStatus, PaymentOrder
from payment_svc.service_layer.ports import UnitOfWorkFactory


def not_releasable(order: PaymentOrder) -> ServiceError:
    return ServiceError(
        Code.FAILED_PRECONDITION,
        "ORDER_NOT_RELEASABLE",
        f"payment order {order.payment_order_id} is {order.status.value}; only SUCCESS orders "
        "can be released",
    )


async def release_order(payment_order_id: str, *, uow: UnitOfWorkFactory) -> PaymentOrder:
    """Emit the order's release (idempotent downstream: the wallet releases an order once).
    NOT_FOUND for an unknown order, ORDER_NOT_RELEASABLE unless it is SUCCESS."""
    async with uow() as tx:
        order = await tx.repo.get_order(payment_order_id)
        if order is None:
            raise not_found("payment_order_id", payment_order_id)
        if order.status is not OrderStatus.SUCCESS:
            raise not_releasable(order)
        await tx.emit(OrderReleased(order.payment_order_id, order.seller_account))
        await tx.commit()
    return order
