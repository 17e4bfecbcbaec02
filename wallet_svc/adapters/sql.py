"""The wallet's unit of work and repository on PostgreSQL: one connection, one transaction;
the balance upsert rides with the COMMIT in the same round trip."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.money import Money
from mesh.sql_uow import AtCommit, SqlUnitOfWork
from mesh.summed_rows import SummedUpsert
from wallet_svc.adapters.tables import (
    balances,
    outbox,
    wallet_credits,
    wallet_holds,
    wallet_moves,
    wallet_refund_debits,
    wallet_releases,
)
from wallet_svc.domain import (
    Balance,
    Credit,
    DebitSplit,
    DomainEvent,
    Hold,
    HoldStatus,
    RefundDebit,
    WalletMoved,
)
from wallet_svc.service_layer.ports import CreditToRelease, WalletRepository, WalletUnitOfWork

# Built once: the hot path only binds values (no statement construction per event).
_ADD_CREDIT = (
    insert(wallet_credits)
    .values(
        {
            c.name: bindparam(c.name)
            for c in wallet_credits.columns
            if c.name not in ("credited_at", "settled_debt")
        }
    )
    .on_conflict_do_nothing(index_elements=[wallet_credits.c.payment_order_id])
    .returning(wallet_credits.c.payment_order_id)
)
# Sent with the COMMIT by the driver itself (see mesh/at_commit.py), hence psycopg placeholders:
# a busy seller's balance row is locked only while the server commits. A batch of credits
# writes each seller's row once, with their sum, in one statement (mesh.summed_rows).
_ADD_PENDING = SummedUpsert(
    """
    INSERT INTO balances (seller_account, currency, pending)
    SELECT b.seller_account, b.currency, b.amount
    FROM unnest(%(sellers)s::text[], %(currencies)s::text[], %(amounts)s::numeric[])
         WITH ORDINALITY AS b(seller_account, currency, amount, n)
    ORDER BY b.n
    ON CONFLICT (seller_account, currency) DO UPDATE
    SET pending = balances.pending + EXCLUDED.pending, updated_at = now()
    """,
    keys=("sellers", "currencies"),
    amounts=("amounts",),
)


_LOCK_BALANCE = text(
    """
    SELECT pending, available, reserved, debt FROM balances
     WHERE seller_account = :seller_account AND currency = :currency FOR UPDATE
    """
)
# The row exists: the order's credit made it, and a debit waits for its credit.
_APPLY_REFUND_DEBIT = text(
    """
    UPDATE balances
       SET pending = pending - :from_pending, available = available - :from_available,
           debt = debt + :to_debt, updated_at = now()
     WHERE seller_account = :seller_account AND currency = :currency
    """
)


class SqlWalletRepository(WalletRepository):
    def __init__(self, conn: AsyncConnection, at_commit: AtCommit) -> None:
        self.conn = conn
        self.at_commit = at_commit

    async def add_credit(
        self, credit: Credit, event_id: str, settled_debt: Decimal = Decimal(0)
    ) -> bool:
        if settled_debt:
            result = await self.conn.execute(
                insert(wallet_credits)
                .values(
                    payment_order_id=credit.payment_order_id,
                    event_id=event_id,
                    seller_account=credit.seller_account,
                    currency=credit.currency,
                    gross=credit.gross.amount,
                    fee=credit.fee.amount,
                    amount=credit.net.amount,
                    settled_debt=settled_debt,
                )
                .on_conflict_do_nothing(index_elements=[wallet_credits.c.payment_order_id])
                .returning(wallet_credits.c.payment_order_id)
            )
            return result.first() is not None
        result = await self.conn.execute(
            _ADD_CREDIT,
            {
                "payment_order_id": credit.payment_order_id,
                "event_id": event_id,
                "seller_account": credit.seller_account,
                "currency": credit.currency,
                "gross": credit.gross.amount,
                "fee": credit.fee.amount,
                "amount": credit.net.amount,
            },
        )
        return result.first() is not None

    async def add_pending(self, seller_account: str, amount: Money) -> None:
        """Sent with the COMMIT (see mesh/at_commit.py)."""
        self.at_commit.add(_ADD_PENDING, (seller_account, amount.currency), (amount.amount,))

    async def balances(self, seller_account: str) -> list[Balance]:
        rows = await self.conn.execute(
            select(
                balances.c.currency,
                balances.c.pending,
                balances.c.available,
                balances.c.reserved,
                balances.c.debt,
            )
            .where(balances.c.seller_account == seller_account)
            .order_by(balances.c.currency)
        )
        return [Balance(r.currency, r.pending, r.available, r.reserved, r.debt) for r in rows]

    async def has_credit(self, payment_order_id: str) -> bool:
        found = await self.conn.scalar(
            select(wallet_credits.c.payment_order_id).where(
                wallet_credits.c.payment_order_id == payment_order_id
            )
        )
        return found is not None

    async def lock_balance(self, seller_account: str, currency: str) -> Balance:
        row = (
            await self.conn.execute(
                _LOCK_BALANCE, {"seller_account": seller_account, "currency": currency}
            )
        ).first()
        if row is None:
            return Balance(currency)
        return Balance(currency, row.pending, row.available, row.reserved, row.debt)

    async def add_refund_debit(self, debit: RefundDebit, split: DebitSplit, event_id: str) -> bool:
        result = await self.conn.execute(
            insert(wallet_refund_debits)
            .values(
                refund_id=debit.refund_id,
                event_id=event_id,
                payment_order_id=debit.payment_order_id,
                seller_account=debit.seller_account,
                currency=debit.currency,
                gross=debit.amount.amount,
                fee_refunded=debit.fee_refunded.amount,
                amount=debit.net.amount,
                from_pending=split.from_pending,
                from_available=split.from_available,
                to_debt=split.to_debt,
            )
            .on_conflict_do_nothing(index_elements=[wallet_refund_debits.c.refund_id])
            .returning(wallet_refund_debits.c.refund_id)
        )
        return result.first() is not None

    async def apply_refund_debit(
        self, seller_account: str, currency: str, split: DebitSplit
    ) -> None:
        await self.conn.execute(
            _APPLY_REFUND_DEBIT,
            {
                "seller_account": seller_account,
                "currency": currency,
                "from_pending": split.from_pending,
                "from_available": split.from_available,
                "to_debt": split.to_debt,
            },
        )

    async def debt_of(self, seller_account: str, currency: str) -> Decimal:
        found = await self.conn.scalar(
            select(balances.c.debt).where(
                balances.c.seller_account == seller_account, balances.c.currency == currency
            )
        )
        return found or Decimal(0)

    async def save_balance(self, seller_account: str, balance: Balance) -> None:
        values = {
            "pending": balance.pending,
            "available": balance.available,
            "reserved": balance.reserved,
            "debt": balance.debt,
        }
        await self.conn.execute(
            insert(balances)
            .values(seller_account=seller_account, currency=balance.currency, **values)
            .on_conflict_do_update(
                index_elements=[balances.c.seller_account, balances.c.currency],
                set_={**values, "updated_at": func.now()},
            )
        )

    async def add_move(self, move: WalletMoved) -> None:
        await self.conn.execute(
            insert(wallet_moves).values(
                move_id=move.move_id,
                seller_account=move.seller_account,
                currency=move.amount.currency,
                amount=move.amount.amount,
                debit=move.debit.value,
                credit=move.credit.value,
                reason=move.reason,
                reference=move.reference,
            )
        )

    async def credit_to_release(self, payment_order_id: str) -> CreditToRelease | None:
        row = (
            await self.conn.execute(
                text(
                    """
                    SELECT c.seller_account, c.currency, c.amount - c.settled_debt
                           - coalesce((SELECT sum(d.from_pending) FROM wallet_refund_debits d
                                        WHERE d.payment_order_id = c.payment_order_id), 0)
                           AS in_pending,
                           EXISTS (SELECT 1 FROM wallet_releases r
                                    WHERE r.payment_order_id = c.payment_order_id) AS released
                      FROM wallet_credits c WHERE c.payment_order_id = :id
                    """
                ),
                {"id": payment_order_id},
            )
        ).first()
        if row is None:
            return None
        return CreditToRelease(
            payment_order_id, row.seller_account, row.currency, row.in_pending, row.released
        )

    async def add_release(
        self, release: CreditToRelease, amount: Decimal, reason: str, event_id: str
    ) -> bool:
        result = await self.conn.execute(
            insert(wallet_releases)
            .values(
                payment_order_id=release.payment_order_id,
                event_id=event_id,
                seller_account=release.seller_account,
                currency=release.currency,
                amount=amount,
                reason=reason,
            )
            .on_conflict_do_nothing(index_elements=[wallet_releases.c.payment_order_id])
            .returning(wallet_releases.c.payment_order_id)
        )
        return result.first() is not None

    async def is_released(self, payment_order_id: str) -> bool:
        found = await self.conn.scalar(
            select(wallet_releases.c.payment_order_id).where(
                wallet_releases.c.payment_order_id == payment_order_id
            )
        )
        return found is not None

    async def due_for_release(self, credited_before: datetime, limit: int) -> list[str]:
        rows = await self.conn.execute(
            select(wallet_credits.c.payment_order_id)
            .where(
                wallet_credits.c.credited_at < credited_before,
                ~select(wallet_releases.c.payment_order_id)
                .where(wallet_releases.c.payment_order_id == wallet_credits.c.payment_order_id)
                .exists(),
            )
            .order_by(wallet_credits.c.credited_at)
            .limit(limit)
        )
        return [r.payment_order_id for r in rows]

    async def get_hold(self, hold_id: str, lock: bool = False) -> Hold | None:
        query = select(wallet_holds).where(wallet_holds.c.hold_id == hold_id)
        if lock:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return Hold(
            row.hold_id, row.seller_account, row.currency, row.amount, HoldStatus(row.status)
        )

    async def add_hold(self, hold: Hold) -> bool:
        result = await self.conn.execute(
            insert(wallet_holds)
            .values(
                hold_id=hold.hold_id,
                seller_account=hold.seller_account,
                currency=hold.currency,
                amount=hold.amount,
                status=hold.status.value,
            )
            .on_conflict_do_nothing(index_elements=[wallet_holds.c.hold_id])
            .returning(wallet_holds.c.hold_id)
        )
        return result.first() is not None

    async def save_hold(self, hold: Hold) -> None:
        await self.conn.execute(
            update(wallet_holds)
            .where(wallet_holds.c.hold_id == hold.hold_id)
            .values(status=hold.status.value, updated_at=func.now())
        )


class SqlWalletUnitOfWork(SqlUnitOfWork[DomainEvent], WalletUnitOfWork):
    """`after_commit` runs when a commit wrote events (the relay's wake-up call)."""

    outbox_table = outbox

    def open_repositories(self, conn: AsyncConnection, at_commit: AtCommit) -> None:
        self.wallets = SqlWalletRepository(conn, at_commit)
