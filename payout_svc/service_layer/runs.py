"""Scheduled payout runs: every seller whose schedule is due on the day is paid, per currency,
what is available when it is at or above the seller's minimum. The payout id is derived from
(seller, currency, period), so a run made twice, or by two replicas at once, pays once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from mesh.errors import ServiceError
from mesh.money import format_amount
from payout_svc.domain import Payout
from payout_svc.service_layer.payouts import NewUow, RequestPayout, request_payout
from payout_svc.service_layer.ports import Clock, Holds, WalletUnavailable

_RUNS = uuid.UUID("6f1c7a52-2d0e-4e53-9a35-4f0b3c8d9e10")


def run_payout_id(seller_account: str, currency: str, period: str) -> str:
    """The one payout id of a seller, currency and period: the run's unique key."""
    return "run_" + uuid.uuid5(_RUNS, f"{seller_account}/{currency}/{period}").hex


@dataclass
class RunReport:
    day: str
    paid: list[Payout] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # seller, currency, why
    on_schedule: int = 0  # sellers on a schedule, due or not: the run's size
    looked_at: int = 0  # sellers looked at by this page
    last_seller: str = ""  # the last one; "" when no seller is left after this page


async def run_payouts(
    new_uow: NewUow,
    holds: Holds,
    clock: Clock,
    day: date,
    progress: Callable[[str], None] = lambda _: None,
    after: str = "",
    limit: int | None = None,
) -> RunReport:
    """Pay every seller due on `day` (those after the seller account `after`, at most `limit`
    of them: one page of a run a client follows); each payout is idempotent on its run payout
    id, so pages, and whole runs, may be made again."""
    report = RunReport(day.isoformat())
    async with new_uow() as uow:
        sellers = await uow.payouts.sellers_on_schedule(after, limit)
        report.on_schedule = await uow.payouts.count_sellers_on_schedule()
    report.looked_at = len(sellers)
    if limit and len(sellers) == limit:
        report.last_seller = sellers[-1].seller_account
    for seller in sellers:
        period = seller.due_on(day)
        if period is None or not seller.destination:
            continue
        try:
            available = await holds.available(seller.seller_account)
        except WalletUnavailable:
            report.skipped.append((seller.seller_account, "", "wallet unavailable"))
            continue
        for currency, amount in sorted(available.items()):
            minimum = seller.minimums.get(currency, Decimal(0))
            if amount <= 0 or amount < minimum:
                report.skipped.append((seller.seller_account, currency, "below minimum"))
                continue
            payout_id = run_payout_id(seller.seller_account, currency, period)
            try:
                payout = await request_payout(
                    new_uow,
                    holds,
                    clock,
                    RequestPayout(payout_id, seller.seller_account, "", currency),
                )
            except ServiceError as err:
                report.skipped.append((seller.seller_account, currency, err.reason))
                progress(f"{seller.seller_account} {currency}: {err.reason}")
                continue
            report.paid.append(payout)
            shown = format_amount(payout.amount, currency) if payout.amount is not None else "?"
            progress(f"{seller.seller_account} {currency}: {shown} ({payout.status.value})")
    return report
