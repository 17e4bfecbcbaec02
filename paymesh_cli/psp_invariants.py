"""The PSP's side of the books (ledger_svc.domain.psp_books), checked in the ledger:

- every transaction on `psp_fees` or `platform_cash` is one of the PSP bookings, balanced
  against `psp_receivable` in two lines (a fee, a fee given back, a payout to the platform, a
  payout reversed), for no order and no refund;
- each PSP balance transaction (or payout) is booked at most once per kind;
- `psp_fees` and `platform_cash` never go below zero (no more given back than was booked);
- with the PSP at hand: every booked fee and payout is the PSP's own figure for that id;
- `psp_receivable` is explained per currency: what orders put in, minus refunds, seller payouts
  (wallet moves), PSP fees and the PSP's payouts to the platform, plus the finance queue's
  write-offs and duplicate charges given back (a charge and its refund net to zero;
  paymesh_cli.suspense_invariants) (`stats.psp_receivable` and
  `stats.psp_receivable_explained`). It nets to zero once the PSP has paid out a day's money
  and its fees are booked; before that it is what the PSP still holds for the platform.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.money import format_amount, from_minor_units
from paymesh_cli.invariants import CheckReport, Violation
from recon_svc.adapters import books_sql

if TYPE_CHECKING:
    from recon_svc.adapters.stripe_reports import PspBalanceFigures

PspFigures = Callable[[], Awaitable["PspBalanceFigures"]]

_SHAPES = (
    "platform_cash:credit,psp_receivable:debit",
    "platform_cash:debit,psp_receivable:credit",
    "psp_fees:credit,psp_receivable:debit",
    "psp_fees:debit,psp_receivable:credit",
)
_BOOKED = "('psp_fees', 'platform_cash')"
# The PSP's id in a booking's description (ledger_svc.domain.psp_books writes them).
_FEE_ID = books_sql.FEE_ID
_PAYOUT_ID = books_sql.PAYOUT_ID


async def check_psp_books(conn: AsyncConnection, report: CheckReport) -> None:
    shapes = ", ".join(f"'{s}'" for s in _SHAPES)
    rows = await conn.execute(
        text(
            "SELECT t.transaction_id, string_agg(e.account || ':' || e.side, ','"
            "  ORDER BY e.account), count(DISTINCT e.amount),"
            "  t.payment_order_id IS NULL AND t.refund_id IS NULL"
            " FROM ledger.transactions t JOIN ledger.entries e USING (transaction_id)"
            " WHERE t.transaction_id IN (SELECT transaction_id FROM ledger.entries"
            f"   WHERE account IN {_BOOKED})"
            " GROUP BY t.transaction_id"
            f" HAVING string_agg(e.account || ':' || e.side, ',' ORDER BY e.account)"
            f"   NOT IN ({shapes}) OR count(DISTINCT e.amount) <> 1"
            "   OR t.payment_order_id IS NOT NULL OR t.refund_id IS NOT NULL LIMIT 20"
        )
    )
    for transaction_id, lines, _, _ in rows:
        report.violations.append(
            Violation(
                "psp_booking_shape",
                f"transaction {transaction_id} on psp_fees/platform_cash has lines {lines}",
            )
        )
    for kind, psp_id, n in await conn.execute(
        text(
            "SELECT kind, psp_id, count(*) FROM ("
            f"  SELECT substring(description FROM {_FEE_ID}) AS psp_id,"
            "         'fee' AS kind FROM ledger.transactions"
            "  UNION ALL"
            f"  SELECT substring(description FROM {_PAYOUT_ID}),"
            "         'payout' FROM ledger.transactions) booked"
            " WHERE psp_id IS NOT NULL GROUP BY kind, psp_id HAVING count(*) > 1 LIMIT 20"
        )
    ):
        report.violations.append(
            Violation("psp_booked_once", f"the PSP's {psp_id} has {n} {kind} bookings")
        )
    for account, currency, debits, credits in await conn.execute(
        text(
            "SELECT account, currency, debits, credits FROM ledger.account_balances"
            f" WHERE account IN {_BOOKED} AND debits < credits"
        )
    ):
        report.violations.append(
            Violation(
                "psp_books_not_negative",
                f"{account} {currency}: debits {debits} < credits {credits}",
            )
        )
    await _explain_receivable(conn, report)


async def _explain_receivable(conn: AsyncConnection, report: CheckReport) -> None:
    balances: dict[str, str] = {}
    explained: dict[str, dict[str, str]] = {}
    for currency, source, amount in await conn.execute(
        text(
            "SELECT e.currency,"
            "  CASE WHEN t.payment_order_id IS NOT NULL THEN 'orders'"
            "       WHEN t.refund_id IS NOT NULL THEN 'refunds'"
            "       WHEN t.description LIKE 'PSP fee of %' THEN 'psp_fees'"
            "       WHEN t.description LIKE 'PSP payout%' THEN 'psp_payouts'"
            "       WHEN t.description LIKE 'Recon write-off of mismatch %' THEN 'write_offs'"
            "       WHEN t.description LIKE 'Duplicate charge %'"
            "         OR t.description LIKE 'Refund of duplicate charge %'"
            "         THEN 'duplicate_charges'"
            "       ELSE 'seller_payouts' END,"
            "  sum(CASE e.side WHEN 'debit' THEN e.amount ELSE -e.amount END)"
            " FROM ledger.entries e JOIN ledger.transactions t USING (transaction_id)"
            " WHERE e.account = 'psp_receivable' GROUP BY 1, 2 ORDER BY 1, 2"
        )
    ):
        explained.setdefault(currency, {})[source] = format_amount(amount, currency)
    for currency, debits, credits in await conn.execute(
        text(
            "SELECT currency, debits, credits FROM ledger.account_balances"
            " WHERE account = 'psp_receivable' ORDER BY currency"
        )
    ):
        balances[currency] = format_amount(debits - credits, currency)
    report.stats["psp_receivable"] = balances
    report.stats["psp_receivable_explained"] = explained


async def check_psp_books_at_psp(
    conn: AsyncConnection, report: CheckReport, figures_at_psp: PspFigures
) -> None:
    """Every fee and payout booked from the PSP's report is what the PSP says for that id."""
    figures = await figures_at_psp()
    booked = await conn.execute(
        text(
            "SELECT CASE WHEN t.description LIKE 'PSP fee of %' THEN 'fee' ELSE 'payout' END,"
            f"  coalesce(substring(t.description FROM {_FEE_ID}),"
            f"           substring(t.description FROM {_PAYOUT_ID})),"
            "  e.currency,"
            "  sum(CASE e.side WHEN 'debit' THEN e.amount ELSE -e.amount END)"
            " FROM ledger.transactions t JOIN ledger.entries e USING (transaction_id)"
            " WHERE e.account IN ('psp_fees', 'platform_cash')"
            " GROUP BY 1, 2, 3"
        )
    )
    checked = 0
    for kind, psp_id, currency, amount in booked:
        theirs = (figures.fees if kind == "fee" else figures.payouts).get(psp_id)
        expected = (
            from_minor_units(theirs[0], theirs[1]) if theirs and theirs[1] == currency else None
        )
        checked += 1
        if expected is None or Decimal(amount) != expected:
            said = "nothing" if theirs is None else f"{expected} {theirs[1]}"
            report.violations.append(
                Violation(
                    "psp_booking_matches_psp",
                    f"{kind} of {psp_id}: booked {format_amount(amount, currency)} {currency},"
                    f" the PSP says {said}",
                )
            )
    report.stats["psp_bookings_checked_at_psp"] = checked
