"""The ledger's hash chains on PostgreSQL: postings through the service layer and the SQL
adapter, concurrent ones included, chain up so that `paymesh ledger verify` passes; the
superuser, past the append-only triggers, changes an entry, a header, removes or adds a
transaction, and verify exits 1 naming the broken link. Transactions posted before the chains
existed are chained by the migration."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from alembic import command
from harness import free_port
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger_svc.adapters.sql import ChainConflict, SqlLedgerUnitOfWork
from ledger_svc.domain import Posting, Side, Transaction, chain_of
from ledger_svc.entrypoints.outgoing import encode_event
from ledger_svc.service_layer.refunds import PostRefund, post_refund
from ledger_svc.service_layer.use_cases import PostOutcome, PostPaymentOrder, post_payment_order
from mesh.db import make_engine
from mesh.migrations import SERVICES_WITH_SCHEMA, alembic_config, upgrade
from mesh.money import Money
from paymesh_cli.ledger_seed import seed_chained_ledger

D = Decimal


@dataclass(frozen=True)
class Verdict:
    exit_code: int
    report: dict  # type: ignore[type-arg]
    text: str


async def verify(database_url: str) -> Verdict:
    """`paymesh ledger verify --database-url URL --json`, then `DATABASE_URL=URL paymesh
    ledger verify`, as an operator runs them."""
    outputs = []
    for args, env in (
        (["--database-url", database_url, "--json"], {}),
        ([], {"DATABASE_URL": database_url}),
    ):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "paymesh_cli.main",
            "ledger",
            "verify",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **env},
        )
        out, err = await proc.communicate()
        outputs.append((proc.returncode, out.decode(), err.decode()))
    (code, report, err), (code_text, text, _) = outputs
    assert code == code_text, (report, text)
    assert code in (0, 1), err
    return Verdict(code, json.loads(report), text)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade, "ledger_svc", database_url)
    engine = make_engine(database_url, "ledger", pool_size=8)
    yield engine
    await engine.dispose()


def uow_for(engine: AsyncEngine) -> SqlLedgerUnitOfWork:
    return SqlLedgerUnitOfWork(engine, encode_event)


async def post_orders(
    engine: AsyncEngine, n: int, prefix: str = "po", expect: PostOutcome = PostOutcome.POSTED
) -> None:
    """n payment orders, posted at once (many share a chain: they take turns on its head)."""

    async def one(i: int) -> PostOutcome:
        cmd = PostPaymentOrder(
            event_id=str(uuid.uuid4()),
            payment_order_id=f"{prefix}-{i}",
            seller_account=f"seller-{i % 3}",
            gross=Money(D("10.10") + i, "USD"),
            fee=Money(D("1.01"), "USD"),
        )
        return await post_payment_order(uow_for(engine), cmd)

    assert set(await asyncio.gather(*(one(i) for i in range(n)))) == {expect}


async def refund(engine: AsyncEngine, order: str, amount: str) -> None:
    cmd = PostRefund(
        event_id=str(uuid.uuid4()),
        refund_id=f"rf-{order}",
        payment_order_id=order,
        seller_account="seller-1",
        amount=Money(D(amount), "USD"),
        fee_refunded=Money(D("0.10"), "USD"),
    )
    assert await post_refund(uow_for(engine), cmd) is PostOutcome.POSTED


def superuser(database_url: str, *statements: str) -> list[tuple]:  # type: ignore[type-arg]
    """Run `statements` as the superuser with the ledger's append-only triggers off (as an
    attacker with the superuser's password could); the last statement's rows come back."""
    rows: list[tuple] = []  # type: ignore[type-arg]
    with psycopg.connect(database_url) as conn:
        conn.execute("SET search_path = ledger")
        conn.execute("ALTER TABLE entries DISABLE TRIGGER entries_append_only")
        conn.execute("ALTER TABLE transactions DISABLE TRIGGER transactions_append_only")
        for statement in statements:
            cur = conn.execute(statement)
            rows = cur.fetchall() if cur.description else []
        conn.execute("ALTER TABLE entries ENABLE TRIGGER entries_append_only")
        conn.execute("ALTER TABLE transactions ENABLE TRIGGER transactions_append_only")
    return rows


def link(database_url: str, where: str) -> tuple[str, int, int]:
    """(transaction_id, chain, seq) of one transaction."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            f"SELECT transaction_id::text, chain, seq FROM ledger.transactions WHERE {where}"
        ).fetchone()
    assert row is not None
    return row


