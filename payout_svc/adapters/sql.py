"""The payout service's unit of work and repository on PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.at_commit import Statement
from mesh.metrics import PAYOUT_TRANSITIONS, Children
from mesh.sql_uow import SqlUnitOfWork
from payout_svc.adapters.tables import outbox, payout_history, payouts, sellers
from payout_svc.domain import Payout, PayoutStatus, Schedule, Seller, StatusChange
from payout_svc.domain.events import DomainEvent
from payout_svc.service_layer.ports import PayoutRepository, PayoutUnitOfWork

_payout_entered = Children(PAYOUT_TRANSITIONS)


def _seller(row) -> Seller:  # type: ignore[no-untyped-def]
    return Seller(
        row.seller_account,
        row.destination,
        Schedule(row.schedule),
        row.weekday,
        row.day_of_month,
        {c: Decimal(a) for c, a in row.minimums.items()},
    )


def _seller_values(seller: Seller) -> dict[str, object]:
    return {
        "destination": seller.destination,
        "schedule": seller.schedule.value,
        "weekday": seller.weekday,
        "day_of_month": seller.day_of_month,
        "minimums": {c: str(a) for c, a in seller.minimums.items()},
    }


class SqlPayoutRepository(PayoutRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        # Statuses payouts entered in this transaction, counted once it commits (the unit of
        # work): only history rows written here are counted, so a retry or a duplicate that
        # changes nothing counts nothing.
        self.entered: list[str] = []

    async def get_seller(self, seller_account: str) -> Seller | None:
        row = (
            await self.conn.execute(
                select(sellers).where(sellers.c.seller_account == seller_account)
            )
        ).first()
        return _seller(row) if row else None

    async def add_seller(self, seller: Seller) -> bool:
        result = await self.conn.execute(
            insert(sellers)
            .values(seller_account=seller.seller_account, **_seller_values(seller))
            .on_conflict_do_nothing(index_elements=[sellers.c.seller_account])
            .returning(sellers.c.seller_account)
        )
        return result.first() is not None

    async def save_seller(self, seller: Seller) -> None:
        await self.conn.execute(
            update(sellers)
            .where(sellers.c.seller_account == seller.seller_account)
            .values(**_seller_values(seller), updated_at=func.now())
        )

    async def sellers_on_schedule(self, after: str = "", limit: int | None = None) -> list[Seller]:
        query = (
            select(sellers)
            .where(sellers.c.schedule != "manual", sellers.c.seller_account > after)
            .order_by(sellers.c.seller_account)
        )
        rows = await self.conn.execute(query.limit(limit) if limit else query)
        return [_seller(r) for r in rows]

    async def count_sellers_on_schedule(self) -> int:
        return int(
            await self.conn.scalar(
                select(func.count()).select_from(sellers).where(sellers.c.schedule != "manual")
            )
            or 0
        )

    async def _history(self, payout_ids: list[str]) -> dict[str, tuple[StatusChange, ...]]:
        rows = await self.conn.execute(
            select(payout_history)
            .where(payout_history.c.payout_id.in_(payout_ids))
            .order_by(payout_history.c.id)
        )
        found: dict[str, list[StatusChange]] = {p: [] for p in payout_ids}
        for r in rows:
            found[r.payout_id].append(
                StatusChange(
                    PayoutStatus(r.from_status) if r.from_status else None,
                    PayoutStatus(r.to_status),
                    r.reason,
                    r.occurred_at,
                )
            )
        return {p: tuple(h) for p, h in found.items()}

    @staticmethod
    def _payout(row, history: tuple[StatusChange, ...]) -> Payout:  # type: ignore[no-untyped-def]
        return Payout(
            row.payout_id,
            row.seller_account,
            row.currency,
            row.amount,
            row.destination,
            PayoutStatus(row.status),
            row.created_at,
            row.updated_at,
            row.provider_reference,
            row.failure_reason,
            row.returned,
            history,
        )

    async def get_payout(self, payout_id: str, lock: bool = False) -> Payout | None:
        query = select(payouts).where(payouts.c.payout_id == payout_id)
        if lock:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return self._payout(row, (await self._history([payout_id]))[payout_id])

    async def add_payout(self, payout: Payout) -> bool:
        result = await self.conn.execute(
            insert(payouts)
            .values(
                payout_id=payout.payout_id,
                seller_account=payout.seller_account,
                currency=payout.currency,
                amount=payout.amount,
                destination=payout.destination,
                status=payout.status.value,
                created_at=payout.created_at,
                updated_at=payout.updated_at,
            )
            .on_conflict_do_nothing(index_elements=[payouts.c.payout_id])
            .returning(payouts.c.payout_id)
        )
        if result.first() is None:
            return False
        await self._append_history(payout.payout_id, payout.history)
        return True

    async def _append_history(self, payout_id: str, changes: tuple[StatusChange, ...]) -> None:
        self.entered += [c.to_status.value for c in changes]
        if changes:
            await self.conn.execute(
                insert(payout_history),
                [
                    {
                        "payout_id": payout_id,
                        "from_status": c.from_status.value if c.from_status else None,
                        "to_status": c.to_status.value,
                        "reason": c.reason,
                        "occurred_at": c.occurred_at,
                    }
                    for c in changes
                ],
            )

    async def save_payout(self, payout: Payout) -> None:
        stored = await self.conn.scalar(
            select(func.count())
            .select_from(payout_history)
            .where(payout_history.c.payout_id == payout.payout_id)
        )
        await self.conn.execute(
            update(payouts)
            .where(payouts.c.payout_id == payout.payout_id)
            .values(
                amount=payout.amount,
                status=payout.status.value,
                provider_reference=payout.provider_reference,
                failure_reason=payout.failure_reason,
                returned=payout.returned,
                updated_at=payout.updated_at,
            )
        )
        await self._append_history(payout.payout_id, payout.history[int(stored or 0) :])

    async def list_payouts(
        self, seller_account: str, before: tuple[datetime, str] | None, limit: int
    ) -> list[Payout]:
        query = select(payouts).where(payouts.c.seller_account == seller_account)
        if before is not None:
            query = query.where(tuple_(payouts.c.created_at, payouts.c.payout_id) < tuple_(*before))
        rows = list(
            await self.conn.execute(
                query.order_by(payouts.c.created_at.desc(), payouts.c.payout_id.desc()).limit(limit)
            )
        )
        history = await self._history([r.payout_id for r in rows])
        return [self._payout(r, history[r.payout_id]) for r in rows]

    async def stale(
        self,
        statuses: tuple[PayoutStatus, ...],
        updated_before: datetime,
        limit: int,
        updated_after: datetime | None = None,
    ) -> list[str]:
        query = select(payouts.c.payout_id).where(
            payouts.c.status.in_([s.value for s in statuses]),
            payouts.c.updated_at < updated_before,
        )
        if updated_after is not None:
            query = query.where(payouts.c.updated_at > updated_after)
        rows = await self.conn.execute(query.order_by(payouts.c.updated_at).limit(limit))
        return [r.payout_id for r in rows]


class SqlPayoutUnitOfWork(SqlUnitOfWork[DomainEvent], PayoutUnitOfWork):
    outbox_table = outbox
    payouts: SqlPayoutRepository  # its `entered` is counted at commit

    def open_repositories(self, conn: AsyncConnection, at_commit: list[Statement]) -> None:
        self.payouts = SqlPayoutRepository(conn)

    async def commit(self) -> None:
        await super().commit()
        # Counted only now: a transition rolled back never happened. (payout_svc's consumer
        # does not batch, so this commit is the transaction's.)
        for status in self.payouts.entered:
            _payout_entered(status).inc()
        self.payouts.entered.clear()
