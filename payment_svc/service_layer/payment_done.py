"""Keeping `is_payment_done` true to its rule, inside the transaction that changed an order, and
saying so (`payment.checkout.done`, for the marketplace's webhooks) the moment it becomes true."""

from __future__ import annotations

from payment_svc.domain.checkout import Checkout
from payment_svc.domain.events import CheckoutDone
from payment_svc.domain.order import PaymentOrder
from payment_svc.service_layer.ports import UnitOfWork


async def refresh_payment_done(tx: UnitOfWork, checkout: Checkout, changed: PaymentOrder) -> None:
    """Recompute the checkout's done flag with `changed` in its new state. The checkout row must
    have been locked (`lock_checkout_of`, or `lock_checkouts_of` for a batch) before `changed`
    was written."""
    checkout.orders = [
        changed if o.payment_order_id == changed.payment_order_id else o for o in checkout.orders
    ]
    if checkout.refresh_done():
        await tx.repo.set_payment_done(checkout.checkout_id, checkout.is_payment_done)
        if checkout.is_payment_done:  # once: the flag is never cleared (a trigger guards it)
            await tx.emit(
                CheckoutDone(
                    checkout.checkout_id,
                    tuple((o.payment_order_id, o.status.value) for o in checkout.orders),
                )
            )
