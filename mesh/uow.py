"""The unit of work a consuming service's use cases talk to, I/O-free (service layers import
it; `mesh.sql_uow` implements it on PostgreSQL).

One database transaction commits the effect of a command or event, the inbox claim of the event
that caused it and the events it causes (the outbox), all or nothing.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar, runtime_checkable

E = TypeVar("E")  # the service's outgoing domain event


class UnitOfWork(abc.ABC, Generic[E]):
    """One database transaction. `async with uow:` begins it; leaving the block without
    `commit()` rolls everything back. A service's port subclasses it with its repositories."""

    async def __aenter__(self) -> Self:
        await self.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abc.abstractmethod
    async def begin(self) -> None:
        """Start the transaction."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Roll back whatever was not committed and release the transaction's resources."""

    @abc.abstractmethod
    async def claim_event(self, consumer: str, event_id: str) -> bool:
        """Record that `consumer` handled `event_id` (the inbox); False when it already had."""

    @abc.abstractmethod
    async def publish(self, event: E) -> None:
        """Queue an event, published only if and after the transaction commits (the outbox)."""

    @abc.abstractmethod
    async def commit(self) -> None:
        """Commit the effect, the inbox claim and the events, all or nothing."""


@runtime_checkable
class BatchingUnitOfWork(Protocol):
    """A unit of work that can carry a whole batch of a consumer's events in one transaction
    (mesh.sql_uow.SqlUnitOfWork.batch; mesh.consuming runs the batches)."""

    def batch(
        self, consumer: str, event_ids: Sequence[str]
    ) -> AbstractAsyncContextManager[set[str]]:
        """Begin the batch's transaction and claim `event_ids` for `consumer` in the inbox;
        yields those seen for the first time; commits when the block ends."""
        ...
