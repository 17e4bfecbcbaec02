"""The payment use cases against the in-memory unit of work and the fake PSP."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from mesh.errors import Code, ServiceError
from payment_svc.adapters.fake_psp import FakePaymentProvider
from payment_svc.domain.checkout import Checkout
from payment_svc.domain.commands import CreatePayment, NewOrder
from payment_svc.domain.events import (
    CheckoutDone,
    OrderCreated,
    OrderFailed,
    OrderPending,
    OrderSucceeded,
)
from payment_svc.domain.order import OrderStatus
from payment_svc.domain.psp import ChargeOutcome, ChargeRequest, ChargeStatus, PspUnavailable
from payment_svc.domain.risk import NO_ACTIVITY, RuleBasedRiskCheck
from payment_svc.service_layer.create_payment import (
    CreatePaymentResult,
    IdempotencyPolicy,
    create_payment,
)
from payment_svc.service_layer.erasure import erase_personal_data
from payment_svc.service_layer.execute_order import Execution, execute_order
from payment_svc.service_layer.fake_uow import FakeStore
from payment_svc.service_layer.flags import FlagRefused, MarkFlag, apply_flag
from payment_svc.service_layer.ports import Flag, IdempotencyClaim, UnknownOrder
from payment_svc.service_layer.purge_keys import purge_expired_keys
from payment_svc.service_layer.queries import get_checkout, get_payment_order
from payment_svc.service_layer.sweep import SweepReport, sweep_stuck_orders

pytestmark = pytest.mark.unit

FEE_RATE = Decimal("0.10")
RISK = RuleBasedRiskCheck(Decimal("10000"), frozenset({"fraudster"}))
WALLET, LEDGER = "payment-wallet-flag", "payment-ledger-flag"
OTHER_KEY = "22222222-2222-4222-8222-222222222222"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def render(checkout: Checkout) -> bytes:
    return json.dumps(
        {
            "checkout_id": checkout.checkout_id,
            "orders": [
                [o.payment_order_id, o.status.value, str(o.fee_amount)] for o in checkout.orders
            ],
        }
    ).encode()


def command(
    request_id: str = "11111111-1111-4111-8111-111111111111",
    checkout_id: str = "co_1",
    order_ids: tuple[str, ...] = ("po_1", "po_2"),
    payment_method: str = "pm_card_visa",
    buyer_id: str = "buyer_1",
    amount: str = "12.34",
) -> CreatePayment:
    orders = tuple(
        NewOrder(oid, f"seller_{i}", Decimal(amount), "USD") for i, oid in enumerate(order_ids)
    )
    body = f"{checkout_id}|{order_ids}|{payment_method}|{buyer_id}|{amount}"
    return CreatePayment(
        request_id=request_id,
        request_hash=body,  # any stable fingerprint of the body will do here
        checkout_id=checkout_id,
        buyer_id=buyer_id,
        payment_method=payment_method,
        orders=orders,
        buyer_email="buyer@example.com",
        buyer_name="Ada Buyer",
    )


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def psp() -> FakePaymentProvider:
    return FakePaymentProvider()


async def create(store: FakeStore, clock: Clock, cmd: CreatePayment) -> CreatePaymentResult:
    return await create_payment(
        cmd, uow=store.uow, risk=RISK, fee_rate=FEE_RATE, render=render, clock=clock
    )


async def execute(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider, order_id: str
) -> Execution:
    return await execute_order(order_id, uow=store.uow, psp=psp, clock=clock)


# --- create_payment --------------------------------------------------------------------


async def test_create_stores_the_checkout_orders_history_and_events(
    store: FakeStore, clock: Clock
) -> None:
    result = await create(store, clock, command())

    assert not result.replayed
    assert json.loads(result.response) == {
        "checkout_id": "co_1",
        "orders": [["po_1", "NOT_STARTED", "1.23"], ["po_2", "NOT_STARTED", "1.23"]],
    }
    checkout = await get_checkout("co_1", uow=store.uow)
    assert checkout.buyer_id == "buyer_1"
    assert checkout.payment_method == "pm_card_visa"
    assert not checkout.is_payment_done
    assert [o.payment_order_id for o in checkout.orders] == ["po_1", "po_2"]
    for o in checkout.orders:
        assert (o.status, o.amount, o.fee_amount, o.attempts) == (
            OrderStatus.NOT_STARTED,
            Decimal("12.34"),
            Decimal("1.23"),
            0,
        )
        assert not (o.wallet_updated or o.ledger_updated)
        assert [(c.from_status, c.to_status) for c in o.history] == [
            (None, OrderStatus.NOT_STARTED)
        ]
    assert store.outbox == [OrderCreated("po_1", "co_1"), OrderCreated("po_2", "co_1")]
    assert store.state.idempotency[("", command().request_id)].response == result.response


async def test_a_replay_returns_the_stored_answer_and_does_nothing_new(
    store: FakeStore, clock: Clock
) -> None:
    first = await create(store, clock, command())
    commits, events = store.commits, list(store.outbox)

    again = await create(store, clock, command())

    assert again == CreatePaymentResult(first.response, replayed=True)
    assert (store.commits, store.outbox) == (commits, events)


async def test_the_same_key_with_another_body_is_refused(store: FakeStore, clock: Clock) -> None:
    await create(store, clock, command())

    with pytest.raises(ServiceError) as info:
        await create(store, clock, command(amount="99.00"))

    assert info.value.code is Code.FAILED_PRECONDITION
    assert info.value.reason == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.parametrize(
    "duplicate",
    [
        {"checkout_id": "co_2", "order_ids": ("po_9", "po_2")},  # an order id
        {"checkout_id": "co_1", "order_ids": ("po_8", "po_9")},  # the checkout id
    ],
)
async def test_an_existing_id_under_another_key_is_refused(
    store: FakeStore, clock: Clock, duplicate: dict[str, object]
) -> None:
    await create(store, clock, command())
    events = list(store.outbox)
    second = command(request_id="22222222-2222-4222-8222-222222222222", **duplicate)  # type: ignore[arg-type]

    with pytest.raises(ServiceError) as info:
        await create(store, clock, second)
    with pytest.raises(ServiceError) as again:  # the refusal is the key's stored answer
        await create(store, clock, second)

    assert info.value.code is Code.ALREADY_EXISTS
    assert info.value.reason == "ALREADY_EXISTS"
    assert not info.value.replayed
    assert (again.value.code, again.value.message, again.value.replayed) == (
        info.value.code,
        info.value.message,
        True,
    )
    assert store.outbox == events
    assert "co_2" not in store.state.checkouts


def claim_of(cmd: CreatePayment, now: datetime, token: str = "other-request") -> IdempotencyClaim:
    return IdempotencyClaim(
        scope=cmd.scope,
        request_id=cmd.request_id,
        request_hash=cmd.request_hash,
        resource_id=cmd.checkout_id,
        token=token,
        now=now,
        lease_until=now + IdempotencyPolicy().lease,
        expires_at=now + IdempotencyPolicy().key_ttl,
    )


async def hold_key(store: FakeStore, cmd: CreatePayment, now: datetime) -> None:
    """Claim the key as another request would, and leave it in flight."""
    async with store.uow() as other:
        assert await other.repo.claim_request(claim_of(cmd, now)) is None
        await other.commit()


async def test_a_key_held_by_a_request_in_flight_is_in_use(store: FakeStore, clock: Clock) -> None:
    await hold_key(store, command(), clock.now)

    with pytest.raises(ServiceError) as info:
        await create(store, clock, command())

    assert info.value.code is Code.RESOURCE_EXHAUSTED
    assert info.value.reason == "IDEMPOTENCY_KEY_IN_USE"
    assert info.value.metadata["retry_after_s"] == "1"
    assert store.state.checkouts == {} and store.outbox == []


async def test_another_body_under_a_key_in_flight_is_reused_not_in_use(
    store: FakeStore, clock: Clock
) -> None:
    await hold_key(store, command(), clock.now)

    with pytest.raises(ServiceError) as info:
        await create(store, clock, command(amount="99.00"))

    assert info.value.reason == "IDEMPOTENCY_KEY_REUSED"


async def test_a_crashed_request_s_key_is_taken_over_once_its_lease_ran_out(
    store: FakeStore, clock: Clock
) -> None:
    await hold_key(store, command(), clock.now)
    clock.now += IdempotencyPolicy().lease

    result = await create(store, clock, command())

    assert not result.replayed
    assert list(store.state.checkouts) == ["co_1"]
    assert (await create(store, clock, command())).replayed


async def test_a_request_whose_lease_was_taken_over_writes_nothing(
    store: FakeStore, clock: Clock
) -> None:
    class SlowRisk:
        """Lets the lease run out and a retry take the key over while the first request is
        still being assessed (inside its transaction, where the fake cannot run a whole
        second request: the retry's claim is what matters here)."""

        lookback = timedelta(0)

        async def assess(self, subject, recent=NO_ACTIVITY):  # type: ignore[no-untyped-def]
            clock.now += IdempotencyPolicy().lease
            key = store.state.idempotency[("", command().request_id)]
            key.claim = replace(key.claim, token="the retry's claim")
            return await RISK.assess(subject, recent)

    with pytest.raises(ServiceError) as info:
        await create_payment(
            command(), uow=store.uow, risk=SlowRisk(), fee_rate=FEE_RATE, render=render, clock=clock
        )

    assert info.value.reason == "IDEMPOTENCY_KEY_IN_USE"
    assert store.outbox == [] and store.state.checkouts == {}
    assert store.state.risk_decisions == []


async def test_keys_are_scoped_to_the_caller(store: FakeStore, clock: Clock) -> None:
    await create(store, clock, replace(command(), scope="key_a"))

    with pytest.raises(ServiceError) as info:  # same request id, another caller: a new request
        await create(store, clock, replace(command(), scope="key_b"))

    assert info.value.reason == "ALREADY_EXISTS"  # ... whose checkout id is taken


async def test_an_expired_key_is_a_new_request(store: FakeStore, clock: Clock) -> None:
    await create(store, clock, command())
    clock.now += IdempotencyPolicy().key_ttl

    with pytest.raises(ServiceError) as info:
        await create(store, clock, command())

    assert info.value.reason == "ALREADY_EXISTS"
    assert not info.value.replayed


async def test_the_purge_forgets_expired_keys_only(store: FakeStore, clock: Clock) -> None:
    await create(store, clock, command())
    clock.now += timedelta(hours=1)
    await create(
        store, clock, command(request_id=OTHER_KEY, checkout_id="co_2", order_ids=("po_3",))
    )
    clock.now += IdempotencyPolicy().key_ttl - timedelta(minutes=30)

    assert await purge_expired_keys(store.uow, clock, batch=1) == 1

    assert [k for _, k in store.state.idempotency] == [OTHER_KEY]


@pytest.mark.parametrize("cmd", [command(buyer_id="fraudster"), command(amount="10000.01")])
async def test_a_risk_refusal_stores_no_checkout_and_is_the_key_s_answer(
    store: FakeStore, clock: Clock, cmd: CreatePayment
) -> None:
    with pytest.raises(ServiceError) as info:
        await create(store, clock, cmd)
    with pytest.raises(ServiceError) as again:
        await create(store, clock, cmd)

    assert info.value.code is Code.FAILED_PRECONDITION
    assert info.value.reason == "RISK_REJECTED"
    assert (again.value.reason, again.value.metadata, again.value.replayed) == (
        "RISK_REJECTED",
        info.value.metadata,
        True,
    )
    assert store.state.checkouts == {} and store.outbox == []


async def test_an_amount_the_psp_would_refuse_is_invalid_input_and_nothing_is_stored(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    psp.refused_currencies["USD"] = "not in this PSP's minor units"
    with pytest.raises(ServiceError) as info:
        await create_payment(
            command(),
            uow=store.uow,
            risk=RISK,
            fee_rate=FEE_RATE,
            render=render,
            clock=clock,
            psp=psp,
        )

    assert info.value.code is Code.INVALID_ARGUMENT
    assert [(v.field, v.rule) for v in info.value.violations] == [
        ("payment_orders[0].amount", "amount.psp"),
        ("payment_orders[1].amount", "amount.psp"),
    ]
    assert store.state.checkouts == {} and store.outbox == []
    assert store.state.idempotency == {}  # a corrected request may use the same key


async def test_a_replay_gets_its_answer_even_after_the_buyer_was_blocked(
    store: FakeStore, clock: Clock
) -> None:
    first = await create(store, clock, command())
    stricter = RuleBasedRiskCheck(Decimal("10000"), frozenset({"buyer_1"}))
    again = await create_payment(
        command(), uow=store.uow, risk=stricter, fee_rate=FEE_RATE, render=render, clock=clock
    )
    assert again.replayed and again.response == first.response
    with pytest.raises(ServiceError) as info:  # a new request from that buyer is refused
        await create_payment(
            command(
                request_id="22222222-2222-4222-8222-222222222222",
                checkout_id="co_2",
                order_ids=("po_3",),
            ),
            uow=store.uow,
            risk=stricter,
            fee_rate=FEE_RATE,
            render=render,
            clock=clock,
        )
    assert info.value.reason == "RISK_REJECTED"


# --- execute_order ---------------------------------------------------------------------


async def created(store: FakeStore, clock: Clock, **kw: object) -> None:
    await create(store, clock, command(**kw))  # type: ignore[arg-type]
    store.outbox.clear()


async def test_a_successful_charge_emits_succeeded(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)

    assert await execute(store, clock, psp, "po_1") is Execution.SUCCEEDED

    order = await get_payment_order("po_1", uow=store.uow)
    assert order.status is OrderStatus.SUCCESS
    assert order.psp_reference.startswith("pi_fake_")
    assert order.attempts == 1
    assert [(c.from_status, c.to_status) for c in order.history] == [
        (None, OrderStatus.NOT_STARTED),
        (OrderStatus.NOT_STARTED, OrderStatus.EXECUTING),
        (OrderStatus.EXECUTING, OrderStatus.SUCCESS),
    ]
    assert store.outbox == [
        OrderSucceeded(
            payment_order_id="po_1",
            checkout_id="co_1",
            seller_account="seller_0",
            amount=Decimal("12.34"),
            fee_amount=Decimal("1.23"),
            currency="USD",
            psp_reference=order.psp_reference,
        )
    ]
    charge = psp.charge_for("po_1")
    assert charge is not None
    assert charge.request == ChargeRequest(
        "po_1", Decimal("12.34"), "USD", "pm_card_visa", "buyer_1", "co_1"
    )


async def test_a_decline_fails_the_order_with_its_reason(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock, payment_method="pm_card_chargeDeclinedInsufficientFunds")

    assert await execute(store, clock, psp, "po_1") is Execution.FAILED

    order = await get_payment_order("po_1", uow=store.uow)
    assert (order.status, order.failure_reason) == (OrderStatus.FAILED, "insufficient_funds")
    assert order.history[-1].reason == "insufficient_funds"
    assert store.outbox == [OrderFailed("po_1", "co_1", "insufficient_funds")]
    # One order still open: the checkout is not done yet; with both failed, it is.
    assert not (await get_checkout("co_1", uow=store.uow)).is_payment_done
    assert await execute(store, clock, psp, "po_2") is Execution.FAILED
    assert (await get_checkout("co_1", uow=store.uow)).is_payment_done


async def test_an_unavailable_psp_leaves_the_order_executing(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)
    psp.fail_next(1)

    with pytest.raises(PspUnavailable):
        await execute(store, clock, psp, "po_1")

    order = await get_payment_order("po_1", uow=store.uow)
    assert (order.status, order.attempts) == (OrderStatus.EXECUTING, 1)
    assert store.outbox == []

    # The retry (the consumer's redelivery) finishes it, with the same key.
    assert await execute(store, clock, psp, "po_1") is Execution.SUCCEEDED
    order = await get_payment_order("po_1", uow=store.uow)
    assert (order.status, order.attempts) == (OrderStatus.SUCCESS, 2)
    assert psp.charges_by_order() == {"po_1": 1}


async def test_a_lost_answer_is_asked_again_never_charged_again(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)
    psp.lose_next_answers(1)  # the PSP charged, but we never heard

    with pytest.raises(PspUnavailable):
        await execute(store, clock, psp, "po_1")
    charged = psp.charge_for("po_1")
    assert charged is not None

    calls = psp.calls

    assert await execute(store, clock, psp, "po_1") is Execution.SUCCEEDED
    order = await get_payment_order("po_1", uow=store.uow)
    assert order.psp_reference == charged.outcome.psp_reference
    assert (psp.lookups, psp.calls - calls) == (1, 1)  # asked, and not called to charge again
    assert psp.charges_by_order() == {"po_1": 1}
    assert len([e for e in store.outbox if isinstance(e, OrderSucceeded)]) == 1


async def test_an_unknown_outcome_the_psp_never_saw_is_charged_with_the_same_key(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)
    psp.fail_next(1)  # the PSP was down: nothing happened there
    with pytest.raises(PspUnavailable):
        await execute(store, clock, psp, "po_1")

    assert await execute(store, clock, psp, "po_1") is Execution.SUCCEEDED

    assert psp.lookups == 1
    charge = psp.charge_for("po_1")
    assert charge is not None and charge.request.payment_order_id == "po_1"


async def test_an_unknown_outcome_is_not_charged_while_the_psp_cannot_be_asked(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)
    psp.fail_next(2)  # down for the first attempt and for the question before the second

    for _ in range(2):
        with pytest.raises(PspUnavailable):
            await execute(store, clock, psp, "po_1")

    assert psp.charge_for("po_1") is None
    assert (await get_payment_order("po_1", uow=store.uow)).status is OrderStatus.EXECUTING


async def test_a_second_execution_charges_once(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)
    assert await execute(store, clock, psp, "po_1") is Execution.SUCCEEDED
    calls = psp.calls

    assert await execute(store, clock, psp, "po_1") is Execution.NOTHING_TO_DO

    assert psp.calls == calls
    assert len(store.outbox) == 1
    assert len((await get_payment_order("po_1", uow=store.uow)).history) == 3


class SlowPsp:
    """Yields to the event loop before answering, so that two executors interleave."""

    def __init__(self, inner: FakePaymentProvider) -> None:
        self.inner = inner

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        await asyncio.sleep(0)
        return await self.inner.charge(request)

    async def retrieve(self, psp_reference: str) -> ChargeOutcome:
        return await self.inner.retrieve(psp_reference)

    async def find_charge(self, payment_order_id: str) -> ChargeOutcome | None:
        await asyncio.sleep(0)
        return await self.inner.find_charge(payment_order_id)


async def test_two_executors_racing_on_one_order_record_once(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)
    slow = SlowPsp(psp)

    results = await asyncio.gather(
        execute_order("po_1", uow=store.uow, psp=slow, clock=clock),
        execute_order("po_1", uow=store.uow, psp=slow, clock=clock),
    )

    assert sorted(r.value for r in results) == ["lost_race", "succeeded"]
    assert psp.charges_by_order() == {"po_1": 1}
    assert len(store.outbox) == 1
    order = await get_payment_order("po_1", uow=store.uow)
    assert [c.to_status for c in order.history].count(OrderStatus.SUCCESS) == 1


async def test_a_pending_charge_waits(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock, payment_method="pm_card_threeDSecure2Required")

    assert await execute(store, clock, psp, "po_1") is Execution.PENDING

    order = await get_payment_order("po_1", uow=store.uow)
    assert order.status is OrderStatus.PENDING
    assert order.psp_reference.startswith("pi_fake_")
    # Only the marketplace is told (payment.order.pending); nothing moves in the mesh.
    assert store.outbox == [OrderPending("po_1", "co_1", "PSP pending")]
    # Redelivery leaves it to the webhook or the sweeper.
    assert await execute(store, clock, psp, "po_1") is Execution.NOTHING_TO_DO


async def test_a_rejected_request_fails_the_order(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock, payment_method="pm_unknown_token")

    assert await execute(store, clock, psp, "po_1") is Execution.FAILED

    order = await get_payment_order("po_1", uow=store.uow)
    assert order.status is OrderStatus.FAILED
    assert order.failure_reason.startswith("psp_rejected:")


async def test_an_unknown_order_is_reported(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    with pytest.raises(UnknownOrder):
        await execute(store, clock, psp, "po_nope")


# --- flags and is_payment_done -----------------------------------------------------------


async def mark_wallet_updated(store: FakeStore, order_id: str, event_id: str) -> bool:
    """A `wallet.credited` applied in a transaction of its own (a batch of one)."""
    return await apply_flag(store.uow(), MarkFlag(order_id, Flag.WALLET_UPDATED, event_id, WALLET))


async def mark_ledger_updated(store: FakeStore, order_id: str, event_id: str) -> bool:
    """A `ledger.posted` applied in a transaction of its own (a batch of one)."""
    return await apply_flag(store.uow(), MarkFlag(order_id, Flag.LEDGER_UPDATED, event_id, LEDGER))


async def test_flags_make_the_checkout_done_once_everything_is_settled(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)
    for oid in ("po_1", "po_2"):
        await execute(store, clock, psp, oid)

    assert await mark_wallet_updated(store, "po_1", "e1")
    assert await mark_ledger_updated(store, "po_1", "e2")
    assert await mark_wallet_updated(store, "po_2", "e3")
    assert not (await get_checkout("co_1", uow=store.uow)).is_payment_done
    assert not [e for e in store.outbox if isinstance(e, CheckoutDone)]

    assert await mark_ledger_updated(store, "po_2", "e4")

    checkout = await get_checkout("co_1", uow=store.uow)
    assert checkout.is_payment_done
    # payment.checkout.done, once, with how each order ended (the marketplace's webhook).
    done = [e for e in store.outbox if isinstance(e, CheckoutDone)]
    assert done == [CheckoutDone("co_1", (("po_1", "SUCCESS"), ("po_2", "SUCCESS")))]
    assert all(o.wallet_updated and o.ledger_updated for o in checkout.orders)


async def test_a_redelivered_flag_event_is_applied_once(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)
    await execute(store, clock, psp, "po_1")
    assert await mark_wallet_updated(store, "po_1", "e1")
    commits = store.commits

    assert not await mark_wallet_updated(store, "po_1", "e1")
    assert store.commits == commits


async def test_a_flag_needs_a_known_successful_order(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)
    with pytest.raises(UnknownOrder):
        await mark_wallet_updated(store, "po_nope", "e1")
    with pytest.raises(FlagRefused):
        await mark_ledger_updated(store, "po_1", "e2")
    # Refused events are not claimed: nothing was applied.
    assert store.state.inbox == set()


async def test_unknown_ids_are_not_found(store: FakeStore) -> None:
    for call in (
        get_payment_order("po_x", uow=store.uow),
        get_checkout("co_x", uow=store.uow),
    ):
        with pytest.raises(ServiceError) as info:
            await call
        assert info.value.code is Code.NOT_FOUND


async def test_fees_round_half_even_to_the_currency(store: FakeStore, clock: Clock) -> None:
    cmd = command()
    cmd = replace(
        cmd,
        orders=(
            NewOrder("po_1", "s1", Decimal("0.05"), "USD"),  # 0.005 -> 0.00
            NewOrder("po_2", "s2", Decimal("0.15"), "USD"),  # 0.015 -> 0.02
            NewOrder("po_3", "s3", Decimal("1005"), "JPY"),  # 100.5 -> 100
        ),
    )
    await create(store, clock, cmd)
    checkout = await get_checkout("co_1", uow=store.uow)
    assert [o.fee_amount for o in checkout.orders] == [
        Decimal("0.00"),
        Decimal("0.02"),
        Decimal("100"),
    ]


# --- the servicer's error mapping --------------------------------------------------------


async def test_a_database_out_of_reach_is_unavailable_not_internal(store: FakeStore) -> None:
    from payment_svc.entrypoints.grpc_servicer import PaymentServicer
    from payment_svc.service_layer.fake_uow import FakeUnitOfWork
    from payment_svc.service_layer.ports import StoreUnavailable
    from paymesh.payment.v1 import payment_pb2

    class DownUnitOfWork(FakeUnitOfWork):
        async def __aenter__(self) -> FakeUnitOfWork:
            raise StoreUnavailable("connection refused")

    servicer = PaymentServicer(
        uow=lambda: DownUnitOfWork(store), risk=RISK, fee_rate=FEE_RATE, clock=Clock()
    )
    with pytest.raises(ServiceError) as info:
        await servicer.GetCheckout(payment_pb2.GetCheckoutRequest(checkout_id="co_1"), None)  # type: ignore[arg-type]
    assert info.value.code is Code.UNAVAILABLE
    assert info.value.reason == "UNAVAILABLE"
    assert info.value.metadata == {"retry_after_s": "1"}


# --- the sweeper ---------------------------------------------------------------------------


async def sweep(store: FakeStore, clock: Clock, psp: FakePaymentProvider) -> SweepReport:
    return await sweep_stuck_orders(
        uow=store.uow, psp=psp, clock=clock, stuck_after=timedelta(minutes=1)
    )


async def test_the_sweeper_leaves_recent_orders_to_the_executor(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)

    report = await sweep(store, clock, psp)

    assert report == SweepReport()
    assert psp.calls == 0


async def test_the_sweeper_executes_orders_whose_message_never_came(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)
    clock.now += timedelta(minutes=2)

    report = await sweep(store, clock, psp)

    assert report.settled == {"po_1": Execution.SUCCEEDED, "po_2": Execution.SUCCEEDED}
    assert psp.charges_by_order() == {"po_1": 1, "po_2": 1}


async def test_the_sweeper_asks_the_psp_about_a_lost_answer(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock, order_ids=("po_1",))
    psp.lose_next_answers(1)
    with pytest.raises(PspUnavailable):
        await execute(store, clock, psp, "po_1")
    clock.now += timedelta(minutes=2)

    report = await sweep(store, clock, psp)

    assert report.settled == {"po_1": Execution.SUCCEEDED}
    assert psp.lookups == 1
    assert psp.charges_by_order() == {"po_1": 1}


async def test_the_sweeper_polls_a_pending_order_until_the_psp_settles_it(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock, payment_method="pm_card_threeDSecure2Required", order_ids=("po_1",))
    assert await execute(store, clock, psp, "po_1") is Execution.PENDING
    clock.now += timedelta(minutes=2)

    assert (await sweep(store, clock, psp)).still_open == ["po_1"]

    reference = (await get_payment_order("po_1", uow=store.uow)).psp_reference
    psp.settle(reference, ChargeStatus.SUCCEEDED)
    assert (await sweep(store, clock, psp)).settled == {"po_1": Execution.SUCCEEDED}
    assert (await get_payment_order("po_1", uow=store.uow)).status is OrderStatus.SUCCESS


async def test_the_sweeper_keeps_going_past_an_order_it_cannot_settle(
    store: FakeStore, clock: Clock, psp: FakePaymentProvider
) -> None:
    await created(store, clock)
    clock.now += timedelta(minutes=2)
    psp.fail_next(1)

    report = await sweep(store, clock, psp)

    assert report.still_open == ["po_1"]
    assert report.settled == {"po_2": Execution.SUCCEEDED}


# --- erasure -------------------------------------------------------------------------------


async def test_erasure_blanks_the_buyers_pii_and_keeps_the_orders(
    store: FakeStore, clock: Clock
) -> None:
    await created(store, clock)
    orders_before = {k: (o.amount, o.status) for k, o in store.state.orders.items()}

    assert await erase_personal_data("buyer_1", uow=store.uow, clock=clock) == 1
    assert await erase_personal_data("buyer_nobody", uow=store.uow, clock=clock) == 0

    checkout = store.state.checkouts["co_1"]
    assert (checkout.buyer_email, checkout.buyer_name, checkout.pii_erased) == ("", "", True)
    assert {k: (o.amount, o.status) for k, o in store.state.orders.items()} == orders_before
