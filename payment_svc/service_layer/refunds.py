"""CreateRefund: processed at most once per idempotency key (service_layer.idempotency), in one
transaction that locks the order, applies the refund rules (domain.refund), stores the PENDING
refund with its `payment.refund.created` event, and stores the answer on the key.

Refusals a retry cannot change (the order is not SUCCESS, the amount exceeds what remains, an
amount that is not valid money in the order's currency) are stored answers too. An unknown
order is not: it may yet be created, so its key is released."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from mesh.errors import Code, FieldViolation, ServiceError, invalid_argument, not_found
from payment_svc.domain.psp import PaymentProvider
from payment_svc.domain.refund import (
    InvalidRefundAmount,
    Refund,
    RefundNotAllowed,
    plan_refund,
)
from payment_svc.domain.refund_events import RefundCreated
from payment_svc.service_layer.idempotency import (
    IdempotencyPolicy,
    IdempotentRequest,
    IdempotentResult,
    Refused,
    finish,
    run_once,
)
from payment_svc.service_layer.ports import (
    Clock,
    DuplicateKey,
    IdempotencyClaim,
    UnitOfWorkFactory,
)

# The stored answer, as the caller will see it (and see it again on a replay).
RefundRenderer = Callable[[Refund], bytes]

# Refund ids are derived from the caller's key: a retry after a crash makes the same refund,
# and a key reused after it expired is refused as ALREADY_EXISTS instead of refunding again.
_REFUND_ID_NAMESPACE = uuid.UUID("0d6c1f8e-4b7a-4f43-9a51-2f9e4d0c7b11")


@dataclass(frozen=True)
class CreateRefund:
    """A refund to make. `amount` is the wire amount ("" for all that remains), read in the
    order's currency; `scope` and `request_hash` as in CreatePayment."""

    request_id: str
    request_hash: str
    payment_order_id: str
    amount: str = ""
    scope: str = ""

    @property
    def refund_id(self) -> str:
        return "rf_" + uuid.uuid5(_REFUND_ID_NAMESPACE, f"{self.scope}\0{self.request_id}").hex


def refund_refused(reason: str, message: str, payment_order_id: str) -> ServiceError:
    return ServiceError(
        Code.FAILED_PRECONDITION,
        reason,
        message,
        metadata={"payment_order_id": payment_order_id},
    )


async def create_refund(
    cmd: CreateRefund,
    *,
    uow: UnitOfWorkFactory,
    render: RefundRenderer,
    clock: Clock,
    policy: IdempotencyPolicy = IdempotencyPolicy(),
    psp: PaymentProvider | None = None,
) -> IdempotentResult:
    """`psp`, when given, is asked whether it would take the refund's amount (its own
    minor-unit rules): one it would refuse is refused here, as invalid input."""

    async def work(claim: IdempotencyClaim) -> bytes:
        return await _process(cmd, claim, uow, render, clock, psp)

    request = IdempotentRequest(cmd.scope, cmd.request_id, cmd.request_hash, cmd.refund_id)
    return await run_once(request, work, uow=uow, clock=clock, policy=policy)


async def _process(
    cmd: CreateRefund,
    claim: IdempotencyClaim,
    uow: UnitOfWorkFactory,
    render: RefundRenderer,
    clock: Clock,
    psp: PaymentProvider | None = None,
) -> bytes:
    async with uow() as tx:
        order = await tx.refunds.lock_order(cmd.payment_order_id)
        if order is None:
            raise not_found("payment_order_id", cmd.payment_order_id)
        try:
            plan = plan_refund(order.refundable, cmd.amount)
        except InvalidRefundAmount as err:
            raise Refused(
                invalid_argument([FieldViolation("amount", err.rule, str(err))])
            ) from None
        except RefundNotAllowed as err:
            raise Refused(refund_refused(err.reason, str(err), cmd.payment_order_id)) from None
        why = psp.amount_refusal(plan.amount, order.refundable.currency) if psp else None
        if why is not None:
            raise Refused(invalid_argument([FieldViolation("amount", "amount.psp", why)]))
        now = clock()
        refund = Refund(
            refund_id=cmd.refund_id,
            payment_order_id=cmd.payment_order_id,
            seller_account=order.seller_account,
            amount=plan.amount,
            fee_refunded=plan.fee_refunded,
            currency=order.refundable.currency,
            created_at=now,
            updated_at=now,
        )
        try:
            await tx.refunds.add_refund(refund)
        except DuplicateKey:  # the key expired and was used again: never refund twice
            raise Refused(
                ServiceError(
                    Code.ALREADY_EXISTS,
                    "ALREADY_EXISTS",
                    f"refund {refund.refund_id} already exists under an earlier use of this key",
                    metadata={"ids": refund.refund_id},
                )
            ) from None
        await tx.emit(RefundCreated(refund.refund_id, refund.payment_order_id))
        response = render(refund)
        await finish(tx, claim, response)
        await tx.commit()
    return response


async def get_refund(refund_id: str, *, uow: UnitOfWorkFactory) -> Refund:
    async with uow() as tx:
        refund = await tx.refunds.get_refund(refund_id)
    if refund is None:
        raise not_found("refund_id", refund_id)
    return refund
