"""The money invariants, checked on the databases of a stack (and its PSP):

- ledger: debits = credits per currency, per transaction, and the maintained balance rows agree
  with the entries they summarise; every hash chain holds (paymesh_cli.ledger_chain);
- every seller's wallet bucket (pending, available, reserved, debt) = its ledger account's
  balance, per currency;
- every SUCCESS order has exactly one ledger transaction and one wallet credit, with the right
  amounts, and no other order has any;
- no order was charged more than once at the PSP, and none was charged without reaching SUCCESS;
- refunds: within their order, one wallet debit and one ledger reversal per SUCCEEDED refund,
  and the PSP's refunds match ours (paymesh_cli.refund_invariants);
- the PSP's side: fees and the PSP's payouts to the platform booked once each, balanced against
  `psp_receivable`, which is explained per currency (paymesh_cli.psp_invariants);
- the finance queue's bookings: write-offs and duplicate charges refunded, between
  `psp_receivable` and `recon_suspense`, once each, each a recorded decision, the refunds the
  PSP's own (paymesh_cli.suspense_invariants).

Orders still on their way (SUCCESS with a flag not yet set, EXECUTING, PENDING) are not
violations; `settle_timeout` waits for them before judging. A schema that does not exist is
skipped, so the same checks run after a single service's integration test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from mesh.db import async_url
from recon_svc.adapters import books_sql

if TYPE_CHECKING:
    from paymesh_cli.payout_invariants import PayoutsAtProvider
    from paymesh_cli.psp_invariants import PspFigures
    from paymesh_cli.refund_invariants import RefundsAtPsp


@dataclass(frozen=True)
class Violation:
    invariant: str
    detail: str


@dataclass
class CheckReport:
    violations: list[Violation] = field(default_factory=list)
    stats: dict[str, object] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "violations": [v.__dict__ for v in self.violations],
            "stats": self.stats,
            "skipped": self.skipped,
        }


async def _schemas(conn: AsyncConnection) -> set[str]:
    rows = await conn.execute(text("SELECT nspname FROM pg_namespace"))
    return {r[0] for r in rows}


async def _has_table(conn: AsyncConnection, schema: str, table: str) -> bool:
    found = await conn.scalar(
        text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"{schema}.{table}"}
    )
    return bool(found)


async def _rows(conn: AsyncConnection, sql: str) -> list:  # type: ignore[type-arg]
    return list((await conn.execute(text(sql))).all())


async def check_ledger(conn: AsyncConnection, report: CheckReport) -> None:
    for currency, debits, credits in await _rows(conn, books_sql.LEDGER_TOTALS):
        report.stats[f"ledger_debits_{currency}"] = str(debits)
        report.stats[f"ledger_credits_{currency}"] = str(credits)
        if debits != credits:
            report.violations.append(
                Violation("ledger_balanced", f"{currency}: debits {debits} != credits {credits}")
            )
    for tx, currency, debits, credits in await _rows(conn, books_sql.unbalanced_transactions()):
        report.violations.append(
            Violation(
                "transaction_balanced", f"transaction {tx} is off by {debits - credits} {currency}"
            )
        )
    for account, currency, kept_d, kept_c, sum_d, sum_c in await _rows(
        conn,
        "WITH s AS (SELECT account, currency,"
        "  coalesce(sum(amount) FILTER (WHERE side = 'debit'), 0) AS d,"
        "  coalesce(sum(amount) FILTER (WHERE side = 'credit'), 0) AS c"
        "  FROM ledger.entries GROUP BY 1, 2)"
        " SELECT coalesce(b.account, s.account), coalesce(b.currency, s.currency),"
        "  coalesce(b.debits, 0), coalesce(b.credits, 0), coalesce(s.d, 0), coalesce(s.c, 0)"
        " FROM ledger.account_balances b FULL JOIN s"
        "  ON s.account = b.account AND s.currency = b.currency"
        " WHERE coalesce(b.debits, 0) <> coalesce(s.d, 0)"
        "  OR coalesce(b.credits, 0) <> coalesce(s.c, 0) LIMIT 20",
    ):
        report.violations.append(
            Violation(
                "ledger_balance_rows",
                f"{account} {currency}: kept {kept_d}/{kept_c}, entries sum to {sum_d}/{sum_c}",
            )
        )


async def check_ledger_chains(conn: AsyncConnection, report: CheckReport) -> None:
    """The hash chains recomputed, in the check's snapshot (skipped before their migration)."""
    from paymesh_cli.ledger_chain import has_chains, verify_chains

    raw = await conn.get_raw_connection()
    driver = raw.driver_connection  # the psycopg AsyncConnection, in the check's transaction
    if driver is None or not await has_chains(driver):
        report.skipped.append("ledger_chain")
        return
    chains = await verify_chains(driver)
    report.stats["ledger_chain_transactions"] = chains.transactions
    for b in chains.breaks:
        where = f"transaction {b.transaction_id} (link {b.seq})" if b.transaction_id else "head"
        report.violations.append(
            Violation("ledger_chain", f"chain {b.chain}, {where}: {b.kind.value}: {b.detail}")
        )


