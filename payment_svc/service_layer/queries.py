"""Reads: one payment order, or one checkout with its orders, each with its history; the risk
decision of a checkout."""

from __future__ import annotations

from mesh.errors import not_found
from payment_svc.domain.checkout import Checkout
from payment_svc.domain.order import PaymentOrder
from payment_svc.service_layer.ports import UnitOfWorkFactory
from payment_svc.service_layer.risk_ports import RiskRecord


async def get_payment_order(payment_order_id: str, *, uow: UnitOfWorkFactory) -> PaymentOrder:
    async with uow() as tx:
        order = await tx.repo.get_order(payment_order_id)
    if order is None:
        raise not_found("payment_order_id", payment_order_id)
    return order


async def get_checkout(checkout_id: str, *, uow: UnitOfWorkFactory) -> Checkout:
    async with uow() as tx:
        checkout = await tx.repo.get_checkout(checkout_id)
    if checkout is None:
        raise not_found("checkout_id", checkout_id)
    return checkout


async def get_risk_decision(checkout_id: str, *, uow: UnitOfWorkFactory) -> RiskRecord | None:
    """The decision that let the checkout in; None for one accepted before decisions were
    stored. For operators only: the entrypoint shows it to callers with the `ops` scope."""
    async with uow() as tx:
        return await tx.risk.decision_of(checkout_id)
