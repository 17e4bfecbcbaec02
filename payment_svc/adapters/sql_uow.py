"""The unit of work on PostgreSQL (mesh.sql_uow.SqlUnitOfWork): one connection, one transaction;
events go to the outbox on the same connection, and the relay is woken once the transaction has
committed."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mesh.at_commit import Statement
from mesh.db import is_unavailable
from mesh.metrics import ORDER_TRANSITIONS, REFUND_TRANSITIONS, Children
from mesh.sql_uow import EventEncoder, SqlUnitOfWork
from payment_svc.adapters.pii_cipher import PiiCipher, dev_cipher
from payment_svc.adapters.sql_refunds import SqlRefundRepository
from payment_svc.adapters.sql_repository import SqlPaymentRepository
from payment_svc.adapters.sql_risk import SqlRiskRepository
from payment_svc.adapters.tables import outbox
from payment_svc.domain.checkout import Checkout
from payment_svc.domain.events import DomainEvent
from payment_svc.service_layer.ports import StoreUnavailable, UnitOfWork

_order_entered = Children(ORDER_TRANSITIONS)
_refund_entered = Children(REFUND_TRANSITIONS)


def unavailable(err: BaseException) -> StoreUnavailable:
    """The port's error, with the driver's first line only: no SQL, no parameters (PII)."""
    cause = getattr(err, "orig", None) or err
    first_line = (str(cause).splitlines() or [""])[0]
    return StoreUnavailable(f"{type(cause).__name__}: {first_line}"[:300])


class SqlPaymentUnitOfWork(SqlUnitOfWork[DomainEvent], UnitOfWork):
    """mesh.sql_uow.SqlUnitOfWork over the payment schema, with the database being out of reach
    reported as the port's `StoreUnavailable`. `after_commit` runs when a commit wrote events
    (the relay's wake-up call)."""

    outbox_table = outbox
    cipher: PiiCipher  # set by uow_factory

    def open_repositories(self, conn: AsyncConnection, at_commit: list[Statement]) -> None:
        self.repo = SqlPaymentRepository(conn, self.cipher, at_commit)
        self.refunds = SqlRefundRepository(conn)
        self.risk = SqlRiskRepository(conn, at_commit)

    async def begin(self) -> None:
        try:
            await super().begin()
        except BaseException as err:
            conn, self._conn = self._conn, None
            if conn is not None:  # connected, but BEGIN failed
                await conn.close()
            if isinstance(err, Exception) and is_unavailable(err):
                raise unavailable(err) from err
            raise

    async def claim_and_lock_checkout(
        self, consumer: str, event_id: str, payment_order_id: str
    ) -> tuple[bool, Checkout | None]:
        if self.in_batch:  # claimed with the batch; the checkout locked by it
            return await super().claim_and_lock_checkout(consumer, event_id, payment_order_id)
        return await self.repo.claim_and_lock_checkout(consumer, event_id, payment_order_id)

    async def commit(self) -> None:
        await super().commit()  # outbox rows ride with the COMMIT; the relay is woken
        # Counted only now: a transition rolled back never happened.
        for status in self.repo.entered:
            _order_entered(status).inc()
        for status in self.refunds.entered:
            _refund_entered(status).inc()
        self.repo.entered.clear()
        self.refunds.entered.clear()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        except Exception:
            if exc is None:
                raise
            # The connection is likely broken; the error that broke it is the one to report.
        if exc is not None and is_unavailable(exc):
            raise unavailable(exc) from exc


def uow_factory(
    engine: AsyncEngine,
    encode: EventEncoder[DomainEvent],
    on_commit: Callable[[], None] | None = None,
    cipher: PiiCipher | None = None,
) -> Callable[[], SqlPaymentUnitOfWork]:
    """Units of work on `engine`; buyer PII sealed with `cipher` (the dev stack's when None)."""
    pii = cipher or dev_cipher()

    def make() -> SqlPaymentUnitOfWork:
        uow = SqlPaymentUnitOfWork(engine, encode, on_commit)
        uow.cipher = pii
        return uow

    return make
