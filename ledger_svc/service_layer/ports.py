"""The ports the ledger's use cases talk to: an append-only book of transactions with its
maintained balance rows, inside a unit of work that commits the postings, the inbox claim and
the outgoing events together."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from ledger_svc.domain import (
    AccountBalance,
    BalanceDelta,
    CurrencyTotals,
    EntryRecord,
    LedgerPosted,
    Seal,
    Transaction,
)
from mesh.uow import UnitOfWork


class LedgerRepository(abc.ABC):
    """Transactions and entries are only ever appended; balances are maintained beside them."""

    @abc.abstractmethod
    async def add_transaction(self, txn: Transaction, seal: Seal) -> bool:
        """Append the transaction and its entries, posted at `seal.posted_at`, as the next link
        of chain `seal.chain` (hash = link_hash(the chain's last hash, seal.digest)). False,
        writing nothing, when a transaction for the same payment order (or the same refund)
        exists."""

    @abc.abstractmethod
    async def apply_balances(self, deltas: Sequence[BalanceDelta]) -> None:
        """Add the deltas to the maintained (account, currency) totals, in the order given, as
        part of this unit of work (an adapter may hold the write until the commit)."""

    @abc.abstractmethod
    async def account_balances(self, account: str) -> list[AccountBalance]:
        """The account's totals per currency, sorted by currency; empty when it has none."""

    @abc.abstractmethod
    async def entries(
        self, account: str, before_entry_id: int | None, limit: int
    ) -> list[EntryRecord]:
        """Up to `limit` of the account's entries, newest first, with ids below
        `before_entry_id` when one is given."""

    @abc.abstractmethod
    async def currency_totals(self) -> list[CurrencyTotals]:
        """Debits and credits over every account, per currency, sorted by currency."""


class LedgerUnitOfWork(UnitOfWork[LedgerPosted]):
    """One database transaction (mesh.uow.UnitOfWork) over `ledger`; its events are
    `LedgerPosted`. `commit()` commits the postings, the inbox claim and the events, all or
    nothing."""

    ledger: LedgerRepository
