"""A recon run against paymesh's own books, on one stack for the module (payment, wallet,
ledger, recon and the sandbox PSP in-process over real PostgreSQL and NATS): a clean day
reconciles with no mismatch, books the PSP's fees and its payout to the platform (audited per
run and rule) and leaves `psp_receivable` at zero, and a second run books nothing; then each
new kind of mismatch is planted (by tampering with the test database, by a booking the PSP
never made, by a fee the sandbox changed after it was booked) and found with its type and
class, and a second run changes nothing. `paymesh check` passes at the end of each test, the
tampering undone."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import psycopg
import pytest
from buckets_mesh import API_KEY, running_mesh
from harness import new_request_id
from nats_streams import delete_streams
from psycopg import sql
from recon_mesh import ReconMesh, recon_service, succeeded_at_psp
from sqlalchemy import text

from paymesh.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from paymesh.recon.v1 import recon_pb2
from paymesh_cli.invariants import run_checks

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

R = recon_pb2
D = Decimal


@pytest.fixture(scope="module")
def books_db(pg_server) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """One database for the module's stack: (its URL, the superuser's URL of it)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin = pg_server.admin_url.rsplit("/", 1)[0] + f"/{name}"
    yield pg_server.url_for(name), admin
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="module")
async def mesh(
    books_db: tuple[str, str],
    nats_server,
    tmp_path_factory: pytest.TempPathFactory,  # type: ignore[no-untyped-def]
) -> AsyncIterator[ReconMesh]:
    database_url, _ = books_db
    tmp = tmp_path_factory.mktemp("recon_books")
    # Module-scoped, so not the `nats_url` fixture: its clean-up, done here (events an earlier
    # module left unconsumed would be booked by this module's ledger and found by the run).
    await delete_streams(nats_server.url)
    async with running_mesh(database_url, nats_server.url, tmp) as base:
        async with recon_service(base, database_url, nats_server.url, tmp / "recon") as recon:
            yield ReconMesh(base, recon)
            assert recon.life.failed is None, f"a task died: {recon.life.failed!r}"


