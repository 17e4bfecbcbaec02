"""CreatePayment: risk check, then one transaction that stores the idempotency record, the
checkout, its orders with their first history entry, and one `payment.order.created` event
per order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import grpc

from mesh.errors import ServiceError
from mesh.money import Money, fee_for
from payment_svc.domain.checkout import Checkout
from payment_svc.domain.commands import CreatePayment
from payment_svc.domain.events import OrderCreated
from payment_svc.domain.order import PaymentOrder
from payment_svc.domain.risk import RiskCheck
from payment_svc.service_layer.ports import (
    Clock,
    DuplicateKey,
    IdempotencyRecord,
    UnitOfWorkFactory,
)

RETRY_AFTER_S = "1"

# The stored answer, as the caller will see it (and see it again on a replay).
Renderer = Callable[[Checkout], bytes]


@dataclass(frozen=True)
class CreatePaymentResult:
    response: bytes
    replayed: bool


def key_in_use(request_id: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "IDEMPOTENCY_KEY_IN_USE",
        f"a request with request_id {request_id} is being processed; retry later",
        metadata={"retry_after_s": RETRY_AFTER_S},
    )


def key_reused(request_id: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "IDEMPOTENCY_KEY_REUSED",
        f"request_id {request_id} was already used with a different request",
        metadata={"request_id": request_id},
    )


def already_exists(ids: list[str]) -> ServiceError:
    what = ", ".join(ids) if ids else "the checkout or one of its payment orders"
    return ServiceError(
        grpc.StatusCode.ALREADY_EXISTS,
        "ALREADY_EXISTS",
        f"already exists under another request: {what}",
        metadata={"ids": ",".join(ids)} if ids else {},
    )


def new_checkout(cmd: CreatePayment, fee_rate: Decimal, clock: Clock) -> Checkout:
    now = clock()
    orders = [
        PaymentOrder.new(
            payment_order_id=o.payment_order_id,
            checkout_id=cmd.checkout_id,
            seller_account=o.seller_account,
            amount=o.amount,
            currency=o.currency,
            fee_amount=fee_for(Money(o.amount, o.currency), fee_rate).amount,
            position=i,
            at=now,
        )
        for i, o in enumerate(cmd.orders)
    ]
    return Checkout(
        checkout_id=cmd.checkout_id,
        buyer_id=cmd.buyer_id,
        payment_method=cmd.payment_method,
        created_at=now,
        buyer_email=cmd.buyer_email,
        buyer_name=cmd.buyer_name,
        orders=orders,
    )


async def create_payment(
    cmd: CreatePayment,
    *,
    uow: UnitOfWorkFactory,
    risk: RiskCheck,
    fee_rate: Decimal,
    render: Renderer,
    clock: Clock,
) -> CreatePaymentResult:
    # A replay gets its stored answer even if the risk rules changed since it was accepted.
    async with uow() as tx:
        stored = await tx.repo.get_idempotency(cmd.request_id)
    if stored is not None:
        if stored.request_hash != cmd.request_hash:
            raise key_reused(cmd.request_id)
        return CreatePaymentResult(stored.response, replayed=True)
    decision = await risk.assess(cmd.risk_subject())
    if not decision.approved:
        raise ServiceError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "RISK_REJECTED",
            f"the payment was refused by the risk check: {decision.message}",
            metadata={"rule": decision.rule},
        )
    async with uow() as tx:
        if not await tx.repo.try_lock_request(cmd.request_id):
            raise key_in_use(cmd.request_id)
        stored = await tx.repo.get_idempotency(cmd.request_id)
        if stored is not None:
            if stored.request_hash != cmd.request_hash:
                raise key_reused(cmd.request_id)
            return CreatePaymentResult(stored.response, replayed=True)
        order_ids = [o.payment_order_id for o in cmd.orders]
        taken = await tx.repo.existing_ids(cmd.checkout_id, order_ids)
        if taken:
            raise already_exists(taken)
        checkout = new_checkout(cmd, fee_rate, clock)
        try:
            await tx.repo.add_checkout(checkout)
        except DuplicateKey:  # a concurrent request under another key won the race
            raise already_exists([]) from None
        for order in checkout.orders:
            await tx.emit(OrderCreated(order.payment_order_id, checkout.checkout_id))
        response = render(checkout)
        await tx.repo.add_idempotency(
            IdempotencyRecord(cmd.request_id, cmd.request_hash, response, cmd.checkout_id)
        )
        await tx.commit()
    return CreatePaymentResult(response, replayed=False)
