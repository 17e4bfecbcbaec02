"""Transactional outbox: a state change and the events it causes commit together; a relay
publishes them to JetStream afterwards, with Nats-Msg-Id = the row's event_id (the envelope's,
except for an event published again by `enqueue_again`) so that a row published twice (crash
between publish and mark) is dropped by the stream's duplicate window; published again after
the window has passed, it is dropped by the consumers' inboxes (mesh.inbox).

Nothing is ever published outside a committed transaction.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

from google.protobuf.message import Message
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mesh import tracing
from mesh.events import decode_envelope, new_envelope

log = logging.getLogger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
        Column("subject", Text, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index("outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
        # The retention purge finds published rows past their period (mesh.retention).
        Index(
            "outbox_published_at", "published_at", postgresql_where=text("published_at IS NOT NULL")
        ),
    )


async def enqueue(
    conn: AsyncConnection, outbox: Table, event_type: str, aggregate_id: str, payload: Message
) -> str:
    """Add an event to the outbox inside the caller's transaction; returns its event_id."""
    env = new_envelope(event_type, aggregate_id, payload)
    await conn.execute(
        insert(outbox).values(
            event_id=env.event_id, subject=event_type, payload=env.SerializeToString()
        )
    )
    return env.event_id


async def enqueue_again(
    conn: AsyncConnection, subject: str, aggregate_id: str, since: datetime
) -> bool:
    """Publish again, through the outbox, the `subject` event of `aggregate_id` written at or
    after `since`: a new row (a fresh outbox id, so a fresh Nats-Msg-Id: the stream's duplicate
    window would drop the old one) with the SAME envelope, event id included, so that every
    consumer's inbox drops it where it was applied. False when the original row is no longer
    kept (purged after OUTBOX_RETENTION_S): a new event id would be applied twice.

    The original is found by its subject, time and the aggregate id inside its payload (the
    outbox keeps no aggregate column): a scan of the rows since `since`, for a sweeper's
    occasional use."""
    rows = await conn.execute(
        text(
            "SELECT payload FROM outbox WHERE subject = :subject AND created_at >= :since "
            "AND position(CAST(:needle AS bytea) IN payload) > 0 ORDER BY id"
        ),
        {"subject": subject, "since": since, "needle": aggregate_id.encode()},
    )
    for (payload,) in rows:
        envelope = decode_envelope(bytes(payload))
        if envelope.aggregate_id == aggregate_id and envelope.event_type == subject:
            await conn.execute(
                text(
                    "INSERT INTO outbox (event_id, subject, payload) "
                    "VALUES (CAST(:id AS uuid), :subject, :payload)"
                ),
                {"id": str(uuid.uuid4()), "subject": subject, "payload": bytes(payload)},
            )
            return True
    return False


class OutboxRelay:
    """Publishes committed outbox rows, a batch at a time, and marks them sent.

    Ids come from a sequence, and sequence values commit out of order: a transaction holding
    id 7 may commit after one holding id 8. The relay therefore keeps no "published up to id"
    mark; it takes whatever committed rows are still unpublished, so a late-committing row
    is published after its successors, never skipped. Stream order is thus not id order, and
    no consumer may rely on it (none does: each is idempotent through its inbox or the
    order's state).

    Several replicas may run: FOR UPDATE SKIP LOCKED gives each its own rows, and a row that
    another replica marked sent while this one was reading is re-checked under its lock and
    left out. The locks are held while publishing; inserts of new rows do not wait on them.
    """

    def __init__(self, engine: AsyncEngine, js, *, batch: int = 256, idle_s: float = 0.05) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.js = js
        self.batch = batch
        self.idle_s = idle_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Tell the relay new rows were committed, so it does not wait for its next poll."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows it published."""
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, event_id::text, subject, payload FROM outbox "
                        "WHERE published_at IS NULL ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED"
                    ),
                    {"n": self.batch},
                )
            ).all()
            if not rows:
                return 0
            await asyncio.gather(
                *(
                    self.js.publish(
                        subject, bytes(payload), headers=tracing.nats_headers(event_id, payload)
                    )
                    for _, event_id, subject, payload in rows
                )
            )
            await conn.execute(
                text("UPDATE outbox SET published_at = now() WHERE id = ANY(:ids)"),
                {"ids": [r[0] for r in rows]},
            )
            return len(rows)

    async def backlog(self) -> tuple[int, float]:
        """How many committed events wait to be published, and the age in seconds of the
        oldest (0 when none): one query on the partial index of unpublished rows."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)"
                        " FROM outbox WHERE published_at IS NULL"
                    )
                )
            ).one()
        return int(row[0]), float(row[1])

    async def run(self) -> None:
        """Relay until cancelled. A failed publish leaves the rows for the next round."""
        failures = 0
        while True:
            # Cleared before reading, not after: a commit that wakes the relay while it
            # publishes must not be lost (its rows would then wait for the next poll).
            self._wake.clear()
            try:
                published = await self.publish_pending()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as err:
                failures += 1
                delay = min(5.0, 0.1 * 2**failures)
                log.warning("outbox relay failed (%s); retrying in %.1fs", err, delay)
                await asyncio.sleep(delay)
                continue
            if published < self.batch:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.idle_s)
                except TimeoutError:
                    pass
