"""CreatePayment: one transaction that runs the risk check (under the buyer's lock, see
service_layer.risk_assessment) and stores its decision, the checkout, its orders with their
first history entry, one `payment.order.created` event per order, and the answer on the
request's idempotency key (payment_svc.service_layer.idempotency: processed at most once per
key; risk refusals, stored with their decision, and ids already taken are stored answers too).

Hosted flow: before that transaction, each order is registered with the PSP for its hosted
page (keyed by the payment order id, so a retry gets the same page), and the orders are stored
PENDING with their page's token and URL: the buyer pays there, the PSP's webhook settles the
order, and no `payment.order.created` is sent (the executor has nothing to charge)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import NoReturn

from mesh.errors import Code, FieldViolation, ServiceError, invalid_argument
from mesh.money import Money, fee_for
from payment_svc.domain.checkout import Checkout, Flow
from payment_svc.domain.commands import CreatePayment
from payment_svc.domain.events import OrderCreated, OrderPending
from payment_svc.domain.order import PaymentOrder
from payment_svc.domain.psp import HostedPageRequest, PaymentProvider, PspRejected
from payment_svc.domain.risk import RiskCheck, RiskDecision
from payment_svc.service_layer.idempotency import (
    IdempotencyPolicy,
    IdempotentRequest,
    IdempotentResult,
    Refused,
    finish,
    finish_refused,
    run_once,
)
from payment_svc.service_layer.ports import (
    Clock,
    DuplicateKey,
    IdempotencyClaim,
    UnitOfWork,
    UnitOfWorkFactory,
)
from payment_svc.service_layer.remote_risk import consult_risk_provider
from payment_svc.service_layer.risk_assessment import assess_checkout, record_decision

# The stored answer, as the caller will see it (and see it again on a replay).
Renderer = Callable[[Checkout], bytes]
CreatePaymentResult = IdempotentResult


def already_exists(ids: list[str]) -> ServiceError:
    what = ", ".join(ids) if ids else "the checkout or one of its payment orders"
    return ServiceError(
        Code.ALREADY_EXISTS,
        "ALREADY_EXISTS",
        f"already exists under another request: {what}",
        metadata={"ids": ",".join(ids)} if ids else {},
    )


def risk_rejected(message: str, rule: str) -> ServiceError:
    return ServiceError(
        Code.FAILED_PRECONDITION,
        "RISK_REJECTED",
        f"the payment was refused by the risk check: {message}",
        metadata={"rule": rule},
    )


def refuse_what_the_psp_would(cmd: CreatePayment, psp: PaymentProvider) -> None:
    """An amount the PSP cannot take (Stripe: ISK in whole krónur, KWD ending in 0, ...) is the
    client's mistake, told now with the field, not a FAILED order later."""
    found = []
    for i, order in enumerate(cmd.orders):
        why = psp.amount_refusal(order.amount, order.currency)
        if why is not None:
            found.append(FieldViolation(f"payment_orders[{i}].amount", "amount.psp", why))
    if found:
        raise invalid_argument(found)


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
        flow=cmd.flow,
        redirect_url=cmd.redirect_url,
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
    policy: IdempotencyPolicy = IdempotencyPolicy(),
    psp: PaymentProvider | None = None,
) -> CreatePaymentResult:
    """Raises PspUnavailable (retry with the same key) when a hosted page cannot be made, and
    INVALID_ARGUMENT, before anything is stored, for an amount the PSP would refuse."""
    if psp is not None:
        refuse_what_the_psp_would(cmd, psp)

    async def work(claim: IdempotencyClaim) -> bytes:
        return await _process(cmd, claim, uow, risk, fee_rate, render, clock, psp)

    request = IdempotentRequest(cmd.scope, cmd.request_id, cmd.request_hash, cmd.checkout_id)
    return await run_once(request, work, uow=uow, clock=clock, policy=policy)


async def _process(
    cmd: CreatePayment,
    claim: IdempotencyClaim,
    uow: UnitOfWorkFactory,
    risk: RiskCheck,
    fee_rate: Decimal,
    render: Renderer,
    clock: Clock,
    psp: PaymentProvider | None,
) -> bytes:
    risk = await consult_risk_provider(risk, cmd)  # the remote provider, once, outside the tx
    checkout = new_checkout(cmd, fee_rate, clock)
    if cmd.flow is Flow.HOSTED:
        if psp is None:
            raise RuntimeError("a hosted checkout needs a PSP")
        # Judged on the request alone first: a checkout refused on its own opens no PSP page.
        early = await risk.assess(cmd.risk_subject())
        if not early.approved:
            async with uow() as tx:
                await _refuse(tx, claim, cmd, early, checkout)
        await _open_hosted_pages(checkout, psp, clock)
    async with uow() as tx:
        decision = await assess_checkout(tx, risk, cmd, checkout.created_at)
        if not decision.approved:
            await _refuse(tx, claim, cmd, decision, checkout)
        await record_decision(tx, cmd, decision, checkout.created_at)
        order_ids = [o.payment_order_id for o in cmd.orders]
        taken = await tx.repo.existing_ids(cmd.checkout_id, order_ids)
        if taken:
            raise Refused(already_exists(taken))
        try:
            await tx.repo.add_checkout(checkout)
        except DuplicateKey:  # a concurrent request under another key won the race
            raise Refused(already_exists([])) from None
        for order in checkout.orders:
            if checkout.flow is Flow.DIRECT:
                await tx.emit(OrderCreated(order.payment_order_id, checkout.checkout_id))
            else:  # PENDING on its hosted page already
                await tx.emit(
                    OrderPending(order.payment_order_id, checkout.checkout_id, "awaiting the buyer")
                )
        response = render(checkout)
        await finish(tx, claim, response)
        await tx.commit()
    return response


async def _refuse(
    tx: UnitOfWork,
    claim: IdempotencyClaim,
    cmd: CreatePayment,
    decision: RiskDecision,
    checkout: Checkout,
) -> NoReturn:
    """Store the refusal and its decision together, as the key's answer."""
    error = risk_rejected(decision.message, decision.rule)
    await record_decision(tx, cmd, decision, checkout.created_at)
    await finish_refused(tx, claim, error)
    await tx.commit()
    raise Refused(error, stored=True)


async def _open_hosted_pages(checkout: Checkout, psp: PaymentProvider, clock: Clock) -> None:
    """Register every order with the PSP (concurrently: they are independent) and leave it
    PENDING on its page. A page the PSP refuses to make refuses the whole checkout."""
    requests = [
        HostedPageRequest(
            payment_order_id=o.payment_order_id,
            checkout_id=checkout.checkout_id,
            amount=o.amount,
            currency=o.currency,
            description=f"Order {o.payment_order_id}",
            redirect_url=checkout.redirect_url,
            buyer_email=checkout.buyer_email,
        )
        for o in checkout.orders
    ]
    try:
        pages = await asyncio.gather(*(psp.open_hosted_page(r) for r in requests))
    except PspRejected as err:
        raise Refused(psp_refused(str(err))) from None
    now = clock()
    for order, page in zip(checkout.orders, pages, strict=True):
        order.await_buyer(page.token, page.url, now)


def psp_refused(detail: str) -> ServiceError:
    return ServiceError(
        Code.FAILED_PRECONDITION,
        "PSP_REJECTED",
        f"the PSP refused to make the payment page: {detail}"[:500],
    )
