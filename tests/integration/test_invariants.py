"""`paymesh check` must catch every kind of broken money it claims to check. Each case books one
good order the way the services do, breaks the books in one way, and expects that violation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest

from ledger_svc.domain import Seal, chain_of, transaction_digest
from mesh.migrations import upgrade_all
from paymesh_cli.invariants import run_checks

# These tests break the books on purpose; the after-test invariant check would rightly fail.
pytestmark = pytest.mark.breaks_invariants

GOOD_ORDER = """
INSERT INTO payment.payment_events (checkout_id, buyer_id, payment_method, created_at)
VALUES ('{co}', 'b1', 'pm_card_visa', now());
INSERT INTO payment.payment_orders (created_at, updated_at, payment_order_id, checkout_id,
    position, seller_account, amount, currency, fee_amount, status, wallet_updated,
    ledger_updated, psp_reference)
VALUES (now(), now(), '{po}', '{co}', 0, 's1', 100, 'USD', 10, 'SUCCESS', true, true, 'pi_{po}');
INSERT INTO wallet.wallet_credits (payment_order_id, event_id, seller_account, currency, gross,
    fee, amount) VALUES ('{po}', '{ev}', 's1', 'USD', 100, 10, 90);
INSERT INTO wallet.balances (seller_account, currency, pending) VALUES ('s1', 'USD', 90)
    ON CONFLICT (seller_account, currency) DO UPDATE SET pending = balances.pending + 90;
INSERT INTO ledger.account_balances (account, currency, debits, credits) VALUES
    ('psp_receivable', 'USD', 100, 0), ('seller_payable:s1', 'USD', 0, 90),
    ('platform_fee_revenue', 'USD', 0, 10)
    ON CONFLICT (account, currency) DO UPDATE SET debits = account_balances.debits
    + excluded.debits, credits = account_balances.credits + excluded.credits;
"""

FAILED_ORDER = """
INSERT INTO payment.payment_events (checkout_id, buyer_id, payment_method, created_at)
VALUES ('co-f', 'b1', 'pm_card_chargeDeclined', now());
INSERT INTO payment.payment_orders (created_at, updated_at, payment_order_id, checkout_id,
    position, seller_account, amount, currency, fee_amount, status, failure_reason)
VALUES (now(), now(), 'po-f', 'co-f', 0, 's1', 50, 'USD', 5, 'FAILED', 'generic_decline');
"""


def add_order(cur, po, status, amount, fee, *, seller="s1", flags=False, position=9):
    """An order of checkout co-0 in `status`, as payment_svc would have stored it."""
    cur.execute(
        "INSERT INTO payment.payment_orders (payment_order_id, checkout_id, position,"
        " seller_account, amount, currency, fee_amount, status, wallet_updated, ledger_updated,"
        " psp_reference, created_at, updated_at)"
        " VALUES (%s, 'co-0', %s, %s, %s, 'USD', %s, %s, %s, %s, %s, now(), now())",
        (po, position, seller, amount, fee, status, flags, flags, f"pi_{po}"),
    )


# A ledger transaction linked into its hash chain as the ledger service links it.
LINKED_TRANSACTION = """
WITH head AS (SELECT seq, hash FROM ledger.chain_heads WHERE chain = %(chain)s FOR UPDATE),
txn AS (
    INSERT INTO ledger.transactions (transaction_id, payment_order_id, refund_id, description,
        posted_at, chain, seq, hash)
    SELECT %(tx)s, %(po)s, %(rf)s, %(description)s, %(posted_at)s, %(chain)s, head.seq + 1,
        sha256(head.hash || %(digest)s) FROM head
    RETURNING seq, hash)
