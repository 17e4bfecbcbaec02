"""An in-memory unit of work, written against the same ports as the SQL one, so the use cases
are tested without a database. Changes are staged and become visible only on commit."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ledger_svc.domain import (
    GENESIS,
    AccountBalance,
    BalanceDelta,
    CurrencyTotals,
    EntryRecord,
    LedgerPosted,
    Seal,
    Transaction,
    link_hash,
)
from ledger_svc.service_layer.ports import LedgerRepository, LedgerUnitOfWork


@dataclass
class LedgerState:
    transactions: dict[str, Transaction] = field(default_factory=dict)
    orders: set[str] = field(default_factory=set)
    refunds: set[str] = field(default_factory=set)
    entries: list[EntryRecord] = field(default_factory=list)
    balances: dict[tuple[str, str], tuple[Decimal, Decimal]] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[LedgerPosted] = field(default_factory=list)
    # chain -> (seq, hash) of its last link; transaction id -> (chain, seq, hash, seal)
    heads: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    links: dict[str, tuple[int, int, bytes, Seal]] = field(default_factory=dict)


class FakeLedgerRepository(LedgerRepository):
    def __init__(self, state: LedgerState) -> None:
        self.state = state

    async def add_transaction(self, txn: Transaction, seal: Seal) -> bool:
        if txn.payment_order_id is not None and txn.payment_order_id in self.state.orders:
            return False
        if txn.refund_id is not None and txn.refund_id in self.state.refunds:
            return False
        if txn.payment_order_id is not None:
            self.state.orders.add(txn.payment_order_id)
        if txn.refund_id is not None:
            self.state.refunds.add(txn.refund_id)
        self.state.transactions[txn.transaction_id] = txn
        seq, previous = self.state.heads.get(seal.chain, (0, GENESIS))
        link = link_hash(previous, seal.digest)
        self.state.heads[seal.chain] = (seq + 1, link)
        self.state.links[txn.transaction_id] = (seal.chain, seq + 1, link, seal)
        for p in txn.postings:
            self.state.entries.append(
                EntryRecord(
                    entry_id=len(self.state.entries) + 1,
                    transaction_id=txn.transaction_id,
                    account=p.account,
                    side=p.side,
                    amount=p.amount,
                    currency=p.currency,
                    payment_order_id=txn.payment_order_id,
                    description=txn.description,
                    posted_at=seal.posted_at,
                )
            )
        return True

    async def apply_balances(self, deltas: Sequence[BalanceDelta]) -> None:
        for d in deltas:
            debits, credits = self.state.balances.get((d.account, d.currency), (Decimal(0),) * 2)
            self.state.balances[(d.account, d.currency)] = (debits + d.debits, credits + d.credits)

    async def account_balances(self, account: str) -> list[AccountBalance]:
        return [
            AccountBalance(a, c, debits, credits)
            for (a, c), (debits, credits) in sorted(self.state.balances.items())
            if a == account
        ]

    async def entries(
        self, account: str, before_entry_id: int | None, limit: int
    ) -> list[EntryRecord]:
        found = [
            e
            for e in reversed(self.state.entries)
            if e.account == account and (before_entry_id is None or e.entry_id < before_entry_id)
        ]
        return found[:limit]

    async def currency_totals(self) -> list[CurrencyTotals]:
        totals: dict[str, tuple[Decimal, Decimal]] = {}
        for (_, currency), (debits, credits) in self.state.balances.items():
            d, c = totals.get(currency, (Decimal(0), Decimal(0)))
            totals[currency] = (d + debits, c + credits)
        return [CurrencyTotals(cur, d, c) for cur, (d, c) in sorted(totals.items())]


class FakeLedgerUnitOfWork(LedgerUnitOfWork):
    def __init__(self, store: FakeLedgerStore) -> None:
        self.store = store
        self.committed = False
        self._staged: LedgerState | None = None

    async def begin(self) -> None:
        self._staged = copy.deepcopy(self.store.state)
        self.ledger = FakeLedgerRepository(self._staged)

    async def close(self) -> None:
        self._staged = None

    def _state(self) -> LedgerState:
        assert self._staged is not None, "outside a transaction"
        return self._staged

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        inbox = self._state().inbox
        if (consumer, event_id) in inbox:
            return False
        inbox.add((consumer, event_id))
        return True

    async def publish(self, event: LedgerPosted) -> None:
        self._state().outbox.append(event)

    async def commit(self) -> None:
        self.store.state = self._state()
        self._staged = copy.deepcopy(self.store.state)
        self.ledger = FakeLedgerRepository(self._staged)
        self.committed = True


class FakeLedgerStore:
    """The fake's "database": hands out units of work over one committed state."""

    def __init__(self) -> None:
        self.state = LedgerState()

    def uow(self) -> FakeLedgerUnitOfWork:
        return FakeLedgerUnitOfWork(self)
