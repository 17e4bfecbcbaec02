"""The finance queue's bookings (ledger_svc.domain.recon_books), checked in the ledger and
against reconciliation's records and the PSP:

- every transaction on `recon_suspense` is one of them: two lines, `recon_suspense` against
  `psp_receivable`, one amount, for no order and no refund (nothing of a seller moves);
- each write-off is booked once per mismatch, each duplicate charge and its refund once per PSP
  id, and every duplicate charge booked has its refund booked (the buyer got the money back);
- explained (when recon's schema is there): every write-off booked is a `write_off` resolution
  of its mismatch, and every `write_off` resolution has its booking; every duplicate charge
  booked is a `refund` resolution of a `duplicate_charge` mismatch;
- with the PSP at hand: each duplicate charge refund booked is a succeeded refund at the PSP for
  the same amount (paymesh_cli.refund_invariants leaves those refunds to this check).

`stats.recon_suspense` is the account's balance per currency, `stats.recon_suspense_explained`
what it is made of: write-offs (positive when the PSP held more than the books, negative when
less) and duplicate charges not given back yet (zero once each is refunded).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.money import InvalidMoney, format_amount
from payment_svc.adapters.stripe_currencies import StripeAmountRefused, charge_minor_units
from paymesh_cli.invariants import CheckReport, Violation

if TYPE_CHECKING:
    from paymesh_cli.refund_invariants import RefundsAtPsp

SUSPENSE = "recon_suspense"
# The ids in the descriptions ledger_svc.domain.recon_books writes, read back.
_WRITE_OFF = "'^Recon write-off of mismatch ([A-Za-z0-9_-]+):'"
_CHARGE = (
    "'^Duplicate charge ([A-Za-z0-9_]+) of order [A-Za-z0-9_-]+ \\(mismatch ([A-Za-z0-9_-]+)\\)'"
)
_REFUND = "'^Refund of duplicate charge ([A-Za-z0-9_]+) by ([A-Za-z0-9_]+) of order'"
_SHAPES = (
    "psp_receivable:credit,recon_suspense:debit",
    "psp_receivable:debit,recon_suspense:credit",
)
# Each booking with its kind, PSP (or mismatch) id and mismatch id, and its signed amount on
# the suspense account (credit positive).
_BOOKINGS = f"""
SELECT t.transaction_id,
       CASE WHEN w IS NOT NULL THEN 'write_off'
            WHEN c IS NOT NULL THEN 'duplicate_charge'
            WHEN r IS NOT NULL THEN 'duplicate_refund' END AS kind,
       coalesce(w[1], c[1], r[2]) AS psp_id,
       coalesce(w[1], c[2]) AS mismatch_id,
       r[1] AS refunded_charge,
       e.currency,
       CASE e.side WHEN 'credit' THEN e.amount ELSE -e.amount END AS amount
FROM ledger.transactions t
JOIN ledger.entries e ON e.transaction_id = t.transaction_id AND e.account = '{SUSPENSE}',
LATERAL (SELECT regexp_match(t.description, {_WRITE_OFF}) AS w,
                regexp_match(t.description, {_CHARGE}) AS c,
                regexp_match(t.description, {_REFUND}) AS r) ids
