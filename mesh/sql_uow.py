"""`mesh.uow.UnitOfWork` on PostgreSQL: one connection, one transaction; the inbox claim and the
outbox rows on that connection; statements a repository queues in `at_commit` ride with the
COMMIT in the same round trip (see mesh.at_commit)."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ClassVar, TypeAlias

from google.protobuf.message import Message
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mesh import inbox as mesh_inbox
from mesh import outbox as mesh_outbox
from mesh.at_commit import Statement, commit_with
from mesh.uow import E, UnitOfWork

# (subject, aggregate_id, payload) of an outgoing event; the entrypoints own the protobuf.
EventEncoder: TypeAlias = Callable[[E], tuple[str, str, Message]]


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
        self._events = 0
        self._at_commit: list[Statement] = []

    @abc.abstractmethod
    def open_repositories(self, conn: AsyncConnection, at_commit: list[Statement]) -> None:
        """Set the service's repositories on `self`, over the transaction's connection."""

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._conn

    async def begin(self) -> None:
        self._conn = await self.engine.connect()
        await self._conn.begin()
        self._events = 0
        self._at_commit = []
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
        return await mesh_inbox.claim(self.conn, consumer, event_id)

    async def publish(self, event: E) -> None:
        subject, aggregate_id, payload = self.encode(event)
        await mesh_outbox.enqueue(self.conn, self.outbox_table, subject, aggregate_id, payload)
        self._events += 1

    async def commit(self) -> None:
        statements, self._at_commit[:] = list(self._at_commit), []
        await commit_with(self.conn, statements)
        if self._events and self.after_commit is not None:
            self.after_commit()
        self._events = 0
