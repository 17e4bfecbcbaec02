"""The payment schema's own guards, tried with direct SQL as a careless script or a buggy
service would write it: the order state machine, the refund limit and the append-only history
are refused by PostgreSQL itself, whatever the code above it does.

Each test here fails when its trigger is taken out of the migrations (docs/mutation-testing.md
lists which test catches which guard)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from psycopg.errors import CheckViolation, InsufficientPrivilege
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.db import make_engine
from mesh.migrations import upgrade

pytestmark = pytest.mark.integration

# Every transition the state machine allows; any other change of status is refused.
LEGAL = {
    ("NOT_STARTED", "EXECUTING"),
    ("EXECUTING", "SUCCESS"),
    ("EXECUTING", "FAILED"),
    ("EXECUTING", "PENDING"),
    ("PENDING", "SUCCESS"),
    ("PENDING", "FAILED"),
}
STATUSES = ("NOT_STARTED", "EXECUTING", "PENDING", "SUCCESS", "FAILED")
# The shortest legal path to each status, to put an order there first.
PATH = {
    "NOT_STARTED": [],
    "EXECUTING": ["EXECUTING"],
    "PENDING": ["EXECUTING", "PENDING"],
    "SUCCESS": ["EXECUTING", "SUCCESS"],
    "FAILED": ["EXECUTING", "FAILED"],
}


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade, "payment_svc", database_url)
    engine = make_engine(database_url, "payment", pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


async def new_order(engine: AsyncEngine, amount: str = "100.00", fee: str = "10.00") -> str:
    """A checkout with one NOT_STARTED order, written directly; returns the order id."""
    order = f"po_{uuid.uuid4().hex[:10]}"
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO payment_events (checkout_id, buyer_id, payment_method, created_at)"
                " VALUES (:co, 'buyer', 'pm_card_visa', now())"
            ),
            {"co": f"co_{order}"},
        )
        await conn.execute(
            text(
                "INSERT INTO payment_orders (payment_order_id, checkout_id, position,"
                " seller_account, amount, currency, fee_amount, status, created_at, updated_at)"
                " VALUES (:o, :co, 0, 'seller-g', :amount, 'USD', :fee, 'NOT_STARTED',"
                " now(), now())"
            ),
            {"o": order, "co": f"co_{order}", "amount": Decimal(amount), "fee": Decimal(fee)},
        )
    return order


async def execute(engine: AsyncEngine, sql: str, **params: object) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)


async def set_status(engine: AsyncEngine, order: str, status: str) -> None:
    await execute(
        engine,
        "UPDATE payment_orders SET status = :s WHERE payment_order_id = :o",
        s=status,
        o=order,
    )


async def order_at(engine: AsyncEngine, status: str) -> str:
    order = await new_order(engine)
    for step in PATH[status]:
        await set_status(engine, order, step)
    return order


def refused_as(err: pytest.ExceptionInfo[DBAPIError], kind: type[Exception]) -> None:
    assert isinstance(err.value.orig, kind), repr(err.value.orig)


# --- the order state machine (payment_order_guard) ---------------------------------------


async def test_every_illegal_status_change_is_refused_by_the_database(
    engine: AsyncEngine,
) -> None:
    for old in STATUSES:
        for new in STATUSES:
            if old == new:
                continue
            order = await order_at(engine, old)
            if (old, new) in LEGAL:
                await set_status(engine, order, new)
                continue
            with pytest.raises(DBAPIError, match="illegal transition") as err:
                await set_status(engine, order, new)
            refused_as(err, CheckViolation)


async def test_an_order_s_agreed_terms_and_flags_cannot_be_rewritten(engine: AsyncEngine) -> None:
    order = await order_at(engine, "SUCCESS")
    for change in ("amount = 1.00", "fee_amount = 0", "currency = 'EUR'", "seller_account = 'x'"):
        with pytest.raises(DBAPIError, match="agreed terms") as err:
            await execute(
                engine, f"UPDATE payment_orders SET {change} WHERE payment_order_id = :o", o=order
            )
        refused_as(err, CheckViolation)
    await execute(
        engine,
        "UPDATE payment_orders SET wallet_updated = true, ledger_updated = true"
        " WHERE payment_order_id = :o",
        o=order,
    )
    with pytest.raises(DBAPIError, match="flags cannot be cleared"):
        await execute(
            engine,
            "UPDATE payment_orders SET wallet_updated = false WHERE payment_order_id = :o",
            o=order,
        )


# --- the refund limit (refunds_within_order_amount) --------------------------------------


async def insert_refund(
    engine: AsyncEngine, order: str, amount: str, status: str = "PENDING"
) -> str:
    """A refund of `amount` of an order of 100.00 whose fee is 10.00, with its share of the fee
    (what the refund use case writes), so that the books stay right when it is allowed."""
    refund = f"rf_{uuid.uuid4().hex[:10]}"
    await execute(
        engine,
        "INSERT INTO refunds (refund_id, payment_order_id, seller_account, amount, fee_refunded,"
        " currency, status, created_at, updated_at)"
        " VALUES (:r, :o, 'seller-g', :amount, :fee, 'USD', :status, now(), now())",
        r=refund,
        o=order,
        amount=Decimal(amount),
        fee=(Decimal(amount) / 10).quantize(Decimal("0.01")),
        status=status,
    )
    return refund


async def test_refunds_beyond_the_order_are_refused_by_the_database(engine: AsyncEngine) -> None:
    order = await order_at(engine, "SUCCESS")  # 100.00
    with pytest.raises(DBAPIError, match="exceed its amount") as err:
        await insert_refund(engine, order, "100.01")
    refused_as(err, CheckViolation)

    first = await insert_refund(engine, order, "60.00")
    with pytest.raises(DBAPIError, match="exceed its amount"):
        await insert_refund(engine, order, "40.01")
    with pytest.raises(DBAPIError, match="exceed its amount"):  # growing a refund counts too
        await execute(engine, "UPDATE refunds SET amount = 100.01 WHERE refund_id = :r", r=first)
    await insert_refund(engine, order, "40.00")  # exactly the order: allowed

    async with engine.connect() as conn:
        total = await conn.scalar(
            text("SELECT sum(amount) FROM refunds WHERE payment_order_id = :o"), {"o": order}
        )
    assert total == Decimal("100.00")


async def test_a_failed_refund_frees_its_amount_and_only_a_success_is_refundable(
    engine: AsyncEngine,
) -> None:
    order = await order_at(engine, "SUCCESS")
    failed = await insert_refund(engine, order, "100.00")
    await execute(engine, "UPDATE refunds SET status = 'FAILED' WHERE refund_id = :r", r=failed)
    await insert_refund(engine, order, "100.00")

    for status in ("NOT_STARTED", "EXECUTING", "PENDING", "FAILED"):
        unpaid = await order_at(engine, status)
        with pytest.raises(DBAPIError, match="is not SUCCESS") as err:
            await insert_refund(engine, unpaid, "1.00")
        refused_as(err, CheckViolation)


# --- append-only history (payment_order_history_append_only) -----------------------------


async def test_the_order_history_is_append_only(engine: AsyncEngine) -> None:
    order = await new_order(engine)
    await execute(
        engine,
        "INSERT INTO payment_order_history (payment_order_id, from_status, to_status, occurred_at)"
        " VALUES (:o, NULL, 'NOT_STARTED', now())",
        o=order,
    )
    for statement in (
        "UPDATE payment_order_history SET to_status = 'SUCCESS'",
        "DELETE FROM payment_order_history",
        "TRUNCATE payment_order_history",
    ):
        with pytest.raises(DBAPIError, match="append-only") as err:
            await execute(engine, statement)
        refused_as(err, InsufficientPrivilege)
    async with engine.connect() as conn:
        rows = await conn.scalar(text("SELECT count(*) FROM payment_order_history"))
    assert rows == 1
