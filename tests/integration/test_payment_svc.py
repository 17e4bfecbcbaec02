"""The payment service in-process against real PostgreSQL, NATS JetStream and the sandbox PSP
(served over HTTP), driven over a real gRPC channel."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import nats
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from harness import migrations_diff, running_sandbox
from nats.js import JetStreamContext, api
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.cards import contains_card_number
from mesh.db import make_engine
from mesh.events import (
    LEDGER_POSTED,
    PAYMENT_ORDER_FAILED,
    PAYMENT_ORDER_SUCCEEDED,
    WALLET_CREDITED,
    decode_envelope,
    new_envelope,
    unpack,
)
from mesh.migrations import upgrade
from mesh.runtime import Lifecycle
from payment_svc.adapters import tables
from payment_svc.adapters.stripe_psp import list_charges_by_order
from payment_svc.bootstrap import RunningPaymentService, start
from payment_svc.settings import PaymentSettings
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc

pytestmark = [
    pytest.mark.integration,
    # The stripe SDK hands httpx its form body as `data=`; that is the SDK's business, not ours.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

T = TypeVar("T")
API_KEY = "sk_test_payment_svc"
TIMEOUT_S = 20.0
ST = payment_pb2  # status enum values live on the module
SUCCESS = payment_pb2.PAYMENT_ORDER_STATUS_SUCCESS
FAILED = payment_pb2.PAYMENT_ORDER_STATUS_FAILED


# --- fixtures ----------------------------------------------------------------------------


@dataclass
class Env:
    stub: payment_pb2_grpc.PaymentServiceStub
    service: RunningPaymentService
    engine: AsyncEngine  # the test's own view of the database
    js: JetStreamContext  # the test's own NATS connection
    psp_base: str


@pytest.fixture
async def env(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    async with payment_env(database_url, nats_url, tmp_path) as e:
        yield e


@asynccontextmanager
async def payment_env(
    database_url: str, nats_url: str, tmp_path: Path, **settings_overrides: Any
) -> AsyncIterator[Env]:
    """The payment service in-process on the sandbox PSP, with `settings_overrides`."""
    await asyncio.to_thread(upgrade, "payment_svc", database_url)
    async with running_sandbox(tmp_path / "psp.jsonl") as psp_base:
        settings = PaymentSettings(
            database_url=database_url,
            nats_url=nats_url,
            grpc_addr="127.0.0.1:0",
            psp_api_base=psp_base,
            psp_api_key=API_KEY,
            psp_timeout_s=5.0,
            executor_concurrency=16,
            flags_concurrency=16,
            db_pool_size=5,
            **settings_overrides,
        )
        life = Lifecycle()
        service = await start(life, settings)
        engine = make_engine(database_url, "payment", pool_size=2)
        nc = await nats.connect(nats_url, connect_timeout=5)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}")
        try:
            yield Env(
                payment_pb2_grpc.PaymentServiceStub(channel),
                service,
                engine,
                nc.jetstream(),
                psp_base,
            )
        finally:
            await channel.close()
            await nc.close()
            await engine.dispose()
            await service()
        assert life.failed is None, f"a background task of the service died: {life.failed!r}"


# --- helpers -----------------------------------------------------------------------------


def new_request_id() -> str:
    """A UUID the card-number guard accepts: about 0.2 % of random UUIDs hold a dash-grouped
    digit run that passes Luhn and would be refused as a card number (reported to mesh/)."""
    while True:
        candidate = str(uuid.uuid4())
        if not contains_card_number(candidate):
            return candidate


def create_request(
    *,
    payment_method: str = "pm_card_visa",
    amounts: tuple[str, ...] = ("12.34", "56.78"),
    currency: str = "USD",
    request_id: str | None = None,
    buyer_name: str = "Ada Buyer",
) -> payment_pb2.CreatePaymentRequest:
    suffix = uuid.uuid4().hex[:10]
    return payment_pb2.CreatePaymentRequest(
        request_id=request_id or new_request_id(),
        checkout_id=f"co_{suffix}",
        buyer_info=payment_pb2.BuyerInfo(
            buyer_id="buyer_1", email="ada@example.com", name=buyer_name
        ),
        payment_method=payment_method,
        payment_orders=[
            payment_pb2.PaymentOrderInput(
                payment_order_id=f"po_{suffix}_{i}",
                seller_account=f"seller_{i}",
                amount=amount,
                currency=currency,
            )
            for i, amount in enumerate(amounts)
        ],
    )


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], what: str) -> T:
    """Poll `probe` until `ok` holds, for at most TIMEOUT_S."""
    last: T | None = None
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                last = await probe()
                if ok(last):
                    return last
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}; last seen: {last}") from None


async def get_checkout(e: Env, checkout_id: str) -> payment_pb2.Checkout:
    response = await e.stub.GetCheckout(
        payment_pb2.GetCheckoutRequest(checkout_id=checkout_id), timeout=10
    )
    return response.checkout


async def settled_checkout(e: Env, checkout_id: str) -> payment_pb2.Checkout:
    return await eventually(
        lambda: get_checkout(e, checkout_id),
        lambda c: all(o.status in (SUCCESS, FAILED) for o in c.payment_orders),
        f"the orders of {checkout_id} to settle",
    )


async def read_events(js: JetStreamContext, stream: str, subject: str) -> list[events_pb2.Envelope]:
    """Every event on `subject` so far, through a consumer of the test's own."""
    durable = f"test-reader-{uuid.uuid4().hex[:8]}"
    sub = await js.pull_subscribe(
        subject,
        durable=durable,
        stream=stream,
        config=api.ConsumerConfig(deliver_policy=api.DeliverPolicy.ALL),
    )
    found: list[events_pb2.Envelope] = []
    try:
        while True:
            try:
                msgs = await sub.fetch(256, timeout=0.3)
            except TimeoutError:
                return found
            for msg in msgs:
                found.append(decode_envelope(msg.data))
                await msg.ack()
    finally:
        await sub.unsubscribe()
        await js.delete_consumer(stream, durable)


