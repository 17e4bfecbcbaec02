"""The retention purge on PostgreSQL: published outbox rows, inbox rows and stored PSP events
past their period go, in bounded batches through an index on their time column; recent rows
and unpublished outbox rows stay; and every service runs it on its own."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from harness import eventually, started_service
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import mesh.migrations
from mesh.db import make_engine
from mesh.retention import RetentionRule, inbox_rule, outbox_rule, purge, purge_all
from mesh.settings import RetentionSettings
from wallet_svc.bootstrap import start as start_wallet
from wallet_svc.settings import WalletSettings

pytestmark = pytest.mark.integration

DAY = 86_400.0
PSP_EVENTS = RetentionRule("psp_events", "received_at", ("event_id",), 30 * DAY)


async def add_outbox(engine: AsyncEngine, n: int, published: str | None) -> None:
    """`n` outbox rows published at `published` (an SQL expression), or never (None)."""
    at = published or "NULL"
    async with engine.begin() as conn:
        for _ in range(n):
            await conn.execute(
                text(
                    "INSERT INTO outbox (event_id, subject, payload, created_at, published_at) "
                    f"VALUES (CAST(:e AS uuid), 'x.y', '\\x00', now() - interval '60 days', {at})"
                ),
                {"e": str(uuid.uuid4())},
            )


async def add_inbox(engine: AsyncEngine, n: int, processed: str) -> None:
    async with engine.begin() as conn:
        for _ in range(n):
            await conn.execute(
                text(
                    "INSERT INTO inbox (consumer, event_id, processed_at) "
                    f"VALUES ('c', CAST(:e AS uuid), {processed})"
                ),
                {"e": str(uuid.uuid4())},
            )


async def add_psp_events(engine: AsyncEngine, n: int, received: str) -> None:
    async with engine.begin() as conn:
        for _ in range(n):
            await conn.execute(
                text(
                    "INSERT INTO psp_events (event_id, type, payment_order_id, psp_reference, "
                    "payload, created_at, received_at, result) VALUES (:e, 'payment_intent."
                    f"succeeded', 'po', 'pi', '\\x00', {received}, {received}, 'applied')"
                ),
                {"e": f"evt_{uuid.uuid4().hex}"},
            )


async def count(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text(sql)) or 0)


@pytest.fixture
async def payment_db(database_url: str):  # type: ignore[no-untyped-def]
    await asyncio.to_thread(mesh.migrations.upgrade, "payment_svc", database_url)
    engine = make_engine(database_url, "payment", pool_size=2)
    yield engine
    await engine.dispose()


async def test_old_rows_go_in_bounded_batches_and_recent_or_unpublished_ones_stay(
    payment_db: AsyncEngine,
) -> None:
    await add_outbox(payment_db, 5, "now() - interval '2 days'")
    await add_outbox(payment_db, 2, "now() - interval '1 hour'")
    await add_outbox(payment_db, 3, None)  # old, never published: the relay still owes them
    await add_inbox(payment_db, 7, "now() - interval '40 days'")
    await add_inbox(payment_db, 2, "now() - interval '1 day'")
    await add_psp_events(payment_db, 4, "now() - interval '31 days'")
    await add_psp_events(payment_db, 1, "now() - interval '29 days'")

    purged = await purge(payment_db, outbox_rule(DAY), batch=2)
    assert (purged.rows, purged.batches) == (5, 3)  # 2 + 2 + 1: never more than a batch
    assert await count(payment_db, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 3
    assert await count(payment_db, "SELECT count(*) FROM outbox") == 5

    capped = await purge(payment_db, inbox_rule(28 * DAY), batch=2, max_batches=2)
    assert (capped.rows, capped.batches) == (4, 2)  # the round stops; the next one goes on
    assert await purge_all(payment_db, [inbox_rule(28 * DAY), PSP_EVENTS], batch=1000) == 3 + 4
    assert await count(payment_db, "SELECT count(*) FROM inbox") == 2
    assert await count(payment_db, "SELECT count(*) FROM psp_events") == 1
    assert await purge_all(payment_db, [outbox_rule(DAY), PSP_EVENTS], batch=1000) == 0


@pytest.mark.parametrize(
    ("table", "column", "index"),
    [
        ("outbox", "published_at", "outbox_published_at"),
        ("inbox", "processed_at", "inbox_processed_at"),
        ("psp_events", "received_at", "psp_event_received_at"),
    ],
)
async def test_the_purge_finds_old_rows_through_an_index(
    payment_db: AsyncEngine, table: str, column: str, index: str
) -> None:
    async with payment_db.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            (
                await conn.execute(
                    text(
                        f"EXPLAIN SELECT 1 FROM {table} "
                        f"WHERE {column} < now() - make_interval(secs => 60) LIMIT 10"
                    )
                )
            ).scalars()
        )
    assert index in plan, plan


async def test_a_service_purges_its_own_tables(database_url: str, nats_url: str) -> None:
    def settings(grpc_addr: str) -> WalletSettings:
        return WalletSettings(
            database_url=database_url,
            nats_url=nats_url,
            grpc_addr=grpc_addr,
            db_pool_size=4,
            retention=RetentionSettings(outbox_s=DAY, inbox_s=28 * DAY, interval_s=0.2),
        )

    await asyncio.to_thread(mesh.migrations.upgrade, "wallet_svc", database_url)
    engine = make_engine(database_url, "wallet", pool_size=2)
    try:
        await add_inbox(engine, 3, "now() - interval '30 days'")
        await add_inbox(engine, 1, "now()")
        await add_outbox(engine, 2, "now() - interval '3 days'")
        async with started_service(
            "wallet_svc", "wallet", start_wallet, settings, database_url, nats_url
        ) as service:

            async def purged() -> bool:
                return (
                    await count(engine, "SELECT count(*) FROM inbox") == 1
                    and await count(engine, "SELECT count(*) FROM outbox") == 0
                )

            await eventually(purged)
            assert service.life.failed is None
    finally:
        await engine.dispose()
