"""`mesh.uow.UnitOfWork` on PostgreSQL: one connection, one transaction; the inbox claim on that
connection; the outbox rows, the additions to maintained totals (mesh.summed_rows) and the
statements a repository queues in `at_commit` ride with the COMMIT in the same round trip (see
mesh.at_commit).

A batched consumer (mesh.consuming) runs many use cases in one transaction: `batch()` begins
it and claims the whole batch in the inbox with one statement; inside it each use case's
`async with uow:` block and its `commit()` only mark where the use case ends, and everything
commits together when the batch ends. A use case that leaves its block without committing and
without an error (it meant to roll back) abandons the batch: it is rolled back whole and its
messages are handled one by one, each in its own transaction, as without batching."""

from __future__ import annotations

import abc
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from types import TracebackType
from typing import ClassVar, Self, TypeAlias

from google.protobuf.message import Message
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mesh import inbox as mesh_inbox
from mesh.at_commit import Statement, commit_with
from mesh.events import new_envelope
from mesh.summed_rows import Key, SummedRows, SummedUpsert
from mesh.uow import E, UnitOfWork

# (subject, aggregate_id, payload) of an outgoing event; the entrypoints own the protobuf.
EventEncoder: TypeAlias = Callable[[E], tuple[str, str, Message]]


class BatchAbandoned(RuntimeError):
    """A use case in a batch left its unit of work without committing: the batch is rolled
    back and its messages are handled one by one."""


class AtCommit(list[Statement]):
    """What a transaction sends with its COMMIT: statements, in the order queued, then the
    summed additions to total rows (`add`)."""

    def __init__(self) -> None:
        super().__init__()
        self.sums = SummedRows()

    def add(self, upsert: SummedUpsert, key: Key, amounts: tuple[Decimal, ...]) -> None:
        self.sums.add(upsert, key, amounts)

    def take(self) -> list[Statement]:
        statements = [*self, *self.sums.take()]
        self.clear()
        return statements


class SqlUnitOfWork(UnitOfWork[E]):
    """A service's SQL unit of work names its schema's `outbox_table` and opens its repositories
    in `open_repositories`. `after_commit` runs when a commit wrote events (the
    relay's wake-up call)."""

    outbox_table: ClassVar[Table]

    def __init__(
        self,
        engine: AsyncEngine,
        encode: EventEncoder[E],
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.encode = encode
        self.after_commit = after_commit
        self._conn: AsyncConnection | None = None
        self._at_commit = AtCommit()
        self._outbox: list[tuple[str, str, bytes]] = []  # (event_id, subject, envelope)
        # While a batch runs: the event ids it claimed, per consumer, and whether the current
        # use case committed.
        self._batch: dict[str, set[str]] | None = None
        self._use_case_committed = False

    @abc.abstractmethod
    def open_repositories(self, conn: AsyncConnection, at_commit: AtCommit) -> None:
        """Set the service's repositories on `self`, over the transaction's connection."""

    async def prepare_batch(self) -> None:
        """Called when a batch's transaction begins: take, in one fixed order, the locks its
        use cases would take in their own order (two batches must not wait on each other in
        a cycle). Nothing by default."""

    @property
    def in_batch(self) -> bool:
        """True while a batch's use cases run (`batch`): their events were claimed with it."""
        return self._batch is not None

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._conn

    async def __aenter__(self) -> Self:
        if self._batch is not None:
            self._use_case_committed = False
            return self
        return await super().__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._batch is None:
            await super().__aexit__(exc_type, exc, tb)
        elif exc is None and not self._use_case_committed:
            raise BatchAbandoned("a use case left its unit of work without committing")

    async def begin(self) -> None:
        self._conn = await self.engine.connect()
        await self._conn.begin()
        self._at_commit = AtCommit()
        self._outbox = []
        self.open_repositories(self._conn, self._at_commit)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                if conn.in_transaction():
                    await conn.rollback()
            finally:
                await conn.close()

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        claimed = self._batch.get(consumer) if self._batch is not None else None
        if claimed is not None:
            canonical = str(uuid.UUID(event_id))
            if canonical in claimed:
                # Claimed with the batch; a second use case for the same event is a duplicate.
                claimed.discard(canonical)
                return True
        return await mesh_inbox.claim(self.conn, consumer, event_id)

    async def publish(self, event: E) -> None:
        """The row is written with the COMMIT (one multi-row statement for all of them)."""
        subject, aggregate_id, payload = self.encode(event)
        envelope = new_envelope(subject, aggregate_id, payload)
        self._outbox.append((envelope.event_id, subject, envelope.SerializeToString()))

    async def commit(self) -> None:
        if self._batch is not None:
            self._use_case_committed = True
            return
        await self._commit_transaction()

    async def _commit_transaction(self) -> None:
        statements = self._at_commit.take()
        events = len(self._outbox)
        if self._outbox:
            statements.insert(0, self._outbox_rows())
        await commit_with(self.conn, statements)
        if events and self.after_commit is not None:
            self.after_commit()

    def _outbox_rows(self) -> Statement:
        rows, self._outbox = self._outbox, []
        sql = (
            f"INSERT INTO {self.outbox_table.name} (event_id, subject, payload) "
            "SELECT * FROM unnest(%(ids)s::uuid[], %(subjects)s::text[], %(payloads)s::bytea[])"
        )
        return sql, {
            "ids": [r[0] for r in rows],
            "subjects": [r[1] for r in rows],
            "payloads": [r[2] for r in rows],
        }

    @asynccontextmanager
    async def batch(self, consumer: str, event_ids: Sequence[str]) -> AsyncIterator[set[str]]:
        """One transaction for a batch of events of `consumer`: yields the ids (canonical) it
        sees for the first time, claimed in the inbox; the use cases run in it (each in its
        `async with uow:` block) and everything commits when the block ends. An error, or a
        use case that did not commit (`BatchAbandoned`), rolls the whole batch back."""
        await self.begin()
        try:
            await self.prepare_batch()
            claimed = await mesh_inbox.claim_many(self.conn, consumer, event_ids)
            self._batch = {consumer: set(claimed)}
            yield claimed
            self._batch = None
            await self._commit_transaction()
        finally:
            self._batch = None
            await self.close()
