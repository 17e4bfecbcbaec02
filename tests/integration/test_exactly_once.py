"""Exactly-once between services: every kind of event the mesh sends, delivered to each of its
consumers twice, out of order and late, has one effect.

The whole mesh runs in-process (payment, wallet and ledger services, the sandbox PSP over
HTTP) on real PostgreSQL and NATS JetStream. Events crossing between services:

    payment.order.created    -> payment-executor (payment_svc; idempotent by the order's state)
    payment.order.succeeded  -> wallet-credit (wallet_svc), ledger-post (ledger_svc)
    payment.order.failed     -> no consumer today (replayed all the same)
    wallet.credited          -> payment-wallet-flag (payment_svc)
    ledger.posted            -> payment-ledger-flag (payment_svc)

A copy is published once with the original Nats-Msg-Id (inside the duplicate window: the
stream drops it) and once with a fresh one, which is what a publish after the window looks
like to the stream: it keeps the copy, and only the consumer can drop it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness import (
    Started,
    consumer_idle,
    eventually,
    intents_by_order,
    new_request_id,
    running_sandbox,
    started_ledger,
    started_service,
    started_wallet,
    stream_messages,
)
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger_svc.service_layer.use_cases import POST_CONSUMER
from mesh.events import LEDGER_POSTED, WALLET_CREDITED, decode_envelope, new_envelope
from payment_svc.bootstrap import start as start_payment
from payment_svc.entrypoints.consumers import EXECUTOR, LEDGER_FLAG, WALLET_FLAG
from payment_svc.settings import PaymentSettings
from paymesh.events.v1 import events_pb2
from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc
from paymesh.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from wallet_svc.service_layer.use_cases import CREDIT_CONSUMER

pytestmark = [
    pytest.mark.integration,
    # The stripe SDK hands httpx its form body as `data=`; that is the SDK's business.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

API_KEY = "sk_test_exactly_once"
SUCCESS = payment_pb2.PAYMENT_ORDER_STATUS_SUCCESS
FAILED = payment_pb2.PAYMENT_ORDER_STATUS_FAILED
PENDING = payment_pb2.PAYMENT_ORDER_STATUS_PENDING
EVENT_STREAMS = ("PAYMENT", "WALLET", "LEDGER")
SCHEMAS = ("payment", "wallet", "ledger")
# Each consumer after the outbox it reads from, so that one pass in this order over "is it
# idle?" sees every effect of every event (see Mesh.quiet).
PIPELINE = (
    ("PAYMENT", EXECUTOR),
    ("payment", None),
    ("PAYMENT", CREDIT_CONSUMER),
    ("PAYMENT", POST_CONSUMER),
    ("wallet", None),
    ("ledger", None),
    ("WALLET", WALLET_FLAG),
    ("LEDGER", LEDGER_FLAG),
)


# --- the mesh -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatUsersSee:
    """Everything a buyer, a seller, finance or the PSP could notice of a second effect."""

    checkouts: list[payment_pb2.Checkout]  # statuses, flags, done, history, timestamps
    balances: list[wallet_pb2.GetBalanceResponse]
    trial_balance: ledger_pb2.GetTrialBalanceResponse
    intents_per_order: dict[str, int]  # at the PSP, whatever their status
    events_sent: dict[str, int]  # outbox rows per service: a second effect sends again


@dataclass
class Mesh:
    database_url: str
    nats_url: str
    payment: Started
    psp_base: str
    services: AsyncExitStack
    wallet: Started | None = None
    ledger: Started | None = None

    @property
    def js(self) -> JetStreamContext:
        return self.payment.js

    # --- driving it

    async def start_wallet(self) -> None:
        self.wallet = await self.services.enter_async_context(
            started_wallet(self.database_url, self.nats_url)
        )

    async def start_ledger(self) -> None:
        self.ledger = await self.services.enter_async_context(
            started_ledger(self.database_url, self.nats_url)
        )

    async def pay(self, payment_method: str, *amounts: str) -> str:
        """Create a checkout with one order per amount (seller `seller_<i>`); its id."""
        suffix = uuid.uuid4().hex[:10]
        request = payment_pb2.CreatePaymentRequest(
            request_id=new_request_id(),
            checkout_id=f"co_{suffix}",
            buyer_info=payment_pb2.BuyerInfo(
                buyer_id="buyer_1", email="ada@example.com", name="Ada Buyer"
            ),
            payment_method=payment_method,
            payment_orders=[
                payment_pb2.PaymentOrderInput(
                    payment_order_id=f"po_{suffix}_{i}",
                    seller_account=f"seller_{i}",
                    amount=amount,
                    currency="USD",
                )
                for i, amount in enumerate(amounts)
            ],
        )
        stub = payment_pb2_grpc.PaymentServiceStub(self.payment.channel)
        await stub.CreatePayment(request, timeout=10)
        return request.checkout_id

    async def checkout(self, checkout_id: str) -> payment_pb2.Checkout:
        stub = payment_pb2_grpc.PaymentServiceStub(self.payment.channel)
        request = payment_pb2.GetCheckoutRequest(checkout_id=checkout_id)
        return (await stub.GetCheckout(request, timeout=10)).checkout

    async def checkout_where(
        self, checkout_id: str, holds: Callable[[payment_pb2.Checkout], bool]
    ) -> payment_pb2.Checkout:
        """The checkout once `holds` is true of it."""

        async def probe() -> payment_pb2.Checkout | None:
            checkout = await self.checkout(checkout_id)
            return checkout if holds(checkout) else None

        return await eventually(probe)

    async def deliver_again(self, *streams: str) -> int:
        """Publish every event the services sent on `streams` again, latest first across all
        of them: once with its own Nats-Msg-Id, which the stream drops inside its duplicate
        window, and once with a fresh one, as if the window had passed. Returns how many
        events were delivered again."""
        events = [event for stream in streams for event in await self.sent_events(stream)]
        events.sort(key=lambda e: e[1].occurred_at.ToNanoseconds(), reverse=True)
        for subject, envelope, data in events:
            inside_window = await self.js.publish(
                subject, data, headers={"Nats-Msg-Id": envelope.event_id}
            )
            assert inside_window.duplicate, f"the stream kept a copy of {subject}"
            late = await self.js.publish(subject, data, headers={"Nats-Msg-Id": str(uuid.uuid4())})
            assert not late.duplicate
        return len(events)

    async def sent_events(self, stream: str) -> list[tuple[str, events_pb2.Envelope, bytes]]:
        """(subject, envelope, bytes) of the events the services' relays published on
        `stream`, not the copies a test published (whose Nats-Msg-Id is not the event id)."""
        info = await self.js.stream_info(stream)
        found = []
        for seq in (
            range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ()
        ):
            msg = await self.js.get_msg(stream, seq)
            envelope = decode_envelope(msg.data)
            if (msg.headers or {}).get("Nats-Msg-Id") == envelope.event_id:
                found.append((msg.subject, envelope, msg.data))
        return found

    # --- watching it

    async def quiet(self) -> None:
        """Wait until every outbox is drained and every consumer has acked everything; fail
        naming what is still busy (a duplicate that is retried or dead-lettered shows here)."""
        busy: list[str] = []

        async def idle() -> bool:
            busy[:] = [place for place, durable in PIPELINE if not await self._idle(place, durable)]
            return not busy

        try:
            await eventually(idle)
        except AssertionError:
            raise AssertionError(f"still busy: {busy}") from None

    async def _idle(self, place: str, durable: str | None) -> bool:
        if durable is None:
            return await self._outbox_drained(place)
        if not self._consumer_started(durable):
            return True
        return await consumer_idle(self.js, place, durable)

    def _consumer_started(self, durable: str) -> bool:
        if durable == CREDIT_CONSUMER:
            return self.wallet is not None
        if durable == POST_CONSUMER:
            return self.ledger is not None
        return True

    async def _outbox_drained(self, schema: str) -> bool:
        if schema not in await self._schemas():
            return True
        async with self.payment.engine.connect() as conn:
            left = await conn.scalar(
                text(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
            )
        return left == 0

    async def _schemas(self) -> set[str]:
        async with self.payment.engine.connect() as conn:
            return set((await conn.execute(text("SELECT nspname FROM pg_namespace"))).scalars())

    async def what_users_see(self, *checkout_ids: str) -> WhatUsersSee:
        assert self.wallet is not None and self.ledger is not None
        checkouts = [await self.checkout(c) for c in checkout_ids]
        sellers = sorted(
            {o.seller_account for c in checkouts for o in c.payment_orders if o.status == SUCCESS}
        )
        wallet = wallet_pb2_grpc.WalletServiceStub(self.wallet.channel)
        ledger = ledger_pb2_grpc.LedgerServiceStub(self.ledger.channel)
        return WhatUsersSee(
            checkouts=checkouts,
            balances=[
                await wallet.GetBalance(wallet_pb2.GetBalanceRequest(seller_account=s), timeout=5)
                for s in sellers
            ],
            trial_balance=await ledger.GetTrialBalance(
                ledger_pb2.GetTrialBalanceRequest(), timeout=5
            ),
            intents_per_order=await intents_by_order(self.psp_base, API_KEY),
            events_sent=await events_sent(self.payment.engine),
        )

    async def dead_letters(self) -> int:
        return await stream_messages(self.js, "DLQ")


async def events_sent(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            schema: await conn.scalar(text(f"SELECT count(*) FROM {schema}.outbox"))
            for schema in SCHEMAS
        }


@pytest.fixture
async def mesh(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Mesh]:
    """The payment service and the sandbox PSP; the wallet and the ledger start when a test
    says so (their consumers then find what the PAYMENT stream holds)."""
    async with running_sandbox(tmp_path / "psp.jsonl") as psp_base:

        def settings(grpc_addr: str) -> PaymentSettings:
            return PaymentSettings(
                database_url=database_url,
                nats_url=nats_url,
                grpc_addr=grpc_addr,
                psp_api_base=psp_base,
                psp_api_key=API_KEY,
                psp_timeout_s=5.0,
                executor_concurrency=16,
                flags_concurrency=16,
                db_pool_size=5,
            )

        async with (
            started_service(
                "payment_svc", "payment", start_payment, settings, database_url, nats_url
            ) as payment,
            AsyncExitStack() as services,
        ):
            mesh = Mesh(database_url, nats_url, payment, psp_base, services)
            yield mesh
            for service in (payment, mesh.wallet, mesh.ledger):
                if service is not None:
                    assert service.life.failed is None, f"a task died: {service.life.failed!r}"


# --- tests ----------------------------------------------------------------------------------


def settled(checkout: payment_pb2.Checkout) -> bool:
    return all(o.status in (SUCCESS, FAILED) for o in checkout.payment_orders)


async def test_every_event_twice_out_of_order_and_late_has_one_effect(mesh: Mesh) -> None:
    paid = await mesh.pay("pm_card_visa", "12.34", "56.78")
    declined = await mesh.pay("pm_card_chargeDeclined", "9.99")
    await mesh.checkout_where(paid, settled)
    await mesh.checkout_where(declined, settled)
    await mesh.quiet()

    executed = [await mesh.checkout(paid), await mesh.checkout(declined)]
    assert [o.status for c in executed for o in c.payment_orders] == [SUCCESS, SUCCESS, FAILED]

    # payment.order.created/succeeded/failed and the declined checkout's payment.checkout.done
    # again, latest first, after the executor has settled every order. The wallet and the
    # ledger are not running yet: the copies of each succeeded event wait in the stream beside
    # the originals.
    assert await mesh.deliver_again("PAYMENT") == 7
    await mesh.quiet()
    assert [await mesh.checkout(paid), await mesh.checkout(declined)] == executed
    assert sorted((await intents_by_order(mesh.psp_base, API_KEY)).values()) == [1, 1, 1]

    # The ledger first: ledger-post gets both copies of each order's event in one batch, the
    # copies in reverse order; the ledger flags arrive before any wallet flag.
    await mesh.start_ledger()
    ledger_only = await mesh.checkout_where(
        paid, lambda c: all(o.ledger_updated for o in c.payment_orders)
    )
    assert not any(o.wallet_updated for o in ledger_only.payment_orders)
    assert not ledger_only.is_payment_done, "done before the wallet was credited"
    assert await mesh.deliver_again("LEDGER") == 2
    await mesh.quiet()
    assert await mesh.checkout(paid) == ledger_only

    await mesh.start_wallet()
    done = await mesh.checkout_where(paid, lambda c: c.is_payment_done)
    await mesh.quiet()
    before = await mesh.what_users_see(paid, declined)

    # Everything once more, late, latest first and interleaved across the three streams.
    # (7 payment events, the paid checkout's checkout.done, 2 wallet and 2 ledger answers.)
    assert await mesh.deliver_again(*EVENT_STREAMS) == 12
    await mesh.quiet()

    after = await mesh.what_users_see(paid, declined)
    assert after == before
    assert after.checkouts[0] == done
    assert [(b.balances[0].pending, b.balances[0].total) for b in after.balances] == [
        ("11.11", "11.11"),  # 12.34 less its fee of 1.23, credited once
        ("51.10", "51.10"),  # 56.78 less 5.68
    ]
    assert after.trial_balance.balanced
    [usd] = after.trial_balance.currencies
    assert usd.debits == "69.12"  # one posting of each order's gross
    assert sorted(after.intents_per_order.values()) == [1, 1, 1]
    # 3 orders created, 2 succeeded, 1 failed, 2 checkouts done: each sent once, whatever came
    # again.
    assert after.events_sent == {"payment": 8, "wallet": 2, "ledger": 2}
    assert await mesh.dead_letters() == 0


async def test_a_flag_event_for_an_order_that_has_not_succeeded_is_dead_lettered(
    mesh: Mesh,
) -> None:
    # Out of order beyond what the mesh can produce (the payment service publishes
    # `payment.order.succeeded` only after committing SUCCESS): the flag is not set, the
    # event is not retried forever, and it is not claimed, so an operator can replay it.
    waiting = await mesh.pay("pm_card_threeDSecure2Required", "7.00")
    checkout = await mesh.checkout_where(waiting, lambda c: c.payment_orders[0].status == PENDING)
    order_id = checkout.payment_orders[0].payment_order_id
    for subject, payload in (
        (WALLET_CREDITED, events_pb2.WalletCredited(payment_order_id=order_id)),
        (LEDGER_POSTED, events_pb2.LedgerPosted(payment_order_id=order_id)),
    ):
        envelope = new_envelope(subject, order_id, payload)
        for _ in range(2):
            await mesh.js.publish(
                subject, envelope.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())}
            )
    await mesh.quiet()

    [order] = (await mesh.checkout(waiting)).payment_orders
    assert (order.status, order.wallet_updated, order.ledger_updated) == (PENDING, False, False)
    assert await mesh.dead_letters() == 4  # each copy, each with its reason
    async with mesh.payment.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM inbox")) == 0
