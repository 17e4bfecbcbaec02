"""The wallet's unit of work and repository on PostgreSQL: one connection, one transaction;
the balance upsert rides with the COMMIT in the same round trip."""

from __future__ import annotations

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.at_commit import Statement
from mesh.money import Money
from mesh.sql_uow import SqlUnitOfWork
from wallet_svc.adapters.tables import balances, outbox, wallet_credits, wallet_refund_debits
from wallet_svc.domain import Balance, Credit, DebitSplit, RefundDebit, WalletCredited
from wallet_svc.service_layer.ports import WalletRepository, WalletUnitOfWork

# Built once: the hot path only binds values (no statement construction per event).
_ADD_CREDIT = (
    insert(wallet_credits)
    .values({c.name: bindparam(c.name) for c in wallet_credits.columns if c.name != "credited_at"})
    .on_conflict_do_nothing(index_elements=[wallet_credits.c.payment_order_id])
    .returning(wallet_credits.c.payment_order_id)
)
# Sent with the COMMIT by the driver itself (see mesh/at_commit.py), hence psycopg placeholders:
# a busy seller's balance row is locked only while the server commits.
_ADD_PENDING = """
    INSERT INTO balances (seller_account, currency, pending)
    VALUES (%(seller_account)s, %(currency)s, %(amount)s)
    ON CONFLICT (seller_account, currency) DO UPDATE
    SET pending = balances.pending + EXCLUDED.pending, updated_at = now()
"""


_LOCK_BALANCE = text(
    """
    SELECT pending, available, reserved FROM balances
     WHERE seller_account = :seller_account AND currency = :currency FOR UPDATE
    """
)
# The row exists: the order's credit made it, and a debit waits for its credit.
_APPLY_REFUND_DEBIT = text(
    """
    UPDATE balances
       SET pending = pending - :from_pending, available = available - :from_available,
           updated_at = now()
     WHERE seller_account = :seller_account AND currency = :currency
    """
)


class SqlWalletRepository(WalletRepository):
    def __init__(self, conn: AsyncConnection, at_commit: list[Statement]) -> None:
        self.conn = conn
        self.at_commit = at_commit

    async def add_credit(self, credit: Credit, event_id: str) -> bool:
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
        params = {
            "seller_account": seller_account,
            "currency": amount.currency,
            "amount": amount.amount,
        }
        self.at_commit.append((_ADD_PENDING, params))

    async def balances(self, seller_account: str) -> list[Balance]:
        rows = await self.conn.execute(
            select(
                balances.c.currency, balances.c.pending, balances.c.available, balances.c.reserved
            )
            .where(balances.c.seller_account == seller_account)
            .order_by(balances.c.currency)
        )
        return [Balance(r.currency, r.pending, r.available, r.reserved) for r in rows]

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
        return Balance(currency, row.pending, row.available, row.reserved)

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
            },
        )


class SqlWalletUnitOfWork(SqlUnitOfWork[WalletCredited], WalletUnitOfWork):
    """`after_commit` runs when a commit wrote events (the relay's wake-up call)."""

    outbox_table = outbox

    def open_repositories(self, conn: AsyncConnection, at_commit: list[Statement]) -> None:
        self.wallets = SqlWalletRepository(conn, at_commit)