"""


async def booked_duplicate_refunds(conn: AsyncConnection) -> dict[str, tuple[Decimal, str]]:
    """The PSP refunds of duplicate charges the ledger booked: {PSP refund id: (amount,
    currency)}."""
    rows = await conn.execute(
        text(
            f"SELECT psp_id, currency, -amount FROM ({_BOOKINGS}) b WHERE kind = 'duplicate_refund'"
        )
    )
    return {rid: (Decimal(amount), currency) for rid, currency, amount in rows}


async def check_suspense(
    conn: AsyncConnection,
    report: CheckReport,
    schemas: set[str],
    refunds_at_psp: RefundsAtPsp | None,
) -> None:
    shapes = ", ".join(f"'{s}'" for s in _SHAPES)
    for transaction_id, lines in await conn.execute(
        text(
            "SELECT t.transaction_id, string_agg(e.account || ':' || e.side, ','"
            "  ORDER BY e.account)"
            " FROM ledger.transactions t JOIN ledger.entries e USING (transaction_id)"
            " WHERE t.transaction_id IN (SELECT transaction_id FROM ledger.entries"
            f"   WHERE account = '{SUSPENSE}')"
            " GROUP BY t.transaction_id, t.payment_order_id, t.refund_id"
            " HAVING string_agg(e.account || ':' || e.side, ',' ORDER BY e.account)"
            f"   NOT IN ({shapes}) OR count(DISTINCT e.amount) <> 1"
            "   OR t.payment_order_id IS NOT NULL OR t.refund_id IS NOT NULL LIMIT 20"
        )
    ):
        report.violations.append(
            Violation(
                "suspense_booking_shape",
                f"transaction {transaction_id} on {SUSPENSE} has lines {lines}",
            )
        )
    bookings = list(await conn.execute(text(_BOOKINGS)))
    seen: dict[tuple[str, str], int] = {}
    explained: dict[str, dict[str, Decimal]] = {}
    charges: dict[str, str] = {}  # duplicate charge -> its mismatch
    refunded: set[str] = set()
    for transaction_id, kind, psp_id, mismatch_id, refunded_charge, currency, amount in bookings:
        if kind is None:
            report.violations.append(
                Violation(
                    "suspense_booking_shape",
                    f"transaction {transaction_id} on {SUSPENSE} is no finance queue booking",
                )
            )
            continue
        seen[(kind, psp_id)] = seen.get((kind, psp_id), 0) + 1
        part = "write_offs" if kind == "write_off" else "duplicate_charges_not_given_back"
        by_part = explained.setdefault(currency, {})
        by_part[part] = by_part.get(part, Decimal(0)) + amount
        if kind == "duplicate_charge":
            charges[psp_id] = mismatch_id
        if kind == "duplicate_refund":
            refunded.add(refunded_charge)
    for (kind, psp_id), n in sorted(seen.items()):
        if n > 1:
            report.violations.append(
                Violation("suspense_booked_once", f"{kind} {psp_id} is booked {n} times")
            )
    for charge in sorted(set(charges) - refunded):
        report.violations.append(
            Violation(
                "duplicate_charge_given_back",
                f"duplicate charge {charge} (mismatch {charges[charge]}) is booked but its"
                " refund is not: the buyer's money is still held",
            )
        )
    for charge in sorted(refunded - set(charges)):
        report.violations.append(
            Violation("duplicate_charge_given_back", f"a refund of {charge} without its charge")
        )
    balances = {
        currency: format_amount(credits - debits, currency)
        for currency, debits, credits in await conn.execute(
            text(
                "SELECT currency, debits, credits FROM ledger.account_balances"
                f" WHERE account = '{SUSPENSE}' ORDER BY currency"
            )
        )
    }
    report.stats["recon_suspense"] = balances
    report.stats["recon_suspense_explained"] = {
        currency: {part: format_amount(v, currency) for part, v in sorted(parts.items())}
        for currency, parts in sorted(explained.items())
    }
    if "recon" in schemas:
        await _check_decisions(conn, report, bookings)
    else:
        report.skipped.append("suspense_decisions")
    if refunds_at_psp is not None:
        await _check_at_psp(report, bookings, refunds_at_psp)
    else:
        report.skipped.append("suspense_refunds_at_psp")


async def _check_decisions(conn: AsyncConnection, report: CheckReport, bookings: list) -> None:  # type: ignore[type-arg]
    """Each booking is a person's decision recorded in recon, and each write-off decided is
    booked."""
    decided: dict[str, set[str]] = {}
    for mismatch_id, action in await conn.execute(
        text(
            "SELECT r.mismatch_id, r.action FROM recon.resolutions r"
            " JOIN recon.mismatches m USING (mismatch_id)"
            " WHERE r.action = 'write_off'"
            "  OR (r.action = 'refund' AND m.type = 'duplicate_charge')"
        )
    ):
        decided.setdefault(action, set()).add(mismatch_id)
    written_off = {b[3] for b in bookings if b[1] == "write_off"}
    duplicates = {b[3] for b in bookings if b[1] == "duplicate_charge"}
    for mismatch_id in sorted(written_off - decided.get("write_off", set())):
        report.violations.append(
            Violation(
                "suspense_explained",
                f"write-off of mismatch {mismatch_id} booked without a write_off resolution",
            )
        )
    for mismatch_id in sorted(decided.get("write_off", set()) - written_off):
        report.violations.append(
            Violation(
                "suspense_explained",
                f"mismatch {mismatch_id} was written off but nothing is booked to suspense",
            )
        )
    for mismatch_id in sorted(duplicates - decided.get("refund", set())):
        report.violations.append(
            Violation(
                "suspense_explained",
                f"duplicate charge of mismatch {mismatch_id} booked without a refund resolution",
            )
        )
    report.stats["suspense_decisions_checked"] = len(written_off) + len(duplicates)


async def _check_at_psp(
    report: CheckReport,
    bookings: list,  # type: ignore[type-arg]
    refunds_at_psp: RefundsAtPsp,
) -> None:
    at_psp = await refunds_at_psp()
    for _, kind, refund_id, _, charge, currency, amount in bookings:
        if kind != "duplicate_refund":
            continue
        try:  # the PSP's minor units are Stripe's, not ISO's
            minor = charge_minor_units(-Decimal(amount), currency)
        except (InvalidMoney, StripeAmountRefused):
            minor = -1
        made = [r for r in at_psp.get(refund_id, []) if r[0] == "succeeded"]
        if made != [("succeeded", minor, currency)]:
            report.violations.append(
                Violation(
                    "duplicate_refund_matches_psp",
                    f"refund {refund_id} of duplicate charge {charge} is booked for"
                    f" {-Decimal(amount)} {currency}; the PSP refunded {made or 'nothing'}",
                )
            )