async def succeeded_events(e: Env) -> dict[str, list[events_pb2.PaymentOrderSucceeded]]:
    by_order: dict[str, list[events_pb2.PaymentOrderSucceeded]] = {}
    for env in await read_events(e.js, "PAYMENT", PAYMENT_ORDER_SUCCEEDED):
        event = unpack(env, events_pb2.PaymentOrderSucceeded)
        by_order.setdefault(event.payment_order_id, []).append(event)
    return by_order


async def publish(e: Env, subject: str, aggregate_id: str, payload: object) -> str:
    env = new_envelope(subject, aggregate_id, payload)  # type: ignore[arg-type]
    await e.js.publish(subject, env.SerializeToString(), headers={"Nats-Msg-Id": env.event_id})
    return env.event_id


async def scalar(e: Env, sql: str) -> object:
    async with e.engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


async def table_counts(e: Env) -> dict[str, object]:
    tables = (
        "payment_events",
        "payment_orders",
        "payment_order_history",
        "idempotency_keys",
        "outbox",
        "inbox",
    )
    return {t: await scalar(e, f"SELECT count(*) FROM {t}") for t in tables}


async def assert_invariants(e: Env) -> None:
    """No order charged twice at the PSP; every SUCCESS order has exactly one succeeded event."""
    charges = await list_charges_by_order(API_KEY, e.psp_base)
    assert all(n <= 1 for n in charges.values()), charges
    async with e.engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT payment_order_id, status FROM payment_orders"))
        ).all()
    successes = {oid for oid, status in rows if status == "SUCCESS"}
    assert successes <= set(charges), "a SUCCESS order without a charge at the PSP"
    events = await eventually(
        lambda: succeeded_events(e),
        lambda ev: set(ev) >= successes,
        "a succeeded event for every SUCCESS order",
    )
    assert {oid: len(events[oid]) for oid in successes} == {oid: 1 for oid in successes}
    assert set(events) == successes


# --- tests -------------------------------------------------------------------------------


