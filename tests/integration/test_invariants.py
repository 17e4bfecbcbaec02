"""`paymesh check` must catch every kind of broken money it claims to check. Each case books one
good order the way the services do, breaks the books in one way, and expects that violation."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

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
INSERT INTO ledger.transactions (transaction_id, payment_order_id, description)
VALUES ('{tx}', '{po}', 'payment order {po}');
INSERT INTO ledger.entries (transaction_id, account, side, amount, currency) VALUES
    ('{tx}', 'psp_receivable', 'debit', 100, 'USD'),
    ('{tx}', 'seller_payable:s1', 'credit', 90, 'USD'),
    ('{tx}', 'platform_fee_revenue', 'credit', 10, 'USD');
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


def book_good_order(cur: psycopg.Cursor, n: int = 1) -> None:
    for i in range(n):
        cur.execute(GOOD_ORDER.format(co=f"co-{i}", po=f"po-{i}", ev=uuid.uuid4(), tx=uuid.uuid4()))


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
    tx = str(uuid.uuid4())
    cur.execute(
        "INSERT INTO ledger.transactions (transaction_id, payment_order_id, description)"
        " VALUES (%s, 'po-f', 'wrong')",
        (tx,),
    )
    cur.execute(
        "INSERT INTO ledger.entries (transaction_id, account, side, amount, currency) VALUES"
        " (%s, 'psp_receivable', 'debit', 50, 'USD'), (%s, 'platform_fee_revenue', 'credit', 50,"
        " 'USD')",
        (tx, tx),
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
    tx = str(uuid.uuid4())
    add_order(cur, "po-y", "SUCCESS", 30, 3, seller="s3")
    cur.execute(
        "INSERT INTO ledger.transactions (transaction_id, payment_order_id, description)"
        " VALUES (%s, 'po-y', 'short')",
        (tx,),
    )
    cur.execute(
        "INSERT INTO ledger.entries (transaction_id, account, side, amount, currency) VALUES"
        " (%s, 'psp_receivable', 'debit', 29, 'USD'), (%s, 'platform_fee_revenue', 'credit', 29,"
        " 'USD')",
        (tx, tx),
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
