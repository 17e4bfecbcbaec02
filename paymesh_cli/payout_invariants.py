"""The pay-out invariants (paymesh_cli.invariants runs them when the schemas exist):

- every wallet hold belongs to a payout of the same seller, currency and amount, and is where
  the payout's status says it must be: a PAID payout's hold is captured (or returned), a FAILED
  or CANCELED payout's hold is released (or returned), a payout still in flight holds its money
  (reserved, or captured while the PAID is being recorded), never released;
- every seller's `reserved` equals the sum of its reserved holds;
- at the provider, at most one payout per payout id, of our amount, and PAID at the provider
  only for payouts PAID (or returned) here once the sweeper has looked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.money import to_minor_units

if TYPE_CHECKING:
    from paymesh_cli.invariants import CheckReport

# payout_id -> [(status, minor units, currency)] at the provider, for the given destinations.
PayoutsAtProvider = Callable[[list[str]], Awaitable[dict[str, list[tuple[str, int, str]]]]]

# The hold statuses each payout status allows.
_ALLOWED = {
    "REQUESTED": {None, "RESERVED"},
    "RESERVED": {"RESERVED"},
    "SUBMITTED": {"RESERVED", "CAPTURED"},
    "IN_TRANSIT": {"RESERVED", "CAPTURED"},
    "PAID": {"CAPTURED", "RETURNED"},
    "FAILED": {None, "RELEASED", "RETURNED"},
    "CANCELED": {None, "RELEASED"},
}


async def payouts_in_flight(conn: AsyncConnection) -> int:
    """Wallet moves the ledger has not posted yet (wallet and ledger disagree until it has)."""
    return int(
        await conn.scalar(
            text(
                "SELECT count(*) FROM wallet.wallet_moves m WHERE NOT EXISTS"
                " (SELECT 1 FROM ledger.transactions t WHERE t.transaction_id = m.move_id)"
            )
        )
        or 0
    )


async def check_holds(conn: AsyncConnection, report: CheckReport, with_payouts: bool) -> None:
    from paymesh_cli.invariants import Violation

    rows = await conn.execute(
        text(
            "SELECT w.seller_account, w.currency, w.reserved,"
            " coalesce((SELECT sum(h.amount) FROM wallet.wallet_holds h"
            "  WHERE h.seller_account = w.seller_account AND h.currency = w.currency"
            "  AND h.status = 'RESERVED'), 0) AS held"
            " FROM wallet.balances w"
        )
    )
    for seller, currency, reserved, held in rows:
        if reserved != held:
            report.violations.append(
                Violation(
                    "reserved_equals_holds",
                    f"{seller} {currency}: reserved {reserved} != reserved holds {held}",
                )
            )
    if not with_payouts:
        return
    pairs = await conn.execute(
        text(
            "SELECT coalesce(p.payout_id, h.hold_id), p.status, h.status,"
            " p.seller_account, h.seller_account, p.currency, h.currency, p.amount, h.amount"
            " FROM payout.payouts p FULL JOIN wallet.wallet_holds h ON h.hold_id = p.payout_id"
        )
    )
    counted: dict[str, int] = {}
    for pid, p_status, h_status, p_seller, h_seller, p_cur, h_cur, p_amount, h_amount in pairs:
        counted[p_status or "none"] = counted.get(p_status or "none", 0) + 1
        if p_status is None:
            report.violations.append(Violation("hold_has_payout", f"hold {pid} has no payout"))
            continue
        if h_status not in _ALLOWED[p_status]:
            report.violations.append(
                Violation("hold_matches_payout", f"payout {pid} is {p_status}, hold {h_status}")
            )
        if h_status is not None and (
            (p_seller, p_cur) != (h_seller, h_cur)
            or (p_amount is not None and p_amount != h_amount)
        ):
            report.violations.append(
                Violation(
                    "hold_matches_payout",
                    f"payout {pid}: {p_seller} {p_amount} {p_cur}, "
                    f"hold {h_seller} {h_amount} {h_cur}",
                )
            )
    report.stats["payouts_by_status"] = dict(sorted(counted.items()))


async def check_payouts_at_provider(
    conn: AsyncConnection, report: CheckReport, at_provider: PayoutsAtProvider
) -> None:
    from paymesh_cli.invariants import Violation

    ours = {
        r.payout_id: r
        for r in await conn.execute(
            text(
                "SELECT payout_id, destination, status, returned, amount, currency"
                " FROM payout.payouts WHERE status <> 'REQUESTED'"
            )
        )
    }
    theirs = await at_provider(sorted({r.destination for r in ours.values()}))
    for payout_id, found in theirs.items():
        mine = ours.get(payout_id)
        if mine is None:
            report.violations.append(
                Violation("provider_payouts", f"the provider paid {payout_id}, unknown here")
            )
            continue
        if len(found) > 1:
            report.violations.append(
                Violation("payout_once", f"{payout_id} was paid {len(found)} times")
            )
        status, minor, currency = found[0]
        if (minor, currency.upper()) != (to_minor_units(mine.amount, mine.currency), mine.currency):
            report.violations.append(
                Violation("provider_payouts", f"{payout_id}: provider {minor} {currency}")
            )
        if status == "paid" and mine.status not in ("PAID", "SUBMITTED", "IN_TRANSIT"):
            report.violations.append(
                Violation(
                    "provider_payouts", f"{payout_id} paid at the provider, {mine.status} here"
                )
            )
