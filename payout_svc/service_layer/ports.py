"""The ports the payout use cases talk to: a repository of sellers and payouts inside a unit of
work (mesh.uow.UnitOfWork: effect, inbox claim and outbox together), and the wallet's holds."""

from __future__ import annotations

import abc
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from mesh.uow import UnitOfWork
from payout_svc.domain import Payout, PayoutStatus, Seller
from payout_svc.domain.events import DomainEvent

Clock = Callable[[], datetime]


class PayoutRepository(abc.ABC):
    @abc.abstractmethod
    async def get_seller(self, seller_account: str) -> Seller | None: ...

    @abc.abstractmethod
    async def add_seller(self, seller: Seller) -> bool:
        """False (nothing written) when the seller exists."""

    @abc.abstractmethod
    async def save_seller(self, seller: Seller) -> None: ...

    @abc.abstractmethod
    async def sellers_on_schedule(self, after: str = "", limit: int | None = None) -> list[Seller]:
        """Sellers whose schedule is not manual, by seller account, after `after` (at most
        `limit`; None: all)."""

    @abc.abstractmethod
    async def count_sellers_on_schedule(self) -> int: ...

    @abc.abstractmethod
    async def get_payout(self, payout_id: str, lock: bool = False) -> Payout | None:
        """The payout with its history; locked to the end of the unit of work when `lock`."""

    @abc.abstractmethod
    async def add_payout(self, payout: Payout) -> bool:
        """False (nothing written) when the payout id exists."""

    @abc.abstractmethod
    async def save_payout(self, payout: Payout) -> None:
        """Write the payout's status and fields, and append the history entries it gained."""

    @abc.abstractmethod
    async def list_payouts(
        self, seller_account: str, before: tuple[datetime, str] | None, limit: int
    ) -> list[Payout]:
        """The seller's payouts, newest first, older than `before` (created_at, payout_id)."""

    @abc.abstractmethod
    async def stale(
        self,
        statuses: tuple[PayoutStatus, ...],
        updated_before: datetime,
        limit: int,
        updated_after: datetime | None = None,
    ) -> list[str]:
        """Ids of payouts in `statuses` last updated before `updated_before` (and after
        `updated_after`), least recently updated first."""


class PayoutUnitOfWork(UnitOfWork[DomainEvent]):
    payouts: PayoutRepository


class WalletUnavailable(Exception):
    """The wallet did not answer: the hold's outcome is unknown; the same call (idempotent on
    the hold id) is made again later."""


class Holds(abc.ABC):
    """The wallet's holds (idempotent on the hold id, which is the payout id). Refusals are
    `mesh.errors.ServiceError` as the wallet gave them (INSUFFICIENT_FUNDS, ...)."""

    @abc.abstractmethod
    async def reserve(
        self, hold_id: str, seller_account: str, amount: Decimal | None, currency: str
    ) -> Decimal:
        """Hold `amount` (None: everything available); returns the amount held."""

    @abc.abstractmethod
    async def capture(self, hold_id: str) -> None: ...

    @abc.abstractmethod
    async def release(self, hold_id: str) -> None: ...

    @abc.abstractmethod
    async def return_(self, hold_id: str) -> None: ...

    @abc.abstractmethod
    async def available(self, seller_account: str) -> dict[str, Decimal]:
        """The seller's available balance per currency (empty for a seller never credited)."""
