"""Where alerts are kept (table `alerts`, in the payment service's schema: the one owner of the
OPS stream's alerts, mesh.alerts): one row per alert, open → acknowledged → resolved; an alert
that comes back after it was resolved is a new row.

Each `AlertObserved(active=True)` moves `last_seen` and adds one to `count` (a redelivered
observation counts twice: `count` says how long it held, it is no ledger); `active=False`
resolves it. An alert whose service stopped reporting it (a restart that forgot it held, a
service that went away) is resolved once not seen for `STALE_S`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncEngine

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
# The checks run every 10 s (mesh.samplers); thirty rounds unseen is a service that stopped
# reporting, not a blip.
STALE_S = 300.0


def alerts_table(metadata: MetaData) -> Table:
    return Table(
        "alerts",
        metadata,
        Column("alert_id", UUID(as_uuid=False), primary_key=True),
        Column("kind", Text, nullable=False),
        Column("subject", Text, nullable=False),
        Column("service", Text, nullable=False),
        Column("detail", Text, nullable=False, server_default=""),
        Column("state", Text, nullable=False),
        Column("first_seen", DateTime(timezone=True), nullable=False),
        Column("last_seen", DateTime(timezone=True), nullable=False),
        Column("count", BigInteger, nullable=False, server_default=text("1")),
        Column("acknowledged_at", DateTime(timezone=True), nullable=True),
        Column("resolved_at", DateTime(timezone=True), nullable=True),
        CheckConstraint("state IN ('open', 'acknowledged', 'resolved')", name="alert_state_known"),
        # At most one alert per condition that is not resolved.
        Index(
            "alerts_unresolved",
            "kind",
            "subject",
            unique=True,
            postgresql_where=text("state <> 'resolved'"),
        ),
        Index("alerts_last_seen", "last_seen"),
    )


@dataclass(frozen=True)
class StoredAlert:
    alert_id: str
    kind: str
    subject: str
    service: str
    detail: str
    state: str
    first_seen: datetime
    last_seen: datetime
    count: int
    acknowledged_at: datetime | None
    resolved_at: datetime | None


_COLUMNS = (
    "alert_id::text AS alert_id, kind, subject, service, detail, state, first_seen, last_seen, "
    "count, acknowledged_at, resolved_at"
)

_RAISE = text(
    """
    INSERT INTO alerts (alert_id, kind, subject, service, detail, state, first_seen, last_seen)
    SELECT CAST(:id AS uuid), :kind, :subject, :service, :detail, 'open', :at, :at
    WHERE NOT EXISTS (  -- an observation older than the alert's resolution is stale
        SELECT 1 FROM alerts
        WHERE kind = :kind AND subject = :subject AND state = 'resolved' AND resolved_at >= :at
    )
    ON CONFLICT (kind, subject) WHERE state <> 'resolved' DO UPDATE
    SET last_seen = GREATEST(alerts.last_seen, EXCLUDED.last_seen),
        count = alerts.count + 1,
        detail = EXCLUDED.detail,
        service = EXCLUDED.service
    """
)
_CLEAR = text(
    """
    UPDATE alerts SET state = 'resolved', resolved_at = :at
    WHERE kind = :kind AND subject = :subject AND state <> 'resolved' AND last_seen <= :at
    """
)


async def observe(
    engine: AsyncEngine,
    *,
    kind: str,
    subject: str,
    service: str,
    detail: str,
    active: bool,
    at: datetime,
) -> None:
    """Apply one observation: raise (or refresh) the alert, or resolve it."""
    async with engine.begin() as conn:
        if active:
            params = {
                "id": str(uuid.uuid4()),
                "kind": kind,
                "subject": subject,
                "service": service,
                "detail": detail,
                "at": at,
            }
            await conn.execute(_RAISE, params)
        else:
            await conn.execute(_CLEAR, {"kind": kind, "subject": subject, "at": at})


async def resolve_stale(engine: AsyncEngine, now: datetime, stale_s: float = STALE_S) -> int:
    """Resolve the alerts nobody reported for `stale_s`; how many."""
    async with engine.begin() as conn:
        result = await conn.execute(
            text(
                "UPDATE alerts SET state = 'resolved', resolved_at = :now "
                "WHERE state <> 'resolved' AND last_seen < :before"
            ),
            {"now": now, "before": now - timedelta(seconds=stale_s)},
        )
    return int(result.rowcount or 0)


async def acknowledge(engine: AsyncEngine, alert_id: str, at: datetime) -> StoredAlert | None:
    """Mark an open alert acknowledged (an acknowledged or resolved one stays as it is); the
    alert as it is now, or None when there is no such alert."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE alerts SET state = 'acknowledged', acknowledged_at = :at "
                "WHERE alert_id = CAST(:id AS uuid) AND state = 'open'"
            ),
            {"id": alert_id, "at": at},
        )
        row = (
            (
                await conn.execute(
                    text(f"SELECT {_COLUMNS} FROM alerts WHERE alert_id = CAST(:id AS uuid)"),
                    {"id": alert_id},
                )
            )
            .mappings()
            .first()
        )
    return None if row is None else StoredAlert(**row)


async def list_alerts(
    engine: AsyncEngine, *, include_resolved: bool = False, limit: int = 100
) -> list[StoredAlert]:
    """Open and acknowledged alerts first, then (if asked) resolved ones; newest first."""
    where = "" if include_resolved else "WHERE state <> 'resolved'"
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM alerts {where} "
                    "ORDER BY (state = 'resolved'), last_seen DESC LIMIT :limit"
                ),
                {"limit": limit},
            )
        ).mappings()
        return [StoredAlert(**row) for row in rows]
