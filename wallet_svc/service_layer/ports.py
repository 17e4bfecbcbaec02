"""The ports the wallet's use cases talk to: a repository of credits and balances, inside a
unit of work that commits the effect, the inbox claim and the outgoing events together."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

from mesh.money import Money
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


class WalletUnitOfWork(abc.ABC):
    """One database transaction. `async with uow:` begins it; leaving the block without
    `commit()` rolls everything back."""

    wallets: WalletRepository

    async def __aenter__(self) -> Self:
        await self.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abc.abstractmethod
    async def begin(self) -> None:
        """Start the transaction."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Roll back whatever was not committed and release the transaction's resources."""

    @abc.abstractmethod
    async def claim_event(self, consumer: str, event_id: str) -> bool:
        """Record that `consumer` handled `event_id` (the inbox); False when it already had."""

    @abc.abstractmethod
    async def publish(self, event: WalletCredited) -> None:
        """Queue an event, published only if and after the transaction commits (the outbox)."""

    @abc.abstractmethod
    async def commit(self) -> None:
        """Commit the effect, the inbox claim and the events, all or nothing."""