def longest_chain(database_url: str, at_least: int = 3) -> tuple[int, int]:
    """(chain, links) of the longest chain (60 postings over 32 chains: 3 links or more on one
    but about once in 10,000 runs)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT chain, seq FROM ledger.chain_heads ORDER BY seq DESC, chain LIMIT 1"
        ).fetchone()
    assert row is not None and row[1] >= at_least, f"the test needs a chain of {at_least} links"
    return row


async def test_concurrent_postings_chain_up_and_verify(database_url: str, engine) -> None:
    await post_orders(engine, 120)
    await refund(engine, "po-7", "5.00")

    verdict = await verify(database_url)
    assert verdict.exit_code == 0, verdict.text
    assert verdict.report["ok"] is True
    assert (verdict.report["transactions"], verdict.report["entries"]) == (121, 363)
    assert sum(h["seq"] for h in verdict.report["heads"].values()) == 121
    assert len(verdict.report["heads"]) > 1  # spread over chains, not one
    assert verdict.text.startswith("paymesh ledger verify: ok (121 transactions, 363 entries")


@pytest.mark.breaks_invariants
@pytest.mark.parametrize(
    "tampering",
    [
        "UPDATE entries SET amount = amount + 1 WHERE transaction_id = '{tx}' AND side = 'debit'",
        "UPDATE entries SET account = 'seller_payable:mallory' WHERE transaction_id = '{tx}'"
        " AND account LIKE 'seller_payable:%'",
        "UPDATE transactions SET description = 'nothing to see' WHERE transaction_id = '{tx}'",
        "UPDATE transactions SET posted_at = posted_at - interval '1 day'"
        " WHERE transaction_id = '{tx}'",
    ],
    ids=["amount", "account", "description", "posted_at"],
)
async def test_a_changed_transaction_is_named(database_url: str, engine, tampering: str) -> None:
    await post_orders(engine, 40)
    tx, chain, seq = link(database_url, "payment_order_id = 'po-17'")
    assert (await verify(database_url)).exit_code == 0

    superuser(database_url, tampering.format(tx=tx))

    verdict = await verify(database_url)
    assert verdict.exit_code == 1
    first = verdict.report["first_break"]
    assert (first["chain"], first["transaction_id"], first["seq"]) == (chain, tx, seq)
    assert first["kind"] == "hash_mismatch"
    assert first["expected_hash"] != first["stored_hash"]
    assert len(verdict.report["breaks"]) == 1  # the other chains hold
    assert f"first broken link: chain {chain}, transaction {tx} (link {seq})" in verdict.text
    assert f"expected {first['expected_hash']}" in verdict.text
    assert f"stored   {first['stored_hash']}" in verdict.text


@pytest.mark.breaks_invariants
async def test_a_deleted_transaction_is_a_missing_link(database_url: str, engine) -> None:
    await post_orders(engine, 60)
    chain, _ = longest_chain(database_url)
    gone, _, _ = link(database_url, f"chain = {chain} AND seq = 2")
    after, _, _ = link(database_url, f"chain = {chain} AND seq = 3")

    superuser(
        database_url,
        f"DELETE FROM entries WHERE transaction_id = '{gone}'",
        f"DELETE FROM transactions WHERE transaction_id = '{gone}'",
    )

    verdict = await verify(database_url)
    assert verdict.exit_code == 1
    first = verdict.report["first_break"]
    assert (first["chain"], first["transaction_id"], first["seq"]) == (chain, after, 3)
    assert first["kind"] == "missing_link"
    assert "expected link 2 after 1, found 3" in first["detail"]


@pytest.mark.breaks_invariants
async def test_a_deleted_last_transaction_leaves_the_head_behind(database_url, engine) -> None:
    await post_orders(engine, 60)
    chain, last = longest_chain(database_url)
    gone, _, _ = link(database_url, f"chain = {chain} AND seq = {last}")

    superuser(
        database_url,
        f"DELETE FROM entries WHERE transaction_id = '{gone}'",
        f"DELETE FROM transactions WHERE transaction_id = '{gone}'",
    )

    verdict = await verify(database_url)
    assert verdict.exit_code == 1
    [broken] = verdict.report["breaks"]
    assert (broken["chain"], broken["kind"]) == (chain, "head_mismatch")
    assert f"ends at link {last - 1}, its head row says {last}" in broken["detail"]


@pytest.mark.breaks_invariants
async def test_an_inserted_transaction_is_found(database_url: str, engine) -> None:
    await post_orders(engine, 30)
    chain, last = longest_chain(database_url, at_least=1)
    forged = str(uuid.uuid4())
    # A balanced transaction slipped in at the end of a chain, its head moved on, with the
    # hash of another transaction (the forger cannot make a matching one without recomputing).
    superuser(
        database_url,
        "INSERT INTO transactions (transaction_id, payment_order_id, description, chain, seq,"
        f" hash) SELECT '{forged}', 'po-forged', 'forged', {chain}, {last + 1}, hash"
        f" FROM transactions WHERE chain = {chain} AND seq = {last}",
        "INSERT INTO entries (transaction_id, account, side, amount, currency) VALUES"
        f" ('{forged}', 'psp_receivable', 'debit', 1000, 'USD'),"
        f" ('{forged}', 'seller_payable:mallory', 'credit', 1000, 'USD')",
        f"UPDATE chain_heads SET seq = {last + 1} WHERE chain = {chain}",
    )

    verdict = await verify(database_url)
    assert verdict.exit_code == 1
    first = verdict.report["first_break"]
    assert (first["chain"], first["transaction_id"], first["kind"]) == (
        chain,
        forged,
        "hash_mismatch",
    )


async def test_postings_continue_a_chain_after_a_posted_order_comes_again(
    database_url: str, engine
) -> None:
    await post_orders(engine, 5)
    # The same orders again (other events): nothing posted, no link taken.
    await post_orders(engine, 5, expect=PostOutcome.ALREADY_POSTED)
    await post_orders(engine, 5, prefix="more")
    verdict = await verify(database_url)
    assert verdict.exit_code == 0, verdict.text
    assert verdict.report["transactions"] == 10


@pytest.mark.breaks_invariants
async def test_a_posting_never_passes_quietly_when_its_link_is_taken(database_url, engine) -> None:
    await post_orders(engine, 40)
    chain, last = longest_chain(database_url, at_least=1)
    # The head moved back (by hand): the next link of that chain exists already.
    superuser(database_url, f"UPDATE chain_heads SET seq = {last - 1} WHERE chain = {chain}")
    txn = Transaction(
        str(uuid.uuid4()),
        "on a rewound chain",
        (
            Posting("psp_receivable", Side.DEBIT, D("5.00"), "USD"),
            Posting("seller_payable:s1", Side.CREDIT, D("5.00"), "USD"),
        ),
        payment_order_id="po-rewound",
    )
    while chain_of(txn.transaction_id) != chain:
        txn = replace(txn, transaction_id=str(uuid.uuid4()))
    uow = uow_for(engine)
    with pytest.raises(ChainConflict):
        async with uow:
            await uow.ledger.add_transaction(txn, txn.seal(datetime.now(UTC)))
    # And a chain without a head row refuses postings (NOT NULL), never chains from nothing.
    superuser(
        database_url,
        "ALTER TABLE chain_heads DISABLE TRIGGER chain_heads_not_deleted",
        f"DELETE FROM chain_heads WHERE chain = {chain}",
    )
    uow = uow_for(engine)
    with pytest.raises(DBAPIError, match="not-null"):
        async with uow:
            await uow.ledger.add_transaction(txn, txn.seal(datetime.now(UTC)))


async def test_transactions_posted_before_the_chains_are_chained_by_the_migration(
    database_url: str,
) -> None:
    # The ledger as it was (revision 0002), with transactions posted then.
    config = alembic_config("ledger_svc", database_url, SERVICES_WITH_SCHEMA["ledger_svc"])
    await asyncio.to_thread(command.upgrade, config, "0002")
    with psycopg.connect(database_url) as conn:
        for i in range(25):
            tx = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO ledger.transactions (transaction_id, payment_order_id, description)"
                " VALUES (%s, %s, 'before the chains')",
                (tx, f"old-{i}"),
            )
            conn.execute(
                "INSERT INTO ledger.entries (transaction_id, account, side, amount, currency)"
                " VALUES (%s, 'psp_receivable', 'debit', %s, 'USD'),"
                " (%s, 'seller_payable:s1', 'credit', %s, 'USD')",
                (tx, D("1.10") + i, tx, D("1.1") + i),
            )
            conn.execute(
                "INSERT INTO ledger.account_balances (account, currency, debits, credits)"
                " VALUES ('psp_receivable', 'USD', %s, 0), ('seller_payable:s1', 'USD', 0, %s)"
                " ON CONFLICT (account, currency) DO UPDATE SET"
                " debits = ledger.account_balances.debits + EXCLUDED.debits,"
                " credits = ledger.account_balances.credits + EXCLUDED.credits",
                (D("1.10") + i, D("1.10") + i),
            )

    await asyncio.to_thread(upgrade, "ledger_svc", database_url)
    verdict = await verify(database_url)
    assert verdict.exit_code == 0, verdict.text
    assert verdict.report["transactions"] == 25
    assert sum(h["seq"] for h in verdict.report["heads"].values()) == 25

    # New postings continue the chains the migration built.
    engine = make_engine(database_url, "ledger", pool_size=4)
    try:
        await post_orders(engine, 20, prefix="new")
    finally:
        await engine.dispose()
    verdict = await verify(database_url)
    assert verdict.exit_code == 0, verdict.text
    assert verdict.report["transactions"] == 45


async def test_verify_streams_a_ledger_of_ten_thousand_entries(database_url: str, engine) -> None:
    # The short form of scripts/bench_ledger_verify.py (10^6 entries, kept out of the suite).
    await post_orders(engine, 10)
    assert await asyncio.to_thread(seed_chained_ledger, database_url, 5000) == 10_000
    await post_orders(engine, 10, prefix="after")

    verdict = await verify(database_url)
    assert verdict.exit_code == 0, verdict.text
    assert (verdict.report["transactions"], verdict.report["entries"]) == (5020, 10_060)


async def test_verify_without_a_database_exits_2() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "paymesh_cli.main",
        "ledger",
        "verify",
        "--database-url",
        f"postgresql://postgres@127.0.0.1:{free_port()}/nothing",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 2
    assert b"cannot read the ledger" in err