async def test_a_two_order_checkout_is_charged_flagged_and_done(env: Env) -> None:
    request = create_request()
    response = await env.stub.CreatePayment(request, timeout=10)
    checkout = response.checkout
    assert checkout.checkout_id == request.checkout_id
    assert [o.payment_order_id for o in checkout.payment_orders] == [
        o.payment_order_id for o in request.payment_orders
    ]
    assert [(o.amount, o.fee_amount, o.currency) for o in checkout.payment_orders] == [
        ("12.34", "1.23", "USD"),
        ("56.78", "5.68", "USD"),
    ]

    checkout = await settled_checkout(env, request.checkout_id)
    for order in checkout.payment_orders:
        assert order.status == SUCCESS
        assert order.psp_reference.startswith("pi_")
        assert [(h.from_status, h.to_status) for h in order.history] == [
            (payment_pb2.PAYMENT_ORDER_STATUS_UNSPECIFIED, ST.PAYMENT_ORDER_STATUS_NOT_STARTED),
            (ST.PAYMENT_ORDER_STATUS_NOT_STARTED, ST.PAYMENT_ORDER_STATUS_EXECUTING),
            (ST.PAYMENT_ORDER_STATUS_EXECUTING, SUCCESS),
        ]
    assert not checkout.is_payment_done

    events = await eventually(
        lambda: succeeded_events(env),
        lambda ev: len(ev) == 2,
        "two payment.order.succeeded events",
    )
    first = checkout.payment_orders[0]
    [event] = events[first.payment_order_id]
    assert event.checkout_id == request.checkout_id
    assert event.seller_account == "seller_0"
    assert event.amount == money_pb2.Money(amount="12.34", currency="USD")
    assert event.fee == money_pb2.Money(amount="1.23", currency="USD")
    assert event.psp_reference == first.psp_reference

    # The wallet and the ledger answer (their services are not part of this test).
    for order in checkout.payment_orders:
        oid = order.payment_order_id
        credited = events_pb2.WalletCredited(
            payment_order_id=oid,
            seller_account=order.seller_account,
            net=money_pb2.Money(amount="1.00", currency="USD"),
        )
        event_id = await publish(env, WALLET_CREDITED, oid, credited)
        # The same event again, past the stream's duplicate window: the inbox drops it.
        duplicate = new_envelope(WALLET_CREDITED, oid, credited, event_id=event_id)
        await env.js.publish(WALLET_CREDITED, duplicate.SerializeToString())
        await publish(
            env,
            LEDGER_POSTED,
            oid,
            events_pb2.LedgerPosted(payment_order_id=oid, transaction_id=f"tx_{oid}"),
        )

    checkout = await eventually(
        lambda: get_checkout(env, request.checkout_id),
        lambda c: c.is_payment_done,
        "is_payment_done",
    )
    assert all(o.wallet_updated and o.ledger_updated for o in checkout.payment_orders)
    assert await scalar(env, "SELECT count(*) FROM inbox") == 4

    order = (
        await env.stub.GetPaymentOrder(
            payment_pb2.GetPaymentOrderRequest(payment_order_id=first.payment_order_id),
            timeout=10,
        )
    ).payment_order
    assert order == checkout.payment_orders[0]
    await assert_invariants(env)


async def test_a_replay_returns_the_same_checkout_and_creates_nothing(env: Env) -> None:
    request = create_request()
    first = await env.stub.CreatePayment(request, timeout=10)
    await settled_checkout(env, request.checkout_id)
    before = await table_counts(env)

    again = await env.stub.CreatePayment(request, timeout=10)

    assert again == first
    assert await table_counts(env) == before

    # The same key with another body is refused; another key for the same ids too.
    other_body = create_request(request_id=request.request_id)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.CreatePayment(other_body, timeout=10)
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(info.value).reason == "IDEMPOTENCY_KEY_REUSED"

    same_ids = payment_pb2.CreatePaymentRequest()
    same_ids.CopyFrom(request)
    same_ids.request_id = new_request_id()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.CreatePayment(same_ids, timeout=10)
    assert info.value.code() is grpc.StatusCode.ALREADY_EXISTS
    after = await table_counts(env)
    assert after.pop("idempotency_keys") == before.pop("idempotency_keys") + 1  # its answer
    assert after == before
    await assert_invariants(env)


async def test_a_declined_card_fails_its_orders_with_the_reason(env: Env) -> None:
    request = create_request(payment_method="pm_card_chargeDeclined")
    await env.stub.CreatePayment(request, timeout=10)

    checkout = await settled_checkout(env, request.checkout_id)

    for order in checkout.payment_orders:
        assert order.status == FAILED
        assert order.failure_reason == "generic_decline"
        assert order.history[-1].reason == "generic_decline"
        assert not order.wallet_updated and not order.ledger_updated
    done = await get_checkout(env, request.checkout_id)
    assert done.is_payment_done  # every order terminal, none successful
    failed = await eventually(
        lambda: read_events(env.js, "PAYMENT", PAYMENT_ORDER_FAILED),
        lambda ev: len(ev) == 2,
        "two payment.order.failed events",
    )
    reasons = {unpack(e, events_pb2.PaymentOrderFailed).reason for e in failed}
    assert reasons == {"generic_decline"}
    await assert_invariants(env)


