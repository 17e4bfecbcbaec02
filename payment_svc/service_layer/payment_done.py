"""Keeping `is_payment_done` true to its rule, inside the transaction that changed an order."""

from __future__ import annotations

from payment_svc.domain.checkout import Checkout
from payment_svc.domain.order import PaymentOrder
from payment_svc.service_layer.ports import UnitOfWork


async def refresh_payment_done(tx: UnitOfWork, checkout: Checkout, changed: PaymentOrder) -> None:
    """Recompute the checkout's done flag with `changed` in its new state. The checkout row must
    have been locked (`lock_checkout_of`) before `changed` was written."""
    checkout.orders = [
        changed if o.payment_order_id == changed.payment_order_id else o for o in checkout.orders
    ]
    if checkout.refresh_done():
        await tx.repo.set_payment_done(checkout.checkout_id, checkout.is_payment_done)
