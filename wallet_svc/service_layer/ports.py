"""The ports the wallet's use cases talk to: a repository of credits and balances, inside a
unit of work that commits the effect, the inbox claim and the outgoing events together."""

from __future__ import annotations

import abc

from mesh.money import Money
from mesh.uow import UnitOfWork
from wallet_svc.domain import Balance, Credit, DebitSplit, RefundDebit, WalletCredited


class WalletRepository(abc.ABC):
    """Credits (one per payment order, ever) and the maintained balance rows."""

    @abc.abstractmethod
    async def add_credit(self, credit: Credit, event_id: str) -> bool:
        """Record the credit of an order; False when the order was credited before (by this
        event or any other), in which case nothing was written."""

    @abc.abstractmethod
    async def add_pending(self, seller_account: str, amount: Money) -> None:
        """Add `amount` to the seller's pending balance in its currency (the row is created on
        first use), as part of this unit of work (an adapter may hold the write until the
        commit)."""

    @abc.abstractmethod
    async def balances(self, seller_account: str) -> list[Balance]:
        """Every balance the seller holds, sorted by currency; empty for an unknown seller."""

    @abc.abstractmethod
    async def has_credit(self, payment_order_id: str) -> bool:
        """Whether the order was credited (a refund of it is applied only after its credit)."""

    @abc.abstractmethod
    async def lock_balance(self, seller_account: str, currency: str) -> Balance:
        """The seller's balance in `currency` (zero if none), locked until the end of the unit
        of work so that the split of a refund debit is decided on what it really is."""

    @abc.abstractmethod
    async def add_refund_debit(self, debit: RefundDebit, split: DebitSplit, event_id: str) -> bool:
        """Record the debit of a refund; False when the refund was debited before (by this
        event or any other), in which case nothing was written."""

    @abc.abstractmethod
    async def apply_refund_debit(
        self, seller_account: str, currency: str, split: DebitSplit
    ) -> None:
        """Take the split from the seller's pending and available balance."""


class WalletUnitOfWork(UnitOfWork[WalletCredited]):
    """One database transaction (mesh.uow.UnitOfWork) over `wallets`; its events are
    `WalletCredited`."""

    wallets: WalletRepository
