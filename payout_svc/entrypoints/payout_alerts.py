"""The payout service's own alerts (mesh.alerts Watch, checked every round with the mesh's):

- `payout_stuck` (subject: the status): payouts SUBMITTED for longer than
  `submitted_after_s`, or IN_TRANSIT for longer than `in_transit_after_s`, that the sweeper
  asked the provider about and still could not finish;
- `payout_failing` (subject: the seller): a seller whose last `failures` payouts FAILED at
  the provider (or on the way to it) within `failure_window_s`, none PAID since; a payout
  refused at once for want of balance does not count.

Each clears by itself (mesh.alerts publishes `active=False`) once the payouts move on, a later
payout of the seller is PAID, or the failures leave the window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.alerts import Alert, Watch
from payout_svc.alert_settings import PayoutAlertSettings

PAYOUT_STUCK = "payout_stuck"
PAYOUT_FAILING = "payout_failing"
MAX_SELLERS = 20  # alerts per round for failing sellers: enough to act on, bounded

# On the index payouts_status_updated (status, updated_at).
_STUCK = text(
    """
    SELECT status, count(*), min(updated_at),
           (array_agg(payout_id ORDER BY updated_at))[1:3]
      FROM payouts
     WHERE (status = 'SUBMITTED' AND updated_at < :submitted_before)
        OR (status = 'IN_TRANSIT' AND updated_at < :in_transit_before)
     GROUP BY status
    """
)

# The failures of each seller since its last PAID payout, within the window. A payout refused
# before it reached the provider (REQUESTED -> FAILED: more than the available balance) is the
# caller's mistake, answered at once, not a failing payout: not counted.
_FAILING = text(
    """
    SELECT f.seller_account, count(*), max(f.updated_at),
           (array_agg(f.failure_reason ORDER BY f.updated_at DESC))[1]
      FROM payouts f
     WHERE f.status = 'FAILED' AND f.updated_at > :since
       AND NOT EXISTS (
             SELECT 1 FROM payout_history h
              WHERE h.payout_id = f.payout_id AND h.from_status = 'REQUESTED'
                AND h.to_status = 'FAILED')
       AND NOT EXISTS (
             SELECT 1 FROM payouts p
              WHERE p.seller_account = f.seller_account AND p.status = 'PAID'
                AND p.updated_at > f.updated_at)
     GROUP BY f.seller_account
    HAVING count(*) >= :failures
     ORDER BY max(f.updated_at) DESC
     LIMIT :limit
    """
)


def payout_watch(
    engine: AsyncEngine, settings: PayoutAlertSettings, clock: Callable[[], datetime]
) -> Watch:
    async def check() -> list[Alert]:
        now = clock()
        async with engine.connect() as conn:
            stuck = (
                await conn.execute(
                    _STUCK,
                    {
                        "submitted_before": now - timedelta(seconds=settings.submitted_after_s),
                        "in_transit_before": now - timedelta(seconds=settings.in_transit_after_s),
                    },
                )
            ).all()
            failing = (
                await conn.execute(
                    _FAILING,
                    {
                        "since": now - timedelta(seconds=settings.failure_window_s),
                        "failures": settings.failures,
                        "limit": MAX_SELLERS,
                    },
                )
            ).all()
        alerts = [
            Alert(
                PAYOUT_STUCK,
                status,
                f"{n} payouts {status} for too long (since {since:%Y-%m-%d %H:%M} UTC at the"
                f" oldest), e.g. {', '.join(ids)}: the provider has not finished them",
            )
            for status, n, since, ids in stuck
        ]
        alerts += [
            Alert(
                PAYOUT_FAILING,
                seller,
                f"the last {n} payouts of {seller} failed (latest {last:%Y-%m-%d %H:%M} UTC:"
                f" {reason or 'no reason given'}); none paid since",
            )
            for seller, n, last, reason in failing
        ]
        return alerts

    return Watch(frozenset({PAYOUT_STUCK, PAYOUT_FAILING}), check)
