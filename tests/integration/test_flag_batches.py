"""payment_svc's flag consumers (`wallet.credited` → wallet_updated, `ledger.posted` →
ledger_updated) batched as every consumer of the mesh (mesh.consuming.Applier over the payment
unit of work), against real PostgreSQL and NATS JetStream.

A batch sets its flags, claims its events and recomputes `is_payment_done` in one transaction,
with every checkout of the batch locked once; two orders of one checkout in one batch make it
done once, and `payment.checkout.done` is published once. What cannot apply (an order that did
not succeed) fails the batch, whose events are then handled one by one: the others applied,
that one poison, as without batching."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import mesh.migrations
from mesh.db import make_engine
from mesh.events import (
    LEDGER_POSTED,
    PAYMENT_CHECKOUT_DONE,
    WALLET_CREDITED,
    decode_envelope,
    new_envelope,
)
from mesh.jetstream import Poison, connect, ensure_streams
from mesh.outbox import OutboxRelay
from payment_svc.adapters.sql_uow import SqlPaymentUnitOfWork, uow_factory
from payment_svc.domain.checkout import Checkout
from payment_svc.domain.order import OrderStatus, PaymentOrder
from payment_svc.entrypoints.consumers import (
    LEDGER_FLAG,
    WALLET_FLAG,
    ledger_flag_handler,
    wallet_flag_handler,
)
from payment_svc.entrypoints.events import encode_event
from paymesh.events.v1 import events_pb2

pytestmark = pytest.mark.integration

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass
class Payments:
    engine: AsyncEngine
    js: JetStreamContext
    relay: OutboxRelay

    def uow(self) -> SqlPaymentUnitOfWork:
        return uow_factory(self.engine, encode_event)()

    async def checkout(self, *outcomes: OrderStatus) -> tuple[str, list[str]]:
        """A checkout with one order per outcome (SUCCESS or FAILED), charged the real way
        (NOT_STARTED → EXECUTING → outcome); its id and its orders' ids."""
        checkout_id = f"co_{uuid.uuid4().hex[:10]}"
        orders = [
            PaymentOrder.new(
                payment_order_id=f"{checkout_id}_{i}",
                checkout_id=checkout_id,
                seller_account=f"seller_{i}",
                amount=Decimal("10.00"),
                currency="USD",
                fee_amount=Decimal("1.00"),
                position=i,
                at=AT,
            )
            for i in range(len(outcomes))
        ]
        checkout = Checkout(checkout_id, "buyer_1", "pm_card_visa", AT, orders=orders)
        async with self.uow() as tx:
            await tx.repo.add_checkout(checkout)
            for order, outcome in zip(orders, outcomes, strict=True):
                started = order.start_execution(AT)
                assert await tx.repo.record_transition(order, started, OrderStatus.NOT_STARTED)
                if outcome is OrderStatus.SUCCESS:
                    ended = order.succeed(f"pi_{order.payment_order_id}", AT)
                else:
                    ended = order.fail("declined", AT)
                assert await tx.repo.record_transition(order, ended, OrderStatus.EXECUTING)
            await tx.commit()
        return checkout_id, [o.payment_order_id for o in orders]

    async def flags(self, *order_ids: str) -> dict[str, tuple[bool, bool]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT payment_order_id, wallet_updated, ledger_updated FROM payment_orders "
                    "WHERE payment_order_id = ANY(:ids)"
                ),
                {"ids": list(order_ids)},
            )
            return {row[0]: (row[1], row[2]) for row in rows}

    async def done(self, checkout_id: str) -> bool:
        async with self.engine.connect() as conn:
            return bool(
                await conn.scalar(
                    text("SELECT is_payment_done FROM payment_events WHERE checkout_id = :id"),
                    {"id": checkout_id},
                )
            )

    async def inbox(self, consumer: str) -> list[tuple[str, datetime]]:
        """The consumer's inbox: (event id, when its transaction began)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT event_id::text, processed_at FROM inbox WHERE consumer = :c"),
                {"c": consumer},
            )
            return [(row[0], row[1]) for row in rows]

    async def checkout_done_published(self) -> list[str]:
        """The checkouts of every `payment.checkout.done` on the PAYMENT stream, once the
        outbox is drained."""
        while await self.relay.publish_pending():
            pass
        info = await self.js.stream_info("PAYMENT")
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await self.js.get_msg("PAYMENT", seq)
            if msg.subject == PAYMENT_CHECKOUT_DONE:
                found.append(decode_envelope(msg.data).aggregate_id)
        return found


@pytest.fixture
async def payments(database_url: str, nats_url: str) -> AsyncIterator[Payments]:
    await asyncio.to_thread(mesh.migrations.upgrade, "payment_svc", database_url)
    engine = make_engine(database_url, "payment", pool_size=4)
    nc, js = await connect(nats_url, "flag-batch-tests")
    await ensure_streams(js, 1)
    try:
        yield Payments(engine, js, OutboxRelay(engine, js))
    finally:
        await nc.close()
        await engine.dispose()


def credited(order_id: str) -> events_pb2.Envelope:
    payload = events_pb2.WalletCredited(payment_order_id=order_id, seller_account="seller")
    return new_envelope(WALLET_CREDITED, order_id, payload)


def posted(order_id: str) -> events_pb2.Envelope:
    return new_envelope(LEDGER_POSTED, order_id, events_pb2.LedgerPosted(payment_order_id=order_id))


async def test_a_batch_of_flags_sets_each_once_and_makes_a_checkout_done_once(
    payments: Payments,
) -> None:
    two, (two_a, two_b) = await payments.checkout(OrderStatus.SUCCESS, OrderStatus.SUCCESS)
    one, (one_a,) = await payments.checkout(OrderStatus.SUCCESS)
    half, (half_a, half_b) = await payments.checkout(OrderStatus.SUCCESS, OrderStatus.SUCCESS)
    ledger = ledger_flag_handler(payments.uow)
    wallet = wallet_flag_handler(payments.uow)

    # The ledger's answers first, for every order but one of `half`: nothing is done yet.
    assert await ledger.apply_batch(LEDGER_FLAG, [posted(o) for o in (two_a, two_b, one_a)]) == []
    assert await ledger.apply_batch(LEDGER_FLAG, [posted(half_a)]) == []
    assert not any([await payments.done(c) for c in (two, one, half)])

    # Then one batch of the wallet's: both orders of `two` (with a duplicate of one of its
    # events), the only order of `one`, both of `half` (whose second has no ledger flag).
    first = credited(two_b)
    batch = [credited(two_a), first, credited(one_a), first, credited(half_a), credited(half_b)]
    assert await wallet.apply_batch(WALLET_FLAG, batch) == []

    assert await payments.flags(two_a, two_b, one_a, half_a, half_b) == {
        two_a: (True, True),
        two_b: (True, True),
        one_a: (True, True),
        half_a: (True, True),
        half_b: (True, False),
    }
    assert [await payments.done(c) for c in (two, one, half)] == [True, True, False]
    # One transaction: one claim per event (the duplicate claimed once), all at one time.
    claimed = await payments.inbox(WALLET_FLAG)
    assert sorted(e for e, _ in claimed) == sorted({env.event_id for env in batch})
    assert len({at for _, at in claimed}) == 1
    assert sorted(await payments.checkout_done_published()) == sorted([two, one])

    # The whole batch again (a redelivery), and the duplicate alone: no second effect.
    assert await wallet.apply_batch(WALLET_FLAG, batch) == []
    await wallet(first)
    assert len(await payments.inbox(WALLET_FLAG)) == len(claimed)
    assert sorted(await payments.checkout_done_published()) == sorted([two, one])

    # The last ledger answer makes `half` done, once.
    await ledger.apply_batch(LEDGER_FLAG, [posted(half_b), posted(half_b)])
    assert await payments.done(half)
    assert sorted(await payments.checkout_done_published()) == sorted([two, one, half])


async def test_a_flag_for_an_order_that_did_not_succeed_fails_its_batch_and_alone_is_poison(
    payments: Payments,
) -> None:
    ok, (ok_a, ok_b) = await payments.checkout(OrderStatus.SUCCESS, OrderStatus.SUCCESS)
    mixed, (won, lost) = await payments.checkout(OrderStatus.SUCCESS, OrderStatus.FAILED)
    ledger = ledger_flag_handler(payments.uow)
    batch = [posted(ok_a), posted(lost), posted(ok_b), posted(won), posted("po_nobody")]

    with pytest.raises(Exception, match="not applicable"):
        await ledger.apply_batch(LEDGER_FLAG, batch)
    assert await payments.flags(ok_a, ok_b, won, lost) == {
        o: (False, False) for o in (ok_a, ok_b, won, lost)
    }
    assert await payments.inbox(LEDGER_FLAG) == []

    # One by one (what mesh.jetstream does with a failed batch): the refused ones are poison
    # (dead-lettered at once, as before batching), nothing of theirs is claimed.
    refused = []
    for env in batch:
        try:
            await ledger(env)
        except Poison as err:
            refused.append((env.aggregate_id, str(err)))
    assert [order for order, _ in refused] == [lost, "po_nobody"]
    assert all(reason.startswith(f"{LEDGER_POSTED} not applicable") for _, reason in refused)
    assert await payments.flags(ok_a, ok_b, won, lost) == {
        ok_a: (False, True),
        ok_b: (False, True),
        won: (False, True),
        lost: (False, False),
    }
    assert len(await payments.inbox(LEDGER_FLAG)) == 3
    assert not await payments.done(ok) and not await payments.done(mixed)
