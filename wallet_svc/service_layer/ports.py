"""The ports the wallet's use cases talk to: a repository of credits and balances, inside a
unit of work that commits the effect, the inbox claim and the outgoing events together."""

from __future__ import annotations

import abc

from mesh.money import Money
from mesh.uow import UnitOfWork
from wallet_svc.domain import Balance, Credit, WalletCredited


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


class WalletUnitOfWork(UnitOfWork[WalletCredited]):
    """One database transaction (mesh.uow.UnitOfWork) over `wallets`; its events are
    `WalletCredited`."""

    wallets: WalletRepository
