"""The money invariants of refunds, checked on the databases of a stack (and its PSP):

- the refunds of an order that are not FAILED never exceed its amount, nor their fees its fee,
  and only SUCCESS orders have any; an order refunded in full gave back exactly its fee;
- every SUCCEEDED refund has exactly one wallet debit of amount - fee_refunded and exactly one
  ledger reversal crediting `psp_receivable` the amount, and no other refund has either;
- the PSP's refunds match ours: each SUCCEEDED refund is refunded there once, for its amount,
  and nothing is refunded there for a refund we hold FAILED or do not know.

Refunds still on their way (PENDING, or SUCCEEDED with wallet or ledger not yet applied) are
counted by `refunds_in_flight`, for the caller to wait for them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.money import InvalidMoney
from payment_svc.adapters.stripe_currencies import StripeAmountRefused, charge_minor_units
from paymesh_cli.invariants import CheckReport, Violation
from paymesh_cli.suspense_invariants import booked_duplicate_refunds

# refund id -> [(status, amount in minor units, currency)], as the PSP holds them.
RefundsAtPsp = Callable[[], Awaitable[dict[str, list[tuple[str, int, str]]]]]


async def _rows(conn: AsyncConnection, sql: str) -> list:  # type: ignore[type-arg]
    return list((await conn.execute(text(sql))).all())


async def has_refunds(conn: AsyncConnection) -> bool:
    return bool(await conn.scalar(text("SELECT to_regclass('payment.refunds') IS NOT NULL")))


async def _has(conn: AsyncConnection, table: str) -> bool:
    return bool(await conn.scalar(text(f"SELECT to_regclass('{table}') IS NOT NULL")))


async def refunds_in_flight(conn: AsyncConnection, report: CheckReport, schemas: set[str]) -> int:
    """Counts refunds by status; returns how many are still on their way."""
    by_status = dict(await _rows(conn, "SELECT status, count(*) FROM payment.refunds GROUP BY 1"))
    report.stats["refunds_by_status"] = {str(k): v for k, v in sorted(by_status.items())}
    waiting = ["r.status = 'PENDING'"]
    if "wallet" in schemas and await _has(conn, "wallet.wallet_refund_debits"):
        waiting.append(
            "(r.status = 'SUCCEEDED' AND NOT EXISTS (SELECT 1 FROM wallet.wallet_refund_debits d"
            " WHERE d.refund_id = r.refund_id))"
        )
    if "ledger" in schemas:
        waiting.append(
            "(r.status = 'SUCCEEDED' AND NOT EXISTS (SELECT 1 FROM ledger.transactions t"
            " WHERE t.refund_id = r.refund_id))"
        )
    count = await conn.scalar(
        text(f"SELECT count(*) FROM payment.refunds r WHERE {' OR '.join(waiting)}")
    )
    report.stats["refunds_in_flight"] = int(count or 0)
    return int(count or 0)


async def check_refund_limits(conn: AsyncConnection, report: CheckReport) -> None:
    for oid, status, amount, fee, refunded, fee_refunded in await _rows(
        conn,
        "SELECT o.payment_order_id, o.status, o.amount, o.fee_amount, sum(r.amount),"
        "  sum(r.fee_refunded)"
        " FROM payment.refunds r JOIN payment.payment_orders o USING (payment_order_id)"
        " WHERE r.status <> 'FAILED'"
        " GROUP BY o.payment_order_id, o.status, o.amount, o.fee_amount"
        " HAVING sum(r.amount) > o.amount OR sum(r.fee_refunded) > o.fee_amount"
        "  OR o.status <> 'SUCCESS'"
        "  OR (sum(r.amount) = o.amount AND sum(r.fee_refunded) <> o.fee_amount) LIMIT 20",
    ):
        report.violations.append(
            Violation(
                "refunds_within_order",
                f"order {oid} ({status}, {amount}, fee {fee}): refunds not failed total"
                f" {refunded}, fee {fee_refunded}",
            )
        )


async def check_refund_effects(
    conn: AsyncConnection, report: CheckReport, schemas: set[str]
) -> None:
    if "wallet" in schemas and await _has(conn, "wallet.wallet_refund_debits"):
        for rid, status, n, debited, expected in await _rows(
            conn,
            "SELECT coalesce(r.refund_id, d.refund_id), coalesce(r.status, 'MISSING'),"
            "  count(d.*), coalesce(sum(d.amount), 0), r.amount - r.fee_refunded"
            " FROM wallet.wallet_refund_debits d"
            " FULL JOIN payment.refunds r ON r.refund_id = d.refund_id"
            " WHERE r.status = 'SUCCEEDED' OR d.refund_id IS NOT NULL"
            " GROUP BY 1, 2, r.amount, r.fee_refunded"
            " HAVING count(d.*) <> 1 OR coalesce(r.status, 'MISSING') <> 'SUCCEEDED'"
            "  OR coalesce(sum(d.amount), 0) <> r.amount - r.fee_refunded LIMIT 20",
        ):
            report.violations.append(
                Violation(
                    "one_wallet_debit_per_refund",
                    f"refund {rid} ({status}): {n} wallet debits totalling {debited}, expected"
                    f" one of {expected}",
                )
            )
    if "ledger" in schemas:
        for rid, status, n, credited, expected in await _rows(
            conn,
            "SELECT coalesce(r.refund_id, t.refund_id), coalesce(r.status, 'MISSING'),"
            "  count(DISTINCT t.transaction_id), coalesce(sum(e.amount), 0), r.amount"
            " FROM (SELECT * FROM ledger.transactions WHERE refund_id IS NOT NULL) t"
            " LEFT JOIN ledger.entries e ON e.transaction_id = t.transaction_id"
            "  AND e.account = 'psp_receivable' AND e.side = 'credit'"
            " FULL JOIN payment.refunds r ON r.refund_id = t.refund_id"
            " WHERE r.status = 'SUCCEEDED' OR t.refund_id IS NOT NULL"
            " GROUP BY 1, 2, r.amount"
            " HAVING count(DISTINCT t.transaction_id) <> 1"
            "  OR coalesce(r.status, 'MISSING') <> 'SUCCEEDED'"
            "  OR coalesce(sum(e.amount), 0) <> r.amount LIMIT 20",
        ):
            report.violations.append(
                Violation(
                    "one_ledger_reversal_per_refund",
                    f"refund {rid} ({status}): {n} ledger reversals giving back {credited},"
                    f" expected one of {expected}",
                )
            )


async def check_refunds_at_psp(
    conn: AsyncConnection, report: CheckReport, refunds_at_psp: RefundsAtPsp
) -> None:
    at_psp = await refunds_at_psp()
    report.stats["psp_refunds"] = len(at_psp)
    ours = {
        rid: (status, amount, currency)
        for rid, status, amount, currency in await _rows(
            conn, "SELECT refund_id, status, amount, currency FROM payment.refunds"
        )
    }
    for rid, (status, amount, currency) in sorted(ours.items()):
        made = [r for r in at_psp.get(rid, []) if r[0] == "succeeded"]
        if status == "SUCCEEDED":
            try:  # the PSP's minor units are Stripe's, not ISO's (ISK: 100 per króna)
                minor = charge_minor_units(amount, currency)
            except (InvalidMoney, StripeAmountRefused):
                minor = -1
            if made != [("succeeded", minor, currency)]:
                report.violations.append(
                    Violation(
                        "refund_matches_psp",
                        f"refund {rid} is SUCCEEDED for {amount} {currency}; the PSP refunded"
                        f" {made or 'nothing'}",
                    )
                )
        elif len(made) > 1:  # PENDING: one may be on its way, never two
            report.violations.append(
                Violation("refunded_at_most_once", f"refund {rid}: {len(made)} PSP refunds")
            )
    # A duplicate charge given back is no refund of ours: paymesh_cli.suspense_invariants
    # checks it against its booking.
    given_back = await booked_duplicate_refunds(conn) if await _has(conn, "ledger.entries") else {}
    for rid, refunds in sorted(at_psp.items()):
        if rid in given_back and rid not in ours:
            continue
        status = ours.get(rid, (None,))[0]
        made = [r for r in refunds if r[0] == "succeeded"]
        if made and status in (None, "FAILED"):
            report.violations.append(
                Violation(
                    "psp_refund_without_ours",
                    f"the PSP refunded {made} (minor units) for {rid}, which we hold as"
                    f" {status or 'unknown'}",
                )
            )
