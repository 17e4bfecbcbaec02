"""An in-memory unit of work, written against the same ports as the SQL one, so the use cases
are tested without a database. Changes are staged and become visible only on commit."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from mesh.money import Money
from wallet_svc.domain import (
    Balance,
    Credit,
    DebitSplit,
    DomainEvent,
    Hold,
    RefundDebit,
    WalletMoved,
)
from wallet_svc.service_layer.ports import CreditToRelease, WalletRepository, WalletUnitOfWork


@dataclass
class WalletState:
    credits: dict[str, tuple[Credit, str]] = field(default_factory=dict)
    settled: dict[str, Decimal] = field(default_factory=dict)
    credited_at: dict[str, datetime] = field(default_factory=dict)
    releases: dict[str, Decimal] = field(default_factory=dict)
    moves: list[WalletMoved] = field(default_factory=list)
    holds: dict[str, Hold] = field(default_factory=dict)
    balances: dict[tuple[str, str], Balance] = field(default_factory=dict)
    refund_debits: dict[str, tuple[RefundDebit, DebitSplit]] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[DomainEvent] = field(default_factory=list)


class FakeWalletRepository(WalletRepository):
    def __init__(self, state: WalletState, now: datetime) -> None:
        self.state = state
        self.now = now

    async def add_credit(
        self, credit: Credit, event_id: str, settled_debt: Decimal = Decimal(0)
    ) -> bool:
        if credit.payment_order_id in self.state.credits:
            return False
        self.state.credits[credit.payment_order_id] = (credit, event_id)
        self.state.settled[credit.payment_order_id] = settled_debt
        self.state.credited_at[credit.payment_order_id] = self.now
        return True

    async def add_pending(self, seller_account: str, amount: Money) -> None:
        key = (seller_account, amount.currency)
        current = self.state.balances.get(key, Balance(amount.currency))
        self.state.balances[key] = current.credit_pending(amount.amount)

    async def balances(self, seller_account: str) -> list[Balance]:
        found = [b for (s, _), b in self.state.balances.items() if s == seller_account]
        return sorted(found, key=lambda b: b.currency)

    async def has_credit(self, payment_order_id: str) -> bool:
        return payment_order_id in self.state.credits

    async def lock_balance(self, seller_account: str, currency: str) -> Balance:
        return self.state.balances.get((seller_account, currency), Balance(currency))

    async def add_refund_debit(self, debit: RefundDebit, split: DebitSplit, event_id: str) -> bool:
        if debit.refund_id in self.state.refund_debits:
            return False
        self.state.refund_debits[debit.refund_id] = (debit, split)
        return True

    async def apply_refund_debit(
        self, seller_account: str, currency: str, split: DebitSplit
    ) -> None:
        key = (seller_account, currency)
        current = self.state.balances.get(key, Balance(currency))
        self.state.balances[key] = replace(
            current,
            pending=current.pending - split.from_pending,
            available=current.available - split.from_available,
            debt=current.debt + split.to_debt,
        )

    async def debt_of(self, seller_account: str, currency: str) -> Decimal:
        return self.state.balances.get((seller_account, currency), Balance(currency)).debt

    async def save_balance(self, seller_account: str, balance: Balance) -> None:
        self.state.balances[(seller_account, balance.currency)] = balance

    async def add_move(self, move: WalletMoved) -> None:
        self.state.moves.append(move)

    async def credit_to_release(self, payment_order_id: str) -> CreditToRelease | None:
        found = self.state.credits.get(payment_order_id)
        if found is None:
            return None
        credit = found[0]
        refunded = sum(
            (
                s.from_pending
                for d, s in self.state.refund_debits.values()
                if d.payment_order_id == payment_order_id
            ),
            Decimal(0),
        )
        in_pending = credit.net.amount - self.state.settled[payment_order_id] - refunded
        return CreditToRelease(
            payment_order_id,
            credit.seller_account,
            credit.currency,
            in_pending,
            payment_order_id in self.state.releases,
        )

    async def add_release(
        self, release: CreditToRelease, amount: Decimal, reason: str, event_id: str
    ) -> bool:
        if release.payment_order_id in self.state.releases:
            return False
        self.state.releases[release.payment_order_id] = amount
        return True

    async def is_released(self, payment_order_id: str) -> bool:
        return payment_order_id in self.state.releases

    async def due_for_release(self, credited_before: datetime, limit: int) -> list[str]:
        due = [
            order
            for order, at in sorted(self.state.credited_at.items(), key=lambda kv: kv[1])
            if at < credited_before and order not in self.state.releases
        ]
        return due[:limit]

    async def get_hold(self, hold_id: str, lock: bool = False) -> Hold | None:
        return self.state.holds.get(hold_id)

    async def add_hold(self, hold: Hold) -> bool:
        if hold.hold_id in self.state.holds:
            return False
        self.state.holds[hold.hold_id] = hold
        return True

    async def save_hold(self, hold: Hold) -> None:
        self.state.holds[hold.hold_id] = hold


class FakeWalletUnitOfWork(WalletUnitOfWork):
    """Shares `committed` between the units of work made from one `FakeWalletStore`."""

    def __init__(self, store: FakeWalletStore) -> None:
        self.store = store
        self.committed = False
        self._staged: WalletState | None = None

    async def begin(self) -> None:
        self._staged = copy.deepcopy(self.store.state)
        self.wallets = FakeWalletRepository(self._staged, self.store.now)

    async def close(self) -> None:
        self._staged = None

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        assert self._staged is not None, "outside a transaction"
        if (consumer, event_id) in self._staged.inbox:
            return False
        self._staged.inbox.add((consumer, event_id))
        return True

    async def publish(self, event: DomainEvent) -> None:
        assert self._staged is not None, "outside a transaction"
        self._staged.outbox.append(event)

    async def commit(self) -> None:
        assert self._staged is not None, "outside a transaction"
        self.store.state = self._staged
        self._staged = copy.deepcopy(self._staged)
        self.wallets = FakeWalletRepository(self._staged, self.store.now)
        self.committed = True


class FakeWalletStore:
    """The fake's "database": hands out units of work over one committed state."""

    def __init__(self, now: datetime | None = None) -> None:
        self.state = WalletState()
        # What `credited_at` a credit gets (tests move it to make credits due for release).
        self.now = now or datetime(2026, 1, 1)

    def uow(self) -> FakeWalletUnitOfWork:
        return FakeWalletUnitOfWork(self)