UPDATE ledger.chain_heads SET seq = txn.seq, hash = txn.hash FROM txn WHERE chain = %(chain)s
"""


def post_ledger(cur, tx, description, lines, *, po=None, rf=None) -> None:
    """Post one ledger transaction (lines: account, side, amount, currency), chained."""
    lines = [(a, side, Decimal(str(amount)), c) for a, side, amount, c in lines]
    now = datetime.now(UTC)
    seal = Seal(chain_of(tx), now, transaction_digest(tx, po, rf, description, now, lines))
    cur.execute(
        LINKED_TRANSACTION,
        {
            "tx": tx,
            "po": po,
            "rf": rf,
            "description": description,
            "posted_at": now,
            "chain": seal.chain,
            "digest": seal.digest,
        },
    )
    cur.execute(
        "INSERT INTO ledger.entries (transaction_id, account, side, amount, currency)"
        " SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::numeric[], %s::text[])",
        (tx, *(list(column) for column in zip(*lines, strict=True))),
    )


def book_good_order(cur: psycopg.Cursor, n: int = 1) -> None:
    for i in range(n):
        po = f"po-{i}"
        cur.execute(GOOD_ORDER.format(co=f"co-{i}", po=po, ev=uuid.uuid4()))
        post_ledger(
            cur,
            str(uuid.uuid4()),
            f"payment order {po}",
            [
                ("psp_receivable", "debit", 100, "USD"),
                ("seller_payable:s1", "credit", 90, "USD"),
                ("platform_fee_revenue", "credit", 10, "USD"),
            ],
            po=po,
        )


async def charges_once() -> dict[str, int]:
    return {"po-0": 1}


def run(url: str, charges=charges_once):
    return asyncio.run(run_checks(url, charges))


@pytest.fixture
def books(database_url):
    upgrade_all(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn, conn.cursor() as cur:
        book_good_order(cur)
        yield database_url, cur


def invariants(report) -> set[str]:
    return {v.invariant for v in report.violations}


def test_good_books_pass(books):
    url, _ = books
    report = run(url)
    assert report.ok, report.violations
    assert report.stats["orders_by_status"] == {"SUCCESS": 1}


def test_a_wallet_that_differs_from_the_ledger(books):
    url, cur = books
    cur.execute("UPDATE wallet.balances SET pending = pending + 0.01")
    assert invariants(run(url)) == {"wallet_equals_ledger"}


def test_a_balance_row_that_drifted_from_its_entries(books):
    url, cur = books
    cur.execute(
        "UPDATE ledger.account_balances SET credits = credits + 1"
        " WHERE account = 'platform_fee_revenue'"
    )
    assert "ledger_balance_rows" in invariants(run(url))


def test_a_ledger_entry_changed_behind_the_append_only_trigger(books):
    url, cur = books
    # Still balanced, balance rows adjusted too: only the hash chain tells.
    cur.execute("ALTER TABLE ledger.entries DISABLE TRIGGER entries_append_only")
    cur.execute(
        "UPDATE ledger.entries SET account = 'seller_payable:s9'"
        " WHERE account = 'seller_payable:s1'"
    )
    cur.execute("ALTER TABLE ledger.entries ENABLE TRIGGER entries_append_only")
    cur.execute(
        "UPDATE ledger.account_balances SET account = 'seller_payable:s9'"
        " WHERE account = 'seller_payable:s1'"
    )
    found = invariants(run(url))
    assert "ledger_chain" in found
    assert "ledger_balanced" not in found and "ledger_balance_rows" not in found


def test_a_credit_for_an_order_that_failed(books):
    url, cur = books
    cur.execute(FAILED_ORDER)
    cur.execute(
        "INSERT INTO wallet.wallet_credits (payment_order_id, event_id, seller_account, currency,"
        " gross, fee, amount) VALUES ('po-f', %s, 's1', 'USD', 50, 5, 45)",
        (str(uuid.uuid4()),),
    )
    assert "one_wallet_credit_per_success" in invariants(run(url))


def test_a_ledger_transaction_for_an_order_that_failed(books):
    url, cur = books
    cur.execute(FAILED_ORDER)
    post_ledger(
        cur,
        str(uuid.uuid4()),
        "wrong",
        [("psp_receivable", "debit", 50, "USD"), ("platform_fee_revenue", "credit", 50, "USD")],
        po="po-f",
    )
    assert "one_ledger_transaction_per_success" in invariants(run(url))


def test_a_successful_order_that_was_never_booked(books):
    url, cur = books
    add_order(cur, "po-x", "SUCCESS", 20, 2, seller="s2", flags=True)

    async def charges():
        return {"po-0": 1, "po-x": 1}

    found = invariants(run(url, charges))
    assert {"one_wallet_credit_per_success", "one_ledger_transaction_per_success"} <= found


def test_a_ledger_posting_for_another_amount_than_charged(books):
    url, cur = books
    add_order(cur, "po-y", "SUCCESS", 30, 3, seller="s3")
    post_ledger(
        cur,
        str(uuid.uuid4()),
        "short",
        [("psp_receivable", "debit", 29, "USD"), ("platform_fee_revenue", "credit", 29, "USD")],
        po="po-y",
    )

    async def charges():
        return {"po-0": 1, "po-y": 1}

    assert "ledger_amount" in invariants(run(url, charges))


@pytest.mark.parametrize(
    ("charges", "expected"),
    [
        ({"po-0": 2}, "charged_at_most_once"),
        ({"po-0": 1, "po-f": 1}, "charge_without_success"),
        ({}, "success_without_charge"),
    ],
)
def test_psp_charges_that_do_not_match_the_orders(books, charges, expected):
    url, cur = books
    cur.execute(FAILED_ORDER)

    async def at_psp():
        return charges

    assert expected in invariants(run(url, at_psp))


def test_orders_in_flight_are_waited_for_not_reported(books):
    url, cur = books
    add_order(cur, "po-e", "EXECUTING", 5, "0.5")
    report = run(url)
    assert report.ok and report.stats["orders_in_flight"] == 1


# --- refunds ------------------------------------------------------------------------------

GOOD_REFUND = """
INSERT INTO payment.refunds (refund_id, payment_order_id, seller_account, amount, fee_refunded,
    currency, status, psp_reference, created_at, updated_at)
