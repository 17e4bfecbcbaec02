"""An in-memory unit of work, written against the same ports as the SQL one, so the use cases
are tested without a database. Changes are staged and become visible only on commit."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

from mesh.money import Money
from wallet_svc.domain import Balance, Credit, DebitSplit, RefundDebit, WalletCredited
from wallet_svc.service_layer.ports import WalletRepository, WalletUnitOfWork


@dataclass
class WalletState:
    credits: dict[str, tuple[Credit, str]] = field(default_factory=dict)
    balances: dict[tuple[str, str], Balance] = field(default_factory=dict)
    refund_debits: dict[str, tuple[RefundDebit, DebitSplit]] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[WalletCredited] = field(default_factory=list)


class FakeWalletRepository(WalletRepository):
    def __init__(self, state: WalletState) -> None:
        self.state = state

    async def add_credit(self, credit: Credit, event_id: str) -> bool:
        if credit.payment_order_id in self.state.credits:
            return False
        self.state.credits[credit.payment_order_id] = (credit, event_id)
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
        )


class FakeWalletUnitOfWork(WalletUnitOfWork):
    """Shares `committed` between the units of work made from one `FakeWalletStore`."""

    def __init__(self, store: FakeWalletStore) -> None:
        self.store = store
        self.committed = False
        self._staged: WalletState | None = None

    async def begin(self) -> None:
        self._staged = copy.deepcopy(self.store.state)
        self.wallets = FakeWalletRepository(self._staged)

    async def close(self) -> None:
        self._staged = None

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        assert self._staged is not None, "outside a transaction"
        if (consumer, event_id) in self._staged.inbox:
            return False
        self._staged.inbox.add((consumer, event_id))
        return True

    async def publish(self, event: WalletCredited) -> None:
        assert self._staged is not None, "outside a transaction"
        self._staged.outbox.append(event)

    async def commit(self) -> None:
        assert self._staged is not None, "outside a transaction"
        self.store.state = self._staged
        self._staged = copy.deepcopy(self._staged)
        self.wallets = FakeWalletRepository(self._staged)
        self.committed = True


class FakeWalletStore:
    """The fake's "database": hands out units of work over one committed state."""

    def __init__(self) -> None:
        self.state = WalletState()

    def uow(self) -> FakeWalletUnitOfWork:
        return FakeWalletUnitOfWork(self)
