"""Inbox: a consumer records (consumer, event_id) in the same transaction as the effect of
the event. A redelivered event hits the primary key and has no second effect, however late.
A batched consumer claims its whole batch in one statement (`claim_many`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncConnection


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", Text, nullable=False),
        Column("event_id", UUID(as_uuid=False), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id"),
        # The retention purge finds rows past their period (mesh.retention).
        Index("inbox_processed_at", "processed_at"),
    )


async def claim(conn: AsyncConnection, consumer: str, event_id: str) -> bool:
    """True the first time `consumer` sees `event_id` (the caller then applies the effect in
    the same transaction); False for a duplicate, whose effect is already committed."""
    result = await conn.execute(
        text(
            "INSERT INTO inbox (consumer, event_id) VALUES (:c, CAST(:e AS uuid)) "
            "ON CONFLICT DO NOTHING RETURNING 1"
        ),
        {"c": consumer, "e": event_id},
    )
    return result.first() is not None


async def claim_many(conn: AsyncConnection, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """`claim` for a batch in one statement: the ids (canonical UUID text) `consumer` sees for
    the first time, each claimed once even when it comes twice in `event_ids`; the others'
    effects are already committed."""
    result = await conn.execute(_CLAIM_MANY, {"c": consumer, "ids": sorted(set(event_ids))})
    return {row[0] for row in result}


# Sorted ids: two batches claiming overlapping ids lock their index entries in one order.
_CLAIM_MANY = text(
    "INSERT INTO inbox (consumer, event_id) SELECT :c, e FROM unnest(CAST(:ids AS uuid[])) AS e "
    "ON CONFLICT DO NOTHING RETURNING event_id::text"
)
