"""The wallet's unit of work and repository on PostgreSQL: one connection, one transaction;
the balance upsert rides with the COMMIT in the same round trip."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.message import Message
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mesh import inbox as mesh_inbox
from mesh import outbox as mesh_outbox
from mesh.money import Money
from wallet_svc.adapters.at_commit import Statement, commit_with
from wallet_svc.adapters.tables import balances, outbox, wallet_credits
from wallet_svc.domain import Balance, Credit, WalletCredited
from wallet_svc.service_layer.ports import WalletRepository, WalletUnitOfWork

# (subject, aggregate_id, payload) of an outgoing event; the entrypoints own the protobuf.
EventEncoder = Callable[[WalletCredited], tuple[str, str, Message]]


# Built once: the hot path only binds values (no statement construction per event).
_ADD_CREDIT = (
    insert(wallet_credits)
    .values({c.name: bindparam(c.name) for c in wallet_credits.columns if c.name != "credited_at"})
    .on_conflict_do_nothing(index_elements=[wallet_credits.c.payment_order_id])
    .returning(wallet_credits.c.payment_order_id)
)
# Sent with the COMMIT by the driver itself (see at_commit.py), hence psycopg placeholders: a
# busy seller's balance row is locked only while the server commits.
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
        """Sent with the COMMIT (see at_commit.py)."""
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


class SqlWalletUnitOfWork(WalletUnitOfWork):
    """`after_commit` runs when a commit wrote events (the relay's wake-up call)."""

    def __init__(
        self,
        engine: AsyncEngine,
        encode: EventEncoder,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.encode = encode
        self.after_commit = after_commit
        self._conn: AsyncConnection | None = None
        self._events = 0
        self._at_commit: list[Statement] = []

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
        self.wallets = SqlWalletRepository(self._conn, self._at_commit)

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

    async def publish(self, event: WalletCredited) -> None:
        subject, aggregate_id, payload = self.encode(event)
        await mesh_outbox.enqueue(self.conn, outbox, subject, aggregate_id, payload)
        self._events += 1

    async def commit(self) -> None:
        statements, self._at_commit[:] = list(self._at_commit), []
        await commit_with(self.conn, statements)
        if self._events and self.after_commit is not None:
            self.after_commit()
        self._events = 0
