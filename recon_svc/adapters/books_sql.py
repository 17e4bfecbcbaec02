"""The SQL of the comparisons between paymesh's own books, written once for both callers:
`paymesh check` (paymesh_cli.invariants, over the whole history, a few rows per violation) and a
reconciliation run (recon_svc.adapters.pg_books, over a period, every row). Plain SQL text with
no bind parameters, so SQLAlchemy's `text()` and psycopg run it alike; a caller narrows a query
with a condition it builds itself from literals it quoted.

Reads the ledger, wallet and payment schemas (recon's runtime role may: mesh.db_roles
.CROSS_SCHEMA_READS).
"""

from __future__ import annotations

# Each wallet bucket and the ledger account that mirrors it (README, "Pay-out"): `debt` is an
# asset (debit-normal), the others are what the marketplace owes (credit-normal).
BUCKET_ACCOUNTS = (
    ("pending", "seller_payable", "credits - debits"),
    ("available", "seller_payable_available", "credits - debits"),
    ("reserved", "seller_payable_reserved", "credits - debits"),
    ("debt", "seller_debt", "debits - credits"),
)

# currency, debits, credits: the ledger's zero sum per currency.
LEDGER_TOTALS = (
    "SELECT currency, coalesce(sum(amount) FILTER (WHERE side = 'debit'), 0),"
    " coalesce(sum(amount) FILTER (WHERE side = 'credit'), 0)"
    " FROM ledger.entries GROUP BY currency ORDER BY currency"
)


def unbalanced_transactions(limit: int | None = 20) -> str:
    """transaction_id, currency, debits, credits of each transaction whose lines do not sum
    to zero."""
    return (
        "SELECT transaction_id, currency,"
        " coalesce(sum(amount) FILTER (WHERE side = 'debit'), 0),"
        " coalesce(sum(amount) FILTER (WHERE side = 'credit'), 0)"
        " FROM ledger.entries GROUP BY 1, 2"
        " HAVING sum(CASE WHEN side = 'debit' THEN amount ELSE -amount END) <> 0" + _limit(limit)
    )


def wallet_vs_ledger(bucket_column: str, family: str, on_normal_side: str) -> str:
    """seller_account, currency, wallet amount, ledger amount of every seller and currency of
    one bucket (`bucket_column` is the wallet's column, or `0` before it existed)."""
    return (
        f"WITH w AS (SELECT seller_account, currency, {bucket_column} AS amount"
        "  FROM wallet.balances),"
        f" l AS (SELECT substr(account, length('{family}:') + 1) AS seller_account,"
        f"  currency, {on_normal_side} AS amount FROM ledger.account_balances"
        f"  WHERE starts_with(account, '{family}:'))"
        " SELECT coalesce(w.seller_account, l.seller_account),"
        "  coalesce(w.currency, l.currency), coalesce(w.amount, 0), coalesce(l.amount, 0)"
        " FROM w FULL JOIN l ON w.seller_account = l.seller_account"
        "  AND w.currency = l.currency"
    )


HAS_DEBT_BUCKET = (
    "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema ="
    " 'wallet' AND table_name = 'balances' AND column_name = 'debt')"
)

# The orders `paymesh check` holds to their books: SUCCESS and flagged as booked by that side.
FLAGGED_WALLET = "o.status = 'SUCCESS' AND o.wallet_updated"
FLAGGED_LEDGER = "o.status = 'SUCCESS' AND o.ledger_updated"


def orders_vs_wallet(
    orders: str = FLAGGED_WALLET, limit: int | None = 20, orphans: bool = True
) -> str:
    """payment_order_id, status, credits, credited, expected (amount - platform fee), currency,
    wallet_updated of each order of `orders` (a condition on `o`) that has not exactly one
    wallet credit of its net amount; with `orphans`, also each credit of an order that is
    missing or not SUCCESS."""
    also = " OR c.payment_order_id IS NOT NULL" if orphans else ""
    return (
        "SELECT o.payment_order_id, coalesce(o.status, 'MISSING'), count(c.*),"
        "  coalesce(sum(c.amount), 0), o.amount - o.fee_amount, o.currency,"
        "  coalesce(o.wallet_updated, false)"
        " FROM wallet.wallet_credits c"
        " FULL JOIN payment.payment_orders o ON o.payment_order_id = c.payment_order_id"
        f" WHERE ({orders}){also}"
        " GROUP BY o.payment_order_id, o.status, o.amount, o.fee_amount, o.currency,"
        "  o.wallet_updated"
        " HAVING count(c.*) <> 1 OR coalesce(o.status, 'MISSING') <> 'SUCCESS'"
        "  OR coalesce(sum(c.amount), 0) <> o.amount - o.fee_amount" + _limit(limit)
    )


