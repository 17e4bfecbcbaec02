"""The payout service's alerts against real PostgreSQL: payouts SUBMITTED or IN_TRANSIT past
their thresholds raise `payout_stuck`, a seller whose last payouts all failed raises
`payout_failing`, and each clears once the payouts move on or a later payout is paid."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

import mesh.migrations
from mesh.db import make_engine
from payout_svc.alert_settings import PayoutAlertSettings
from payout_svc.entrypoints.payout_alerts import PAYOUT_FAILING, PAYOUT_STUCK, payout_watch

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
SETTINGS = PayoutAlertSettings(
    submitted_after_s=3600, in_transit_after_s=5 * 86_400, failures=3, failure_window_s=86_400
)


async def test_stuck_and_failing_payouts_raise_alerts_that_clear_when_resolved(
    database_url: str,
) -> None:
    await asyncio.to_thread(mesh.migrations.upgrade, "payout_svc", database_url)
    engine = make_engine(database_url, "payout", pool_size=1)
    run = uuid.uuid4().hex[:8]
    seller, healthy = f"acct_failing_{run}", f"acct_fine_{run}"

    async def add(
        payout_id: str,
        who: str,
        status: str,
        age: timedelta,
        reason: str = "",
        came_from: str = "SUBMITTED",
    ) -> None:
        at = NOW - age
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO payouts (payout_id, seller_account, currency, amount,"
                    " destination, status, failure_reason, created_at, updated_at)"
                    " VALUES (:id, :who, 'USD', 10, :who, :status, :reason, :at, :at)"
                ),
                {"id": payout_id, "who": who, "status": status, "reason": reason, "at": at},
            )
            await conn.execute(
                text(
                    "INSERT INTO payout_history (payout_id, from_status, to_status, occurred_at)"
                    " VALUES (:id, :came_from, :status, :at)"
                ),
                {"id": payout_id, "came_from": came_from, "status": status, "at": at},
            )

    async def move(payout_id: str, status: str) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE payouts SET status = :s, updated_at = :at WHERE payout_id = :id"),
                {"s": status, "at": NOW, "id": payout_id},
            )

    async def mine() -> dict[tuple[str, str], str]:
        found = await payout_watch(engine, SETTINGS, lambda: NOW).check()
        return {
            (a.kind, a.subject): a.detail
            for a in found
            if run in a.detail or a.subject in (seller, healthy)
        }

    try:
        # Years old, so these are the oldest of their status whatever else the database holds.
        await add(f"po_sub_{run}", seller, "SUBMITTED", timedelta(days=3000))
        await add(f"po_new_{run}", seller, "SUBMITTED", timedelta(minutes=5))  # not yet stuck
        await add(f"po_transit_{run}", healthy, "IN_TRANSIT", timedelta(days=3000))
        for i in range(3):
            await add(f"po_fail{i}_{run}", seller, "FAILED", timedelta(hours=3 - i), "no_account")
        await add(f"po_old_fail_{run}", healthy, "FAILED", timedelta(days=3))  # out of window
        # One failure is not "repeatedly"; refusals for want of balance (never sent to the
        # provider) are the caller's mistake, answered at once: neither raises payout_failing.
        await add(f"po_fail_{run}", healthy, "FAILED", timedelta(hours=1))
        for i in range(4):
            await add(
                f"po_refused{i}_{run}",
                healthy,
                "FAILED",
                timedelta(minutes=i),
                came_from="REQUESTED",
            )

        raised = await mine()
        assert set(raised) == {
            (PAYOUT_STUCK, "SUBMITTED"),
            (PAYOUT_STUCK, "IN_TRANSIT"),
            (PAYOUT_FAILING, seller),
        }
        assert f"po_sub_{run}" in raised[(PAYOUT_STUCK, "SUBMITTED")]
        assert f"po_new_{run}" not in raised[(PAYOUT_STUCK, "SUBMITTED")]
        assert "last 3 payouts" in raised[(PAYOUT_FAILING, seller)]
        assert "no_account" in raised[(PAYOUT_FAILING, seller)]

        # Resolved: the stuck ones finish, and a later payout of the failing seller is paid.
        await move(f"po_sub_{run}", "PAID")
        await move(f"po_transit_{run}", "PAID")
        await move(f"po_new_{run}", "PAID")
        assert await mine() == {}
    finally:  # the database is this test's own (dropped after it): nothing to clean
        await engine.dispose()
