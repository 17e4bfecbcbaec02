"""The ledger service for real: its migrations on PostgreSQL (append-only and balance
triggers included), the service started in-process on NATS JetStream, events published to the
PAYMENT stream, answers read through gRPC and the LEDGER stream. After each test the ledger's
books are checked in the database: debits == credits per currency and per transaction, and the
maintained balances equal the sums of the entries."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar

import grpc
import pytest
from google.rpc import error_details_pb2
from harness import (
    ServiceHarness,
    eventually,
    migrations_diff,
    rich_status,
    started_service,
    succeeded,
)
from psycopg.errors import CheckViolation
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger_svc.adapters import tables
from ledger_svc.adapters.sql import SqlLedgerUnitOfWork
from ledger_svc.bootstrap import start
from ledger_svc.domain import PSP_RECEIVABLE, BalanceDelta, Posting, Side, Transaction
from ledger_svc.entrypoints.outgoing import encode_event
from ledger_svc.settings import LedgerSettings
from mesh.events import LEDGER_POSTED
from paymesh.events.v1 import events_pb2
from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc

D = Decimal
DURABLE = "ledger-post"


@dataclass
class Ledger(ServiceHarness):
    durable: ClassVar[str] = DURABLE

    stub: ledger_pb2_grpc.LedgerServiceStub

    async def posted_events(self) -> list[events_pb2.LedgerPosted]:
        return await self.published("LEDGER", LEDGER_POSTED, events_pb2.LedgerPosted)

    async def balance(
        self, account: str, currency: str = ""
    ) -> ledger_pb2.GetAccountBalanceResponse:
        return await self.stub.GetAccountBalance(
            ledger_pb2.GetAccountBalanceRequest(account=account, currency=currency), timeout=5
        )

    async def balance_reaches(self, account: str, currency: str, amount: str) -> None:
        async def reached() -> bool:
            try:
                response = await self.balance(account, currency)
            except grpc.aio.AioRpcError as err:
                if err.code() is grpc.StatusCode.NOT_FOUND:
                    return False
                raise
            return response.balances[0].balance == amount

        await eventually(reached)

    async def entries(
        self, account: str, page_size: int = 0, page_token: str = ""
    ) -> ledger_pb2.ListEntriesResponse:
        return await self.stub.ListEntries(
            ledger_pb2.ListEntriesRequest(
                account=account, page_size=page_size, page_token=page_token
            ),
            timeout=5,
        )


async def assert_ledger_invariants(engine: AsyncEngine, posted_events: int) -> None:
    """Debits == credits per currency and per transaction; maintained balances == sums of the
    entries; every transaction has entries; one `ledger.posted` event per transaction."""
    async with engine.connect() as conn:
        per_currency = (
            await conn.execute(
                text(
                    "SELECT currency, "
                    "sum(amount) FILTER (WHERE side = 'debit'), "
                    "sum(amount) FILTER (WHERE side = 'credit') "
                    "FROM entries GROUP BY currency"
                )
            )
        ).all()
        unbalanced = await conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT transaction_id, currency FROM entries "
                "GROUP BY transaction_id, currency HAVING "
                "sum(CASE side WHEN 'debit' THEN amount ELSE -amount END) <> 0) x"
            )
        )
        drift = (
            await conn.execute(
                text(
                    "SELECT * FROM (SELECT account, currency, "
                    "coalesce(sum(amount) FILTER (WHERE side = 'debit'), 0) AS debits, "
                    "coalesce(sum(amount) FILTER (WHERE side = 'credit'), 0) AS credits "
                    "FROM entries GROUP BY account, currency) e "
                    "FULL JOIN account_balances b USING (account, currency) "
                    "WHERE e.debits IS DISTINCT FROM b.debits "
                    "OR e.credits IS DISTINCT FROM b.credits"
                )
            )
        ).all()
        empty = await conn.scalar(
            text(
                "SELECT count(*) FROM transactions t WHERE NOT EXISTS "
                "(SELECT 1 FROM entries e WHERE e.transaction_id = t.transaction_id)"
            )
        )
        transactions = await conn.scalar(text("SELECT count(*) FROM transactions"))
    for currency, debits, credits in per_currency:
        assert debits == credits, f"{currency}: debits {debits} != credits {credits}"
    assert unbalanced == 0
    assert drift == [], f"maintained balances drifted from the entries: {drift}"
    assert empty == 0
    assert transactions == posted_events


@pytest.fixture
async def ledger(database_url: str, nats_url: str) -> AsyncIterator[Ledger]:
    def settings(grpc_addr: str) -> LedgerSettings:
        return LedgerSettings(
            database_url=database_url,
            nats_url=nats_url,
            grpc_addr=grpc_addr,
            log_level="INFO",
            consumer_concurrency=16,
            db_pool_size=4,
        )

    async with started_service(
        "ledger_svc", "ledger", start, settings, database_url, nats_url
    ) as service:
        harness = Ledger(
            service.js,
            service.engine,
            service.life,
            ledger_pb2_grpc.LedgerServiceStub(service.channel),
        )
        yield harness
        await assert_ledger_invariants(service.engine, len(await harness.posted_events()))
        trial = await harness.stub.GetTrialBalance(ledger_pb2.GetTrialBalanceRequest(), timeout=5)
        assert trial.balanced
        assert service.life.failed is None, f"a background task died: {service.life.failed!r}"


def lines(response: ledger_pb2.GetAccountBalanceResponse) -> list[tuple[str, str, str, str]]:
    return [(b.currency, b.debits, b.credits, b.balance) for b in response.balances]


async def test_a_succeeded_order_posts_one_balanced_transaction(ledger: Ledger) -> None:
    env = succeeded("po-1", "seller-1", "100.00", "2.90")
    await ledger.publish(env)
    await ledger.balance_reaches("seller_payable:seller-1", "USD", "97.10")

    seller = await ledger.balance("seller_payable:seller-1")
    assert seller.normal_side == ledger_pb2.SIDE_CREDIT
    assert lines(seller) == [("USD", "0.00", "97.10", "97.10")]
    psp = await ledger.balance(PSP_RECEIVABLE)
    assert psp.normal_side == ledger_pb2.SIDE_DEBIT
    assert lines(psp) == [("USD", "100.00", "0.00", "100.00")]
    fee = await ledger.balance("platform_fee_revenue")
    assert lines(fee) == [("USD", "0.00", "2.90", "2.90")]

    [posted] = await ledger.posted_events()
    assert posted.payment_order_id == "po-1"
    [entry] = (await ledger.entries("seller_payable:seller-1")).entries
    assert entry.transaction_id == posted.transaction_id
    assert (entry.side, entry.amount, entry.currency) == (ledger_pb2.SIDE_CREDIT, "97.10", "USD")
    assert entry.payment_order_id == "po-1"
    assert "po-1" in entry.description
    assert entry.posted_at.seconds > 0


async def test_the_same_event_delivered_twice_posts_once(ledger: Ledger) -> None:
    env = succeeded("po-1", "seller-1", "10.00", "1.00")
    await ledger.publish(env)
    seq = await ledger.publish(env, msg_id=f"again-{uuid.uuid4()}")  # not deduplicated by NATS
    assert seq == 2
    await ledger.processed(seq)

    assert lines(await ledger.balance(PSP_RECEIVABLE)) == [("USD", "10.00", "0.00", "10.00")]
    assert len(await ledger.posted_events()) == 1


async def test_another_event_for_a_posted_order_has_no_effect(ledger: Ledger) -> None:
    await ledger.publish(succeeded("po-1", "seller-1", "10.00", "1.00"))
    await ledger.balance_reaches(PSP_RECEIVABLE, "USD", "10.00")
    seq = await ledger.publish(succeeded("po-1", "seller-1", "500.00", "1.00"))
    await ledger.processed(seq)

    assert lines(await ledger.balance(PSP_RECEIVABLE)) == [("USD", "10.00", "0.00", "10.00")]
    assert len(await ledger.posted_events()) == 1


async def test_an_order_that_cannot_balance_is_refused_and_dead_lettered(ledger: Ledger) -> None:
    await ledger.publish(succeeded("po-1", "seller-1", "10.00", "10.01"))
    await ledger.publish(succeeded("po-2", "seller-1", "10.00", "1.00", fee_currency="EUR"))
    last = await ledger.publish(succeeded("po-3", "seller-1", "10.00", "1.00"))
    await ledger.processed(last)

    dead = await ledger.events("DLQ", f"dlq.{DURABLE}")
    assert [env.aggregate_id for _, env in dead] == ["po-1", "po-2"]
    assert all(msg.headers["Paymesh-Dlq-Reason"].startswith("poison") for msg, _ in dead)
    assert [p.payment_order_id for p in await ledger.posted_events()] == ["po-3"]


async def test_the_database_refuses_an_unbalanced_transaction(ledger: Ledger) -> None:
    # Even a transaction that slipped past the domain's check is refused by PostgreSQL.
    txn = Transaction(
        str(uuid.uuid4()),
        "tampered",
        (
            Posting(PSP_RECEIVABLE, Side.DEBIT, Decimal("5.00"), "USD"),
            Posting("seller_payable:seller-1", Side.CREDIT, Decimal("5.00"), "USD"),
        ),
        payment_order_id="po-x",
    )
    object.__setattr__(txn, "postings", txn.postings[:1])
    uow = SqlLedgerUnitOfWork(ledger.engine, encode_event)
    with pytest.raises(DBAPIError, match="does not balance"):
        async with uow:
            await uow.ledger.add_transaction(txn, txn.seal(datetime.now(UTC)))
            await uow.commit()

    async with ledger.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM transactions")) == 0


async def test_entries_and_transactions_are_append_only(ledger: Ledger) -> None:
    await ledger.publish(succeeded("po-1", "seller-1", "10.00", "1.00"))
    await ledger.balance_reaches(PSP_RECEIVABLE, "USD", "10.00")
    for statement in (
        "UPDATE entries SET amount = amount + 1",
        "DELETE FROM entries",
        "UPDATE transactions SET description = 'rewritten'",
        "DELETE FROM transactions",
        "TRUNCATE entries, transactions",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with ledger.engine.begin() as conn:
                await conn.execute(text(statement))
    async with ledger.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM entries")) == 3


async def test_trial_balance_is_even_in_every_currency(ledger: Ledger) -> None:
    await ledger.publish(succeeded("po-1", "seller-1", "100.00", "3.00"))
    await ledger.publish(succeeded("po-2", "seller-2", "5000", "0", "JPY"))
    await ledger.publish(succeeded("po-3", "seller-2", "7.500", "7.500", "BHD"))
    last = await ledger.publish(succeeded("po-4", "seller-1", "0.01", "0.00", "EUR"))
    await ledger.processed(last)

    trial = await ledger.stub.GetTrialBalance(ledger_pb2.GetTrialBalanceRequest(), timeout=5)
    assert trial.balanced
    assert [(c.currency, c.debits, c.credits, c.balanced) for c in trial.currencies] == [
        ("BHD", "7.500", "7.500", True),
        ("EUR", "0.01", "0.01", True),
        ("JPY", "5000", "5000", True),
        ("USD", "100.00", "100.00", True),
    ]
    # No zero lines: the JPY order had no fee, the BHD order paid the seller nothing.
    assert lines(await ledger.balance("platform_fee_revenue", "JPY")) == [("JPY", "0", "0", "0")]
    # seller-2 has entries (in JPY), none in BHD: a zero line, not NOT_FOUND.
    assert lines(await ledger.balance("seller_payable:seller-2", "BHD")) == [
        ("BHD", "0.000", "0.000", "0.000")
    ]


async def test_list_entries_pages_newest_first(ledger: Ledger) -> None:
    for i in range(7):
        last = await ledger.publish(succeeded(f"po-{i}", "seller-1", f"{i + 1}.00", "0.10"))
    await ledger.processed(last)

    pages: list[list[ledger_pb2.Entry]] = []
    token = ""
    while True:
        page = await ledger.entries(PSP_RECEIVABLE, page_size=3, page_token=token)
        pages.append(list(page.entries))
        token = page.next_page_token
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    ids = [e.entry_id for p in pages for e in p]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 7
    assert {e.payment_order_id for p in pages for e in p} == {f"po-{i}" for i in range(7)}
    assert all(e.side == ledger_pb2.SIDE_DEBIT for p in pages for e in p)

    everything = await ledger.entries(PSP_RECEIVABLE)
    assert [e.entry_id for e in everything.entries] == ids
    assert everything.next_page_token == ""
    assert (await ledger.entries("seller_payable:nobody")).entries == []


async def test_a_bad_page_token_is_an_invalid_argument(ledger: Ledger) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ledger.entries(PSP_RECEIVABLE, page_token="not-a-token")
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    bad_request = error_details_pb2.BadRequest()
    assert rich_status(info.value).details[1].Unpack(bad_request)
    [violation] = bad_request.field_violations
    assert (violation.field, violation.reason) == ("page_token", "page_token.valid")


async def test_an_account_without_entries_is_not_found(ledger: Ledger) -> None:
    for account in ("seller_payable:nobody", PSP_RECEIVABLE, "no_such_account"):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await ledger.balance(account)
        assert info.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await ledger.balance("Not An Account")
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_a_failure_at_commit_leaves_nothing_behind(ledger: Ledger) -> None:
    # The balance upsert rides with the COMMIT; when it fails, the whole posting is undone and
    # the connection goes back to the pool in a usable state.
    txn = Transaction(
        str(uuid.uuid4()),
        "doomed",
        (
            Posting(PSP_RECEIVABLE, Side.DEBIT, Decimal("5.00"), "USD"),
            Posting("seller_payable:seller-1", Side.CREDIT, Decimal("5.00"), "USD"),
        ),
        payment_order_id="po-doomed",
    )
    for _ in range(3):  # more attempts than the test engine has pooled connections
        uow = SqlLedgerUnitOfWork(ledger.engine, encode_event)
        with pytest.raises(CheckViolation, match="account_balances_not_negative"):
            async with uow:
                assert await uow.ledger.add_transaction(txn, txn.seal(datetime.now(UTC)))
                await uow.ledger.apply_balances(
                    [BalanceDelta(PSP_RECEIVABLE, "USD", Decimal("-1"), Decimal(0))]
                )
                await uow.commit()
    async with ledger.engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM transactions")) == 0
        assert await conn.scalar(text("SELECT count(*) FROM account_balances")) == 0

    await ledger.publish(succeeded("po-1", "seller-1", "10.00", "1.00"))
    await ledger.balance_reaches(PSP_RECEIVABLE, "USD", "10.00")


async def test_postings_by_the_running_service_are_hash_chained(
    ledger: Ledger, database_url: str
) -> None:
    for i in range(12):
        last = await ledger.publish(succeeded(f"po-{i}", "seller-1", f"{i + 1}.10", "0.10"))
    await ledger.processed(last)

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "paymesh_cli.main",
        "ledger",
        "verify",
        "--json",
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    report = json.loads(out)
    assert proc.returncode == 0, report
    assert (report["ok"], report["transactions"], report["entries"]) == (True, 12, 36)


async def test_the_tables_module_matches_the_migrations(database_url: str) -> None:
    assert await migrations_diff("ledger_svc", "ledger", tables.metadata, database_url) == []