BUCKET_ACCOUNTS = books_sql.BUCKET_ACCOUNTS


async def check_wallet_vs_ledger(conn: AsyncConnection, report: CheckReport) -> None:
    """Per seller, currency and bucket, the wallet's balance equals its ledger account's."""
    has_debt = await conn.scalar(text(books_sql.HAS_DEBT_BUCKET))
    sellers: set[tuple[str, str]] = set()
    for bucket, family, on_normal_side in BUCKET_ACCOUNTS:
        column = bucket if bucket != "debt" or has_debt else "0"
        rows = await _rows(conn, books_sql.wallet_vs_ledger(column, family, on_normal_side))
        for seller, currency, wallet_amount, ledger_amount in rows:
            sellers.add((seller, currency))
            if wallet_amount != ledger_amount:
                report.violations.append(
                    Violation(
                        "wallet_equals_ledger",
                        f"{seller} {currency} {bucket}: wallet {wallet_amount} != ledger "
                        f"{family}:{seller} {ledger_amount}",
                    )
                )
    report.stats["sellers_checked"] = len(sellers)


async def _order_stats(conn: AsyncConnection, report: CheckReport) -> int:
    """Counts orders by status; returns how many are still on their way."""
    by_status = dict(
        await _rows(conn, "SELECT status, count(*) FROM payment.payment_orders GROUP BY 1")
    )
    report.stats["orders_by_status"] = {str(k): v for k, v in sorted(by_status.items())}
    in_flight = (
        await conn.execute(
            text(
                "SELECT count(*) FROM payment.payment_orders WHERE status IN"
                " ('NOT_STARTED', 'EXECUTING', 'PENDING')"
                " OR (status = 'SUCCESS' AND NOT (wallet_updated AND ledger_updated))"
            )
        )
    ).scalar_one()
    report.stats["orders_in_flight"] = in_flight
    return int(in_flight)


async def check_orders(conn: AsyncConnection, report: CheckReport, schemas: set[str]) -> None:
    if "wallet" in schemas:
        for oid, status, n, credited, expected, *_ in await _rows(
            conn, books_sql.orders_vs_wallet()
        ):
            report.violations.append(
                Violation(
                    "one_wallet_credit_per_success",
                    f"order {oid} ({status}): {n} credits totalling {credited}, expected one of"
                    f" {expected}",
                )
            )
    if "ledger" in schemas:
        for oid, status, n, debits, gross, *_ in await _rows(conn, books_sql.orders_vs_ledger()):
            if n != 1 or status != "SUCCESS":
                report.violations.append(
                    Violation(
                        "one_ledger_transaction_per_success",
                        f"order {oid} ({status}): {n} ledger transactions, expected one",
                    )
                )
            else:
                report.violations.append(
                    Violation(
                        "ledger_amount", f"order {oid}: ledger debits {debits}, charged {gross}"
                    )
                )