VALUES ('{rf}', 'po-0', 's1', {amount}, {fee}, 'USD', 'SUCCEEDED', 're_{rf}', now(), now());
INSERT INTO wallet.wallet_refund_debits (refund_id, event_id, payment_order_id, seller_account,
    currency, gross, fee_refunded, amount, from_pending, from_available)
VALUES ('{rf}', '{ev}', 'po-0', 's1', 'USD', {amount}, {fee}, {amount} - {fee},
    {amount} - {fee}, 0);
UPDATE wallet.balances SET pending = pending - ({amount} - {fee}) WHERE seller_account = 's1';
UPDATE ledger.account_balances SET debits = debits + ({amount} - {fee})
    WHERE account = 'seller_payable:s1';
UPDATE ledger.account_balances SET debits = debits + {fee}
    WHERE account = 'platform_fee_revenue';
UPDATE ledger.account_balances SET credits = credits + {amount} WHERE account = 'psp_receivable';
"""


def book_refund(cur, rf: str = "rf-1", amount: str = "30", fee: str = "3") -> None:
    cur.execute(GOOD_REFUND.format(rf=rf, amount=amount, fee=fee, ev=uuid.uuid4()))
    gross, fee_back = Decimal(amount), Decimal(fee)
    post_ledger(
        cur,
        str(uuid.uuid4()),
        f"refund {rf}",
        [
            ("seller_payable:s1", "debit", gross - fee_back, "USD"),
            ("platform_fee_revenue", "debit", fee_back, "USD"),
            ("psp_receivable", "credit", gross, "USD"),
        ],
        rf=rf,
    )


def psp_refunds(**held):
    async def at_psp():
        return held

    return at_psp


def run_with_refunds(url: str, at_psp=None):
    return asyncio.run(
        run_checks(
            url,
            charges_once,
            refunds_at_psp=at_psp or psp_refunds(**{"rf-1": [("succeeded", 3000, "USD")]}),
        )
    )


def test_good_refunds_pass(books):
    url, cur = books
    book_refund(cur)
    report = run_with_refunds(url)
    assert report.ok, report.violations
    assert report.stats["refunds_by_status"] == {"SUCCEEDED": 1}


def test_refunds_beyond_their_order(books):
    url, cur = books
    book_refund(cur)
    # Past the trigger that refuses it, as a bug in some other writer could be.
    cur.execute("ALTER TABLE payment.refunds DISABLE TRIGGER refunds_within_order_amount")
    cur.execute(
        "INSERT INTO payment.refunds (refund_id, payment_order_id, seller_account, amount,"
        " fee_refunded, currency, status, created_at, updated_at)"
        " VALUES ('rf-2', 'po-0', 's1', 80, 8, 'USD', 'PENDING', now(), now())"
    )
    assert "refunds_within_order" in invariants(run_with_refunds(url))


def test_a_refund_never_taken_from_the_wallet(books):
    url, cur = books
    book_refund(cur)
    cur.execute("DELETE FROM wallet.wallet_refund_debits")
    cur.execute("UPDATE wallet.balances SET pending = pending + 27")
    # wallet_equals_ledger too: the ledger was reversed, the wallet not.
    assert "one_wallet_debit_per_refund" in invariants(run_with_refunds(url))


def test_a_wallet_debit_for_a_refund_that_failed(books):
    url, cur = books
    cur.execute(
        "INSERT INTO payment.refunds (refund_id, payment_order_id, seller_account, amount,"
        " fee_refunded, currency, status, failure_reason, created_at, updated_at)"
        " VALUES ('rf-f', 'po-0', 's1', 10, 1, 'USD', 'FAILED', 'declined', now(), now())"
    )
    cur.execute(
        "INSERT INTO wallet.wallet_refund_debits (refund_id, event_id, payment_order_id,"
        " seller_account, currency, gross, fee_refunded, amount, from_pending, from_available)"
        " VALUES ('rf-f', %s, 'po-0', 's1', 'USD', 10, 1, 9, 9, 0)",
        (str(uuid.uuid4()),),
    )
    assert "one_wallet_debit_per_refund" in invariants(run_with_refunds(url, psp_refunds()))


def test_a_refund_reversed_twice_in_the_ledger(books):
    url, cur = books
    book_refund(cur)
    post_ledger(
        cur,
        str(uuid.uuid4()),
        "again",
        [("platform_fee_revenue", "debit", 30, "USD"), ("psp_receivable", "credit", 30, "USD")],
        rf="rf-1-again",
    )
    assert "one_ledger_reversal_per_refund" in invariants(run_with_refunds(url))


@pytest.mark.parametrize(
    ("at_psp", "expected"),
    [
        ({}, "refund_matches_psp"),  # we say SUCCEEDED, the PSP never refunded
        ({"rf-1": [("succeeded", 2999, "USD")]}, "refund_matches_psp"),  # another amount
        ({"rf-1": [("succeeded", 3000, "USD")] * 2}, "refund_matches_psp"),  # refunded twice
        (
            {"rf-1": [("succeeded", 3000, "USD")], "rf-ghost": [("succeeded", 500, "USD")]},
            "psp_refund_without_ours",
        ),
    ],
)
def test_psp_refunds_that_do_not_match_ours(books, at_psp, expected):
    url, cur = books
    book_refund(cur)
    assert invariants(run_with_refunds(url, psp_refunds(**at_psp))) == {expected}


def test_refunds_in_flight_are_waited_for_not_reported(books):
    url, cur = books
    cur.execute(
        "INSERT INTO payment.refunds (refund_id, payment_order_id, seller_account, amount,"
        " fee_refunded, currency, status, created_at, updated_at)"
        " VALUES ('rf-p', 'po-0', 's1', 10, 1, 'USD', 'PENDING', now(), now())"
    )
    report = run_with_refunds(url, psp_refunds())
    assert report.ok and report.stats["refunds_in_flight"] == 1
