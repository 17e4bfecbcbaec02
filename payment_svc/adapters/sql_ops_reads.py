"""What the operator console reads from this schema beyond one checkout: which checkout an id
names (an order, a checkout, a charge's or a refund's PSP id), the PSP events and refunds of a
checkout's orders, and the payment figures per minute. Read-only, one statement each, served
by the indexes of migration 0010."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_svc.adapters.sql_refunds import refund_from_row
from payment_svc.domain.refund import Refund

# Tried in this order: an id the marketplace chose wins over a PSP's.
_FIND_CHECKOUT = text(
    """
    SELECT 1 AS rank, 'payment_order_id' AS matched_by, checkout_id
      FROM payment_orders WHERE payment_order_id = :q
    UNION ALL
    SELECT 2, 'checkout_id', checkout_id FROM payment_events WHERE checkout_id = :q
    UNION ALL
    SELECT 3, 'psp_reference', checkout_id FROM payment_orders
     WHERE psp_reference = :q AND psp_reference <> ''
    UNION ALL
    SELECT 4, 'refund_psp_reference', o.checkout_id
      FROM refunds r JOIN payment_orders o USING (payment_order_id)
     WHERE r.psp_reference = :q AND r.psp_reference <> ''
    ORDER BY rank LIMIT 1
    """
)
_PSP_EVENTS = text(
    """
    SELECT e.event_id, e.type, e.payment_order_id, e.psp_reference, e.created_at,
           e.received_at, e.result
      FROM psp_events e JOIN payment_orders o USING (payment_order_id)
     WHERE o.checkout_id = :checkout_id
     ORDER BY e.received_at, e.event_id
     LIMIT :limit
    """
)
_REFUNDS = text(
    """
    SELECT r.* FROM refunds r JOIN payment_orders o USING (payment_order_id)
     WHERE o.checkout_id = :checkout_id
     ORDER BY r.created_at, r.refund_id
     LIMIT :limit
    """
)
_ORDERS_PER_MINUTE = text(
    """
    SELECT date_trunc('minute', created_at) AS minute, status, count(*) AS n
      FROM payment_orders WHERE created_at >= :since
     GROUP BY 1, 2
    """
)
# A PSP answer is a transition out of EXECUTING; its latency is the time since the order's
# latest transition into EXECUTING before it (the send).
_PSP_LATENCY_PER_MINUTE = text(
    """
    WITH answers AS (
        SELECT a.occurred_at AS answered_at,
               a.occurred_at - (
                   SELECT max(s.occurred_at) FROM payment_order_history s
                    WHERE s.payment_order_id = a.payment_order_id
                      AND s.to_status = 'EXECUTING' AND s.id < a.id
               ) AS waited
          FROM payment_order_history a
         WHERE a.from_status = 'EXECUTING' AND a.occurred_at >= :since
    )
    SELECT date_trunc('minute', answered_at) AS minute, count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM waited)) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM waited)) AS p95,
           max(extract(epoch FROM waited)) AS worst
      FROM answers WHERE waited IS NOT NULL
     GROUP BY 1
    """
)
MAX_ROWS = 500


@dataclass(frozen=True)
class Match:
    matched_by: str
    checkout_id: str


@dataclass(frozen=True)
class PspEventRecord:
    event_id: str
    type: str
    payment_order_id: str
    psp_reference: str
    created_at: datetime
    received_at: datetime
    result: str


@dataclass
class MinuteFigures:
    minute: datetime
    orders_by_status: dict[str, int] = field(default_factory=dict)
    psp_answers: int = 0
    psp_latency_p50_ms: int = 0
    psp_latency_p95_ms: int = 0
    psp_latency_max_ms: int = 0


async def find_checkout(engine: AsyncEngine, query: str) -> Match | None:
    async with engine.connect() as conn:
        row = (await conn.execute(_FIND_CHECKOUT, {"q": query})).mappings().first()
    return None if row is None else Match(row["matched_by"], row["checkout_id"])


async def psp_events_of(engine: AsyncEngine, checkout_id: str) -> list[PspEventRecord]:
    async with engine.connect() as conn:
        rows = await conn.execute(_PSP_EVENTS, {"checkout_id": checkout_id, "limit": MAX_ROWS})
        return [PspEventRecord(**row) for row in rows.mappings()]


async def refunds_of(engine: AsyncEngine, checkout_id: str) -> list[Refund]:
    async with engine.connect() as conn:
        rows = await conn.execute(_REFUNDS, {"checkout_id": checkout_id, "limit": MAX_ROWS})
        return [refund_from_row(row) for row in rows.mappings()]


def _ms(seconds: object) -> int:
    return 0 if seconds is None else round(float(seconds) * 1000)  # type: ignore[arg-type]


async def payments_per_minute(
    engine: AsyncEngine, now: datetime, minutes: int
) -> list[MinuteFigures]:
    """The last `minutes` minutes up to `now`'s, oldest first, quiet minutes included."""
    current = now.replace(second=0, microsecond=0)
    since = current - timedelta(minutes=minutes - 1)
    figures = {
        since + timedelta(minutes=i): MinuteFigures(since + timedelta(minutes=i))
        for i in range(minutes)
    }
    async with engine.connect() as conn:
        for row in (await conn.execute(_ORDERS_PER_MINUTE, {"since": since})).mappings():
            slot = figures.get(row["minute"])
            if slot is not None:
                slot.orders_by_status[row["status"]] = int(row["n"])
        for row in (await conn.execute(_PSP_LATENCY_PER_MINUTE, {"since": since})).mappings():
            slot = figures.get(row["minute"])
            if slot is not None:
                slot.psp_answers = int(row["n"])
                slot.psp_latency_p50_ms = _ms(row["p50"])
                slot.psp_latency_p95_ms = _ms(row["p95"])
                slot.psp_latency_max_ms = _ms(row["worst"])
    return list(figures.values())
