"""CreatePayment, processed at most once per idempotency key.

1. Claim the key (scope, request_id) in its own short transaction: the table's primary key makes
   one claim win; the others are told the key is in use (retry later), that it was used with
   another body, or given the stored answer.
2. Risk check, then one transaction that stores the checkout, its orders with their first
   history entry, one `payment.order.created` event per order, and the answer on the key.
   Refusals a retry cannot change (risk, ids taken under another key) are stored as the answer
   too, so a replay gets the same status and body.
3. Anything else (a crash, the database gone) leaves no answer: the key is released, or its
   lease runs out, and a retry with the same key and body runs afresh.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import grpc
from google.rpc import status_pb2

from mesh.errors import RETRY_AFTER_KEY, ServiceError, from_rpc_status, to_rpc_status
from mesh.money import Money, fee_for
from payment_svc.domain.checkout import Checkout
from payment_svc.domain.commands import CreatePayment
from payment_svc.domain.events import OrderCreated
from payment_svc.domain.order import PaymentOrder
from payment_svc.domain.risk import RiskCheck
from payment_svc.service_layer.ports import (
    Clock,
    DuplicateKey,
    IdempotencyClaim,
    IdempotencyRecord,
    KeyState,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)

RETRY_AFTER_S = "1"

# The stored answer, as the caller will see it (and see it again on a replay).
Renderer = Callable[[Checkout], bytes]


@dataclass(frozen=True)
class IdempotencyPolicy:
    """How long an answered key is kept, and how long a claim may run before a retry of the
    same request may take it over (longer than any CreatePayment can take)."""

    key_ttl: timedelta = timedelta(hours=24)
    lease: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class CreatePaymentResult:
    response: bytes
    replayed: bool


def key_in_use(request_id: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "IDEMPOTENCY_KEY_IN_USE",
        f"a request with request_id {request_id} is being processed; retry later",
        metadata={RETRY_AFTER_KEY: RETRY_AFTER_S, "request_id": request_id},
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


def risk_rejected(message: str, rule: str) -> ServiceError:
    return ServiceError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "RISK_REJECTED",
        f"the payment was refused by the risk check: {message}",
        metadata={"rule": rule},
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


def answer_of(record: IdempotencyRecord, cmd: CreatePayment) -> CreatePaymentResult:
    """What a request gets for a key someone else claimed: the stored answer (a stored refusal
    is raised again), or why it cannot have one."""
    if record.request_hash != cmd.request_hash:
        raise key_reused(cmd.request_id)
    if record.state is KeyState.IN_FLIGHT:
        raise key_in_use(cmd.request_id)
    if record.error is not None:
        error = from_rpc_status(status_pb2.Status.FromString(record.error))
        error.replayed = True
        raise error
    assert record.response is not None  # a done key holds one of the two (table constraint)
    return CreatePaymentResult(record.response, replayed=True)


async def create_payment(
    cmd: CreatePayment,
    *,
    uow: UnitOfWorkFactory,
    risk: RiskCheck,
    fee_rate: Decimal,
    render: Renderer,
    clock: Clock,
    policy: IdempotencyPolicy = IdempotencyPolicy(),
) -> CreatePaymentResult:
    now = clock()
    claim = IdempotencyClaim(
        scope=cmd.scope,
        request_id=cmd.request_id,
        request_hash=cmd.request_hash,
        checkout_id=cmd.checkout_id,
        token=str(uuid.uuid4()),
        now=now,
        lease_until=now + policy.lease,
        expires_at=now + policy.key_ttl,
    )
    async with uow() as tx:
        held = await tx.repo.claim_request(claim)
        if held is None:
            await tx.commit()
    if held is not None:
        return answer_of(held, cmd)
    try:
        return await _process(cmd, claim, uow, risk, fee_rate, render, clock)
    except _Refused as refused:
        if not await _store_refusal(claim, refused.error, uow):
            # The key was taken over by a retry (our lease ran out), whose answer is the one
            # to give: the taken ids may well be that retry's own checkout.
            raise key_in_use(cmd.request_id) from None
        raise refused.error from None
    except BaseException:
        await _release(claim, uow)
        raise


class _Refused(Exception):
    """A refusal that is the request's answer, to be stored on its key."""

    def __init__(self, error: ServiceError) -> None:
        super().__init__(str(error))
        self.error = error


async def _process(
    cmd: CreatePayment,
    claim: IdempotencyClaim,
    uow: UnitOfWorkFactory,
    risk: RiskCheck,
    fee_rate: Decimal,
    render: Renderer,
    clock: Clock,
) -> CreatePaymentResult:
    decision = await risk.assess(cmd.risk_subject())
    if not decision.approved:
        raise _Refused(risk_rejected(decision.message, decision.rule))
    async with uow() as tx:
        order_ids = [o.payment_order_id for o in cmd.orders]
        taken = await tx.repo.existing_ids(cmd.checkout_id, order_ids)
        if taken:
            raise _Refused(already_exists(taken))
        checkout = new_checkout(cmd, fee_rate, clock)
        try:
            await tx.repo.add_checkout(checkout)
        except DuplicateKey:  # a concurrent request under another key won the race
            raise _Refused(already_exists([])) from None
        for order in checkout.orders:
            await tx.emit(OrderCreated(order.payment_order_id, checkout.checkout_id))
        response = render(checkout)
        if not await tx.repo.finish_request(claim, response=response):
            # Our lease ran out and a retry took the key over: it answers, we write nothing.
            raise key_in_use(cmd.request_id)
        await tx.commit()
    return CreatePaymentResult(response, replayed=False)


async def _store_refusal(
    claim: IdempotencyClaim, error: ServiceError, uow: UnitOfWorkFactory
) -> bool:
    """Store the refusal as the key's answer; False if the key is no longer ours."""
    try:
        async with uow() as tx:
            stored = await tx.repo.finish_request(
                claim, error=to_rpc_status(error).SerializeToString()
            )
            await tx.commit()
            return stored
    except Exception as err:
        # The refusal still reaches the caller; a retry is refused again on its merits.
        log.warning("could not store the refusal of %s (%s)", claim.request_id, err)
        await _release(claim, uow)
        return True


async def _release(claim: IdempotencyClaim, uow: UnitOfWorkFactory) -> None:
    """Best effort: if the database is gone too, the lease runs out instead."""
    try:
        async with uow() as tx:
            await tx.repo.release_request(claim)
            await tx.commit()
    except Exception as err:
        log.warning(
            "could not release idempotency key %s (%s); its lease will run out",
            claim.request_id,
            err,
        )