async def check_psp(
    conn: AsyncConnection,
    report: CheckReport,
    charges_by_order: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    charges = await charges_by_order()
    report.stats["psp_charged_orders"] = len(charges)
    for oid, n in sorted(charges.items()):
        if n > 1:
            report.violations.append(Violation("charged_at_most_once", f"order {oid}: {n} charges"))
    statuses = dict(
        await _rows(conn, "SELECT payment_order_id, status FROM payment.payment_orders")
    )
    for oid in sorted(charges):
        status = statuses.get(oid)
        if status in (None, "FAILED", "NOT_STARTED"):
            report.violations.append(
                Violation("charge_without_success", f"order {oid} is {status} but was charged")
            )
    for oid, status in statuses.items():
        if status == "SUCCESS" and charges.get(oid, 0) == 0:
            report.violations.append(
                Violation("success_without_charge", f"order {oid} is SUCCESS, PSP has no charge")
            )


async def run_checks(
    database_url: str,
    charges_by_order: Callable[[], Awaitable[dict[str, int]]] | None = None,
    *,
    settle_timeout: float = 0.0,
    refunds_at_psp: RefundsAtPsp | None = None,
    payouts_at_provider: PayoutsAtProvider | None = None,
    psp_figures: PspFigures | None = None,
) -> CheckReport:
    """Check every invariant whose data exists; wait up to `settle_timeout` seconds for orders
    and refunds in flight to settle first."""
    from paymesh_cli import payout_invariants as payouts
    from paymesh_cli import psp_invariants
    from paymesh_cli import refund_invariants as refunds
    from paymesh_cli import suspense_invariants as suspense

    engine = create_async_engine(async_url(database_url), pool_size=2)
    try:
        async with engine.connect() as conn:
            schemas = await _schemas(conn)
        deadline = time.monotonic() + settle_timeout
        while True:
            report = CheckReport()
            async with engine.connect() as conn:
                in_flight = await _order_stats(conn, report) if "payment" in schemas else 0
                with_refunds = "payment" in schemas and await refunds.has_refunds(conn)
                if with_refunds:
                    in_flight += await refunds.refunds_in_flight(conn, report, schemas)
                with_holds = {"wallet", "ledger"} <= schemas and await _has_table(
                    conn, "wallet", "wallet_moves"
                )
                if with_holds:
                    in_flight += await payouts.payouts_in_flight(conn)
            if in_flight == 0 or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.5)
        async with engine.connect() as conn:
            # One snapshot for all the cross-schema comparisons.
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            if "ledger" in schemas:
                await check_ledger(conn, report)
                await check_ledger_chains(conn, report)
                await psp_invariants.check_psp_books(conn, report)
                await suspense.check_suspense(conn, report, schemas, refunds_at_psp)
                if psp_figures is not None:
                    await psp_invariants.check_psp_books_at_psp(conn, report, psp_figures)
                else:
                    report.skipped.append("psp_bookings_at_psp")
            else:
                report.skipped.append("ledger")
            if {"wallet", "ledger"} <= schemas:
                await check_wallet_vs_ledger(conn, report)
            else:
                report.skipped.append("wallet_equals_ledger")
            if with_holds:
                await payouts.check_holds(conn, report, "payout" in schemas)
                if "payout" in schemas and payouts_at_provider is not None:
                    await payouts.check_payouts_at_provider(conn, report, payouts_at_provider)
                else:
                    report.skipped.append("provider_payouts")
            else:
                report.skipped.append("payouts")
            if "payment" in schemas:
                await check_orders(conn, report, schemas)
                if charges_by_order is not None:
                    await check_psp(conn, report, charges_by_order)
                else:
                    report.skipped.append("psp")
                if with_refunds:
                    await refunds.check_refund_limits(conn, report)
                    await refunds.check_refund_effects(conn, report, schemas)
                    if refunds_at_psp is not None:
                        await refunds.check_refunds_at_psp(conn, report, refunds_at_psp)
                    else:
                        report.skipped.append("psp_refunds")
            else:
                report.skipped.append("orders")
    finally:
        await engine.dispose()
    return report