@pytest.fixture
def tamper(books_db: tuple[str, str]) -> Iterator[psycopg.Connection]:
    """A superuser connection that may write around the ledger's append-only triggers (as an
    intruder or a bad migration would)."""
    with psycopg.connect(books_db[1], autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        yield conn


async def books_hold(mesh: ReconMesh) -> None:
    report = await run_checks(mesh.base.database_url, settle_timeout=30)
    assert report.ok, report.violations


async def balance(mesh: ReconMesh, account: str) -> str:
    stub = ledger_pb2_grpc.LedgerServiceStub(mesh.base.ledger.channel)
    reply = await stub.GetAccountBalance(
        ledger_pb2.GetAccountBalanceRequest(account=account, currency="USD"), timeout=10
    )
    return reply.balances[0].balance


async def ledger_transactions(mesh: ReconMesh) -> int:
    async with mesh.base.ledger.engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM transactions")) or 0)


async def psp(mesh: ReconMesh, path: str, **body: object) -> httpx.Response:
    async with httpx.AsyncClient(
        base_url=mesh.base.psp_base, headers={"Authorization": f"Bearer {API_KEY}"}
    ) as client:
        reply = await client.post(path, json=body)
    assert reply.status_code == 200, reply.text
    return reply


async def test_a_clean_day_reconciles_books_the_psp_side_and_nets_the_receivable(
    mesh: ReconMesh,
) -> None:
    seller = f"seller_{uuid.uuid4().hex[:8]}"
    for amount in ("100.00", "25.00"):
        await mesh.base.pay(seller, amount)
    await succeeded_at_psp(mesh.base, 2)
    # The PSP pays what it holds out to the platform's bank (available_before: as if the two
    # days funds take had passed).
    paid = await psp(
        mesh,
        "/_sandbox/platform_payouts",
        currency="usd",
        available_before=int(time.time()) + 864_000,
    )
    assert paid.json()["amount"] == 9_680 + 2_397  # the gross less 2.9 % + 0.30 of each

    first = await mesh.run()
    assert first.status == R.RUN_STATUS_SUCCEEDED, first.report.error
    assert dict(first.report.mismatched_by_type) == {} and first.report.new_mismatches == 0
    # Class 1, the run's own fix: the fees and the payout, booked in the ledger.
    assert dict(first.report.fixes) == {"book_psp_fee": 2, "book_psp_payout": 1}
    assert await balance(mesh, "psp_fees") == "4.23"
    assert await balance(mesh, "platform_cash") == "120.77"
    assert await balance(mesh, "psp_receivable") == "0.00"
    async with mesh.recon.engine.connect() as conn:
        audit = (
            await conn.execute(
                text("SELECT run_id, rule, outcome, mismatch_id FROM fixes ORDER BY rule")
            )
        ).all()
    assert [(a.run_id, a.rule, a.mismatch_id) for a in audit] == [
        (first.run_id, "book_psp_fee", None),
        (first.run_id, "book_psp_payout", None),
    ]
    assert "4.23 USD" in audit[0].outcome and "120.77 USD" in audit[1].outcome

    # A second run of the day books nothing and changes nothing.
    booked = await ledger_transactions(mesh)
    second = await mesh.run()
    assert second.status == R.RUN_STATUS_SUCCEEDED, second.report.error
    assert dict(second.report.fixes) == {} and second.report.new_mismatches == 0
    assert dict(second.report.mismatched_by_type) == {}
    assert await ledger_transactions(mesh) == booked
    assert await balance(mesh, "psp_receivable") == "0.00"
    await books_hold(mesh)


# Every pay-in but the renamed one moved five days back (or forward again).
AGED = (
    "UPDATE ledger.transactions SET posted_at = posted_at {sign} interval '5 days'"
    " WHERE payment_order_id IS NOT NULL AND payment_order_id <> 'po_ghost'"
)


# An order's ledger flag (un)set, its last change an hour back (or forward again).
UNFLAGGED = (
    "UPDATE payment.payment_orders SET ledger_updated = {flag},"
    " updated_at = updated_at {sign} interval '1 hour' WHERE payment_order_id = %s"
)


def by_detail(queue: list[R.Mismatch]) -> dict[tuple[str, str], R.Mismatch]:
    return {(m.type, m.detail): m for m in queue}


async def test_planted_differences_in_the_books_are_typed_classified_and_found_once(
    mesh: ReconMesh, tamper: psycopg.Connection
) -> None:
    seller = f"seller_{uuid.uuid4().hex[:8]}"
    amounts = ("10.00", "20.00", "30.00", "40.00")
    orders = [await mesh.base.pay(seller, amount) for amount in amounts]
    await succeeded_at_psp(mesh.base, 6)  # the clean test's two and these four
    warmup = await mesh.run()  # books the four fees; nothing differs yet
    assert dict(warmup.report.mismatched_by_type) == {}, warmup.report.mismatched_by_type

    # The PSP changes the fee of a charge it already reported (the ledger booked the old one).
    await psp(mesh, "/_sandbox/discrepancies", kind="fee_differs", payment_order_id=orders[0],
              fee_delta=5)  # fmt: skip
    # A fee booked in the ledger that the PSP never charged.
    stub = ledger_pb2_grpc.LedgerServiceStub(mesh.base.ledger.channel)
    await stub.BookPspBalanceTransactions(
        ledger_pb2.BookPspBalanceTransactionsRequest(
            request_id=new_request_id(),
            transactions=[
                ledger_pb2.PspBalanceTransaction(
                    id="txn_planted", reporting_category="charge", currency="USD",
                    gross="0.00", fee="1.00",
                )
            ],
        ),
        timeout=10,
    )  # fmt: skip
    # A seller's pending bucket moved by hand; an order's wallet credit changed; an order's
    # ledger transaction renamed to an order nobody charged; an order whose success never
    # reached the ledger an hour ago (its transaction unnamed, its flag unset); an entry off by
    # a cent; every pay-in posted as if five days ago, so the receivable holds money past its
    # delay.
    tamper.execute(
        "UPDATE wallet.balances SET pending = pending + 1 WHERE seller_account = %s", (seller,)
    )
    tamper.execute(
        "UPDATE wallet.wallet_credits SET amount = amount + 2, gross = gross + 2"
        " WHERE payment_order_id = %s",
        (orders[1],),
    )
    tamper.execute(
        "UPDATE ledger.transactions SET payment_order_id = 'po_ghost' WHERE payment_order_id = %s",
        (orders[2],),
    )
    [[lost_tx]] = tamper.execute(
        "UPDATE ledger.transactions SET payment_order_id = NULL WHERE payment_order_id = %s"
        " RETURNING transaction_id",
        (orders[3],),
    ).fetchall()
    tamper.execute(UNFLAGGED.format(flag="false", sign="-"), (orders[3],))
    [[ghost_tx]] = tamper.execute(
        "SELECT transaction_id FROM ledger.transactions WHERE payment_order_id = 'po_ghost'"
    ).fetchall()
    [[entry_id]] = tamper.execute(
        "SELECT min(entry_id) FROM ledger.entries e JOIN ledger.transactions t"
        " USING (transaction_id) WHERE t.payment_order_id = %s AND e.side = 'credit'",
        (orders[1],),
    ).fetchall()
    tamper.execute(
        "UPDATE ledger.entries SET amount = amount + 0.01 WHERE entry_id = %s", (entry_id,)
    )
    tamper.execute(AGED.format(sign="-"))

    first = await mesh.run()
    assert first.status == R.RUN_STATUS_SUCCEEDED, first.report.error
    found = by_detail(await mesh.queue(run_id=first.run_id))
    expected = {
        ("fee", "fee_booked"): (2, "accept"),
        ("ledger_without_psp", "fee"): (3, "investigate"),
        ("ledger_without_psp", "charge"): (3, "investigate"),
        ("internal", "wallet_ledger"): (2, "investigate"),
        ("internal", "order_wallet"): (2, "investigate"),
        ("internal", "order_ledger"): (2, "investigate"),
        ("internal", "ledger_zero_sum"): (3, "investigate"),
        ("internal", "clearing"): (2, "investigate"),
    }
    assert {k: (m.mismatch_class, m.suggested_action) for k, m in found.items()} == expected
    assert found[("fee", "fee_booked")].evidence["psp_fee"] == "0.64"  # 0.59 + 0.05
    assert found[("fee", "fee_booked")].evidence["ledger_amount"] == "0.59"
    assert found[("ledger_without_psp", "fee")].evidence["ledger_key"] == "txn_planted"
    assert found[("ledger_without_psp", "charge")].evidence["ledger_transaction_id"] == str(
        ghost_tx
    )
    assert found[("internal", "wallet_ledger")].evidence["difference"] == "1.00"
    assert found[("internal", "order_wallet")].evidence["payment_order_id"] == orders[1]
    order_ledger = {
        m.evidence["payment_order_id"]: m
        for m in await mesh.queue(run_id=first.run_id, type="internal")
        if m.detail == "order_ledger"
    }
    assert sorted(order_ledger) == sorted(orders[2:])
    # The ledger said it booked orders[2]; orders[3]'s success never reached it.
    assert "dead-letter" not in order_ledger[orders[2]].reason
    assert "dead-letter" in order_ledger[orders[3]].reason
    assert order_ledger[orders[3]].evidence["ledger_updated"] == "false"
    assert found[("internal", "clearing")].evidence["account"] == "psp_receivable"
    assert all(m.status == R.MISMATCH_STATUS_OPEN for m in found.values())

    # A second run finds the same, queues nothing new and books nothing.
    booked = await ledger_transactions(mesh)
    second = await mesh.run()
    assert second.status == R.RUN_STATUS_SUCCEEDED, second.report.error
    assert second.report.new_mismatches == 0 and dict(second.report.fixes) == {}
    assert dict(second.report.mismatched_by_type) == dict(first.report.mismatched_by_type)
    assert await ledger_transactions(mesh) == booked
    assert {m.mismatch_id for m in await mesh.queue(status=R.MISMATCH_STATUS_OPEN)} >= {
        m.mismatch_id for m in found.values()
    }

    # Undone, the books hold again (the planted fee booking and the PSP's new fee are real:
    # `paymesh check` holds with them).
    tamper.execute(
        "UPDATE ledger.entries SET amount = amount - 0.01 WHERE entry_id = %s", (entry_id,)
    )
    tamper.execute(AGED.format(sign="+"))
    tamper.execute(
        "UPDATE ledger.transactions SET payment_order_id = %s WHERE transaction_id = %s",
        (orders[3], lost_tx),
    )
    tamper.execute(UNFLAGGED.format(flag="true", sign="+"), (orders[3],))
    tamper.execute(
        "UPDATE ledger.transactions SET payment_order_id = %s WHERE payment_order_id = 'po_ghost'",
        (orders[2],),
    )
    tamper.execute(
        "UPDATE wallet.wallet_credits SET amount = amount - 2, gross = gross - 2"
        " WHERE payment_order_id = %s",
        (orders[1],),
    )
    tamper.execute(
        "UPDATE wallet.balances SET pending = pending - 1 WHERE seller_account = %s", (seller,)
    )
    await books_hold(mesh)
    assert datetime.now(UTC).date().isoformat() == first.period
