"""The wallet's unit of work and repository on PostgreSQL: one connection, one transaction;
the balance upsert rides with the COMMIT in the same round trip."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.at_commit import Statement
from mesh.money import Money
from mesh.sql_uow import SqlUnitOfWork
from wallet_svc.adapters.tables import balances, outbox, wallet_credits
from wallet_svc.domain import Balance, Credit, WalletCredited
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


class SqlWalletUnitOfWork(SqlUnitOfWork[WalletCredited], WalletUnitOfWork):
    """`after_commit` runs when a commit wrote events (the relay's wake-up call)."""

    outbox_table = outbox

    def open_repositories(self, conn: AsyncConnection, at_commit: list[Statement]) -> None:
        self.wallets = SqlWalletRepository(conn, at_commit)
