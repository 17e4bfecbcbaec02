"""The unit of work on PostgreSQL: one connection, one transaction; events go to the outbox on
the same connection, and the relay is woken once the transaction has committed."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from google.protobuf.message import Message
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mesh.outbox import enqueue
from payment_svc.adapters.sql_repository import SqlPaymentRepository
from payment_svc.adapters.tables import outbox
from payment_svc.domain.events import DomainEvent
from payment_svc.service_layer.ports import StoreUnavailable, UnitOfWork

# (subject, aggregate id, payload) of an event; supplied by the entrypoints, which own the protos.
EventEncoder = Callable[[DomainEvent], tuple[str, str, Message]]


def is_unavailable(err: BaseException) -> bool:
    """The database was out of reach (connect failure, lost connection, pool exhausted), as
    opposed to a statement it refused."""
    if isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated:
        return True
    return isinstance(err, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)


def unavailable(err: BaseException) -> StoreUnavailable:
    """The port's error, with the driver's first line only: no SQL, no parameters (PII)."""
    cause = getattr(err, "orig", None) or err
    first_line = (str(cause).splitlines() or [""])[0]
    return StoreUnavailable(f"{type(cause).__name__}: {first_line}"[:300])


class SqlUnitOfWork(UnitOfWork):
    def __init__(
        self,
        engine: AsyncEngine,
        encode: EventEncoder,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._encode = encode
        self._on_commit = on_commit
        self._conn: AsyncConnection | None = None
        self._emitted = False

    async def __aenter__(self) -> SqlUnitOfWork:
        try:
            self._conn = await self._engine.connect()
        except Exception as err:
            if is_unavailable(err):
                raise unavailable(err) from err
            raise
        try:
            await self._conn.begin()
        except BaseException as err:
            await self._conn.close()
            self._conn = None
            if isinstance(err, Exception) and is_unavailable(err):
                raise unavailable(err) from err
            raise
        self.repo = SqlPaymentRepository(self._conn)
        self._emitted = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()
        except Exception:
            if exc is None:
                raise
            # The connection is likely broken; the error that broke it is the one to report.
        if exc is not None and is_unavailable(exc):
            raise unavailable(exc) from exc

    async def emit(self, event: DomainEvent) -> None:
        assert self._conn is not None, "emit outside a transaction"
        subject, aggregate_id, payload = self._encode(event)
        await enqueue(self._conn, outbox, subject, aggregate_id, payload)
        self._emitted = True

    async def commit(self) -> None:
        assert self._conn is not None, "commit outside a transaction"
        conn, self._conn = self._conn, None
        try:
            await conn.commit()
        finally:
            await conn.close()
        if self._emitted and self._on_commit is not None:
            self._on_commit()

    async def rollback(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            await conn.rollback()
        finally:
            await conn.close()


def uow_factory(
    engine: AsyncEngine, encode: EventEncoder, on_commit: Callable[[], None] | None = None
) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine, encode, on_commit)