async def test_three_d_secure_leaves_the_order_pending(env: Env) -> None:
    request = create_request(payment_method="pm_card_threeDSecure2Required", amounts=("7.00",))
    await env.stub.CreatePayment(request, timeout=10)

    checkout = await eventually(
        lambda: get_checkout(env, request.checkout_id),
        lambda c: c.payment_orders[0].status == ST.PAYMENT_ORDER_STATUS_PENDING,
        "the order to wait for the PSP",
    )

    order = checkout.payment_orders[0]
    assert order.psp_reference.startswith("pi_")
    assert order.failure_reason == ""
    assert not checkout.is_payment_done
    await assert_invariants(env)


def error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError("no ErrorInfo detail")


def bad_request(err: grpc.aio.AioRpcError) -> error_details_pb2.BadRequest:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return bad
    raise AssertionError("no BadRequest detail")


def with_order_field(field: str, value: str) -> payment_pb2.CreatePaymentRequest:
    request = create_request()
    setattr(request.payment_orders[0], field, value)
    return request


@pytest.mark.parametrize(
    ("request_", "field", "reason"),
    [
        (with_order_field("amount", "10.001"), "payment_orders[0].amount", "INVALID_ARGUMENT"),
        (with_order_field("currency", "usd"), "payment_orders[0].currency", "INVALID_ARGUMENT"),
        (create_request(request_id="not-a-uuid"), "request_id", "INVALID_ARGUMENT"),
        (
            create_request(buyer_name="Ada 4242 4242 4242 4242"),
            "buyer_info.name",
            "CARD_NUMBER_REJECTED",
        ),
    ],
    ids=["too-many-decimals", "lower-case-currency", "non-uuid-request-id", "card-number"],
)
async def test_invalid_input_is_refused_and_nothing_is_stored(
    env: Env, request_: payment_pb2.CreatePaymentRequest, field: str, reason: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.CreatePayment(request_, timeout=10)

    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in [v.field for v in bad_request(info.value).field_violations]
    assert error_info(info.value).reason == reason
    assert "4242" not in (info.value.details() or "")
    assert set((await table_counts(env)).values()) == {0}
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await get_checkout(env, request_.checkout_id)
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    await assert_invariants(env)


async def test_a_risk_refusal_and_unknown_ids(env: Env) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.CreatePayment(create_request(amounts=("10000.01",)), timeout=10)
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(info.value).reason == "RISK_REJECTED"
    counts = await table_counts(env)
    assert counts.pop("idempotency_keys") == 1  # the refusal is that key's stored answer
    assert set(counts.values()) == {0}

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.GetPaymentOrder(
            payment_pb2.GetPaymentOrderRequest(payment_order_id="po_nope"), timeout=10
        )
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    assert error_info(info.value).reason == "NOT_FOUND"


async def test_the_database_guards_history_and_transitions(env: Env) -> None:
    request = create_request(amounts=("5.00",))
    await env.stub.CreatePayment(request, timeout=10)
    checkout = await settled_checkout(env, request.checkout_id)
    oid = checkout.payment_orders[0].payment_order_id

    for sql in (
        "UPDATE payment_order_history SET reason = 'rewritten'",
        "DELETE FROM payment_order_history",
        "TRUNCATE payment_order_history CASCADE",
        f"UPDATE payment_orders SET status = 'NOT_STARTED' WHERE payment_order_id = '{oid}'",
        f"UPDATE payment_orders SET amount = 1 WHERE payment_order_id = '{oid}'",
    ):
        with pytest.raises(DBAPIError):
            async with env.engine.begin() as conn:
                await conn.execute(text(sql))
    assert await scalar(env, "SELECT count(*) FROM payment_order_history") == 3
    await assert_invariants(env)


async def test_the_migrations_build_exactly_the_tables_the_code_uses(database_url: str) -> None:
    await asyncio.to_thread(upgrade, "payment_svc", database_url)

    assert await migrations_diff("payment_svc", "payment", tables.metadata, database_url) == []
