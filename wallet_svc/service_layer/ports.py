"""The ports the wallet's use cases talk to: a repository of credits and balances, inside a
unit of work that commits the effect, the inbox claim and the outgoing events together."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from mesh.money import Money
from mesh.uow import UnitOfWork
from wallet_svc.domain import (
    Balance,
    Credit,
    DebitSplit,
    DomainEvent,
    Hold,
    RefundDebit,
    WalletMoved,
)


@dataclass(frozen=True)
class CreditToRelease:
    """What is left in `pending` of one order's credit: what it put there, less what its
    refunds took from there; `released` once it was released."""

    payment_order_id: str
    seller_account: str
    currency: str
    in_pending: Decimal
    released: bool


class WalletRepository(abc.ABC):
    """Credits (one per payment order, ever) and the maintained balance rows."""

    @abc.abstractmethod
    async def add_credit(
        self, credit: Credit, event_id: str, settled_debt: Decimal = Decimal(0)
    ) -> bool:
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
        """Take the split from the seller's pending and available balance, adding its debt."""

    @abc.abstractmethod
    async def debt_of(self, seller_account: str, currency: str) -> Decimal:
        """The seller's debt in `currency` (zero if none), read without a lock."""

    @abc.abstractmethod
    async def save_balance(self, seller_account: str, balance: Balance) -> None:
        """Write a balance read with `lock_balance` (the row is created if it was not there)."""

    @abc.abstractmethod
    async def add_move(self, move: WalletMoved) -> None:
        """Record a move (the wallet's own trail of what it told the ledger)."""

    @abc.abstractmethod
    async def credit_to_release(self, payment_order_id: str) -> CreditToRelease | None:
        """The order's credit as a release sees it; None before the order was credited."""

    @abc.abstractmethod
    async def add_release(
        self, release: CreditToRelease, amount: Decimal, reason: str, event_id: str
    ) -> bool:
        """Record the release of an order; False (nothing written) if it was released before."""

    @abc.abstractmethod
    async def is_released(self, payment_order_id: str) -> bool:
        """Whether the order was released (its refunds then come out of available)."""

    @abc.abstractmethod
    async def due_for_release(self, credited_before: datetime, limit: int) -> list[str]:
        """Orders credited before `credited_before` and not released yet, oldest first."""

    @abc.abstractmethod
    async def get_hold(self, hold_id: str, lock: bool = False) -> Hold | None:
        """The hold, locked until the end of the unit of work when `lock`."""

    @abc.abstractmethod
    async def add_hold(self, hold: Hold) -> bool:
        """Record a new hold; False (nothing written) when its id exists."""

    @abc.abstractmethod
    async def save_hold(self, hold: Hold) -> None:
        """Write the hold's new status."""


class WalletUnitOfWork(UnitOfWork[DomainEvent]):
    """One database transaction (mesh.uow.UnitOfWork) over `wallets`; its events are
    `WalletCredited` and `WalletMoved`."""

    wallets: WalletRepository