def orders_vs_ledger(
    orders: str = FLAGGED_LEDGER, limit: int | None = 20, orphans: bool = True
) -> str:
    """payment_order_id, status, transactions, debits, amount, currency, ledger_updated of each
    order of `orders` that has not exactly one ledger transaction debiting its amount; with
    `orphans`, also each ledger transaction of an order that is missing or not SUCCESS."""
    also = " OR t.payment_order_id IS NOT NULL" if orphans else ""
    # Without orphans only the orders of `orders` are looked up: the aggregate reads their
    # transactions, not the whole ledger's.
    scope = (
        "" if orphans
        else f" AND t.payment_order_id IN (SELECT o.payment_order_id FROM payment.payment_orders o"
        f" WHERE {orders})"
    )  # fmt: skip
    return (
        "WITH t AS (SELECT t.payment_order_id, sum(e.amount) AS debits"
        "  FROM ledger.transactions t JOIN ledger.entries e"
        "   ON e.transaction_id = t.transaction_id AND e.side = 'debit'"
        f"  WHERE t.payment_order_id IS NOT NULL{scope}"
        "  GROUP BY t.transaction_id, t.payment_order_id)"
        " SELECT coalesce(o.payment_order_id, t.payment_order_id),"
        "  coalesce(o.status, 'MISSING'), count(t.*), coalesce(sum(t.debits), 0),"
        "  coalesce(o.amount, 0), coalesce(o.currency, ''), coalesce(o.ledger_updated, false)"
        " FROM t FULL JOIN payment.payment_orders o ON o.payment_order_id = t.payment_order_id"
        f" WHERE ({orders}){also}"
        " GROUP BY 1, 2, o.amount, o.currency, o.ledger_updated"
        " HAVING count(t.*) <> 1 OR coalesce(o.status, 'MISSING') <> 'SUCCESS'"
        "  OR coalesce(sum(t.debits), 0) <> o.amount" + _limit(limit)
    )


# What a ledger transaction on a PSP account is: its kind and the id it shares with the PSP's
# report (ledger_svc.domain.psp_books writes the PSP's id into the description of a booking).
FEE_ID = "'^PSP fee of ([A-Za-z0-9_]+) '"
PAYOUT_ID = "'^PSP payout(?: reversal)? ([A-Za-z0-9_]+) '"
# The finance queue's bookings of a duplicate charge given back (ledger_svc.domain.recon_books):
# the PSP's charge id, and the PSP's refund id.
DUPLICATE_CHARGE_ID = "'^Duplicate charge ([A-Za-z0-9_]+) '"
DUPLICATE_REFUND_ID = "'^Refund of duplicate charge [A-Za-z0-9_]+ by ([A-Za-z0-9_]+) '"
PSP_ACCOUNTS = "('psp_receivable', 'psp_fees', 'platform_cash')"


def psp_side_postings(charges_and_refunds: str, bookings: str) -> str:
    """transaction_id, kind (charge, refund, fee, payout, duplicate_charge, duplicate_refund),
    key (order id, refund id, the PSP's id), amount (positive: what the PSP side moved),
    currency, posted_at of the ledger transactions on a PSP account: pay-ins and refunds posted
    where `charges_and_refunds` holds (a condition on `t`), the bookings made from the PSP's
    report or a finance decision where `bookings` holds. Seller payouts (wallet moves paid out
    of `psp_receivable`) are compared with the payout provider, and write-offs are the
    difference with the PSP by definition: both are left out."""
    return (
        "SELECT transaction_id, kind, key, amount, currency, posted_at FROM ("
        " SELECT t.transaction_id,"
        "  CASE WHEN t.payment_order_id IS NOT NULL THEN 'charge'"
        "       WHEN t.refund_id IS NOT NULL THEN 'refund'"
        "       WHEN t.description LIKE 'PSP fee of %' THEN 'fee'"
        "       WHEN t.description LIKE 'PSP payout%' THEN 'payout'"
        "       WHEN t.description LIKE 'Duplicate charge %' THEN 'duplicate_charge'"
        "       WHEN t.description LIKE 'Refund of duplicate charge %'"
        "        THEN 'duplicate_refund' END AS kind,"
        "  coalesce(t.payment_order_id, t.refund_id,"
        f"   substring(t.description FROM {FEE_ID}),"
        f"   substring(t.description FROM {PAYOUT_ID}),"
        f"   substring(t.description FROM {DUPLICATE_CHARGE_ID}),"
        f"   substring(t.description FROM {DUPLICATE_REFUND_ID})) AS key,"
        "  abs(sum(CASE WHEN e.account = 'psp_receivable' AND e.side = 'debit' THEN e.amount"
        "               WHEN e.account = 'psp_receivable' THEN -e.amount ELSE 0 END)) AS amount,"
        "  min(e.currency) AS currency, t.posted_at"
        " FROM ledger.transactions t JOIN ledger.entries e USING (transaction_id)"
        f" WHERE ((t.payment_order_id IS NOT NULL OR t.refund_id IS NOT NULL)"
        f"        AND ({charges_and_refunds}))"
        "    OR ((t.description LIKE 'PSP %' OR t.description LIKE 'Duplicate charge %'"
        f"         OR t.description LIKE 'Refund of duplicate charge %') AND ({bookings}))"
        " GROUP BY t.transaction_id, t.payment_order_id, t.refund_id, t.description,"
        "  t.posted_at"
        f" HAVING bool_or(e.account IN {PSP_ACCOUNTS})) p WHERE kind IS NOT NULL"
    )


def clearing_balances(since: str) -> str:
    """account, currency, balance (debits - credits) and the debits posted since `since` (a
    timestamp literal) of `psp_receivable`, the clearing account between the PSP and the
    platform."""
    return (
        "SELECT b.account, b.currency, b.debits - b.credits,"
        "  coalesce((SELECT sum(e.amount) FROM ledger.entries e"
        "   JOIN ledger.transactions t USING (transaction_id)"
        "   WHERE e.account = b.account AND e.currency = b.currency AND e.side = 'debit'"
        f"    AND t.posted_at >= {since}), 0)"
        " FROM ledger.account_balances b WHERE b.account = 'psp_receivable'"
        " ORDER BY b.currency"
    )


def _limit(limit: int | None) -> str:
    return f" LIMIT {int(limit)}" if limit is not None else ""
