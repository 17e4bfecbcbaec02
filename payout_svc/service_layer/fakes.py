"""In-memory fakes of the payout service's ports (unit of work, wallet holds, provider), so the
use cases are tested without a database, a wallet or Stripe."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from mesh.errors import failed_precondition
from payout_svc.domain import (
    Payout,
    PayoutProvider,
    PayoutStatus,
    ProviderPayout,
    ProviderRefused,
    ProviderStatus,
    ProviderUnavailable,
    Seller,
)
from payout_svc.domain.events import DomainEvent
from payout_svc.service_layer.ports import Holds, PayoutRepository, PayoutUnitOfWork


@dataclass
class PayoutState:
    sellers: dict[str, Seller] = field(default_factory=dict)
    payouts: dict[str, Payout] = field(default_factory=dict)
    outbox: list[DomainEvent] = field(default_factory=list)
    inbox: set[tuple[str, str]] = field(default_factory=set)


class FakePayoutRepository(PayoutRepository):
    def __init__(self, state: PayoutState) -> None:
        self.state = state

    async def get_seller(self, seller_account: str) -> Seller | None:
        return self.state.sellers.get(seller_account)

    async def add_seller(self, seller: Seller) -> bool:
        if seller.seller_account in self.state.sellers:
            return False
        self.state.sellers[seller.seller_account] = seller
        return True

    async def save_seller(self, seller: Seller) -> None:
        self.state.sellers[seller.seller_account] = seller

    async def sellers_on_schedule(self, after: str = "", limit: int | None = None) -> list[Seller]:
        found = sorted(
            (
                s
                for s in self.state.sellers.values()
                if s.schedule.value != "manual" and s.seller_account > after
            ),
            key=lambda s: s.seller_account,
        )
        return found[:limit] if limit else found

    async def count_sellers_on_schedule(self) -> int:
        return len(await self.sellers_on_schedule())

    async def get_payout(self, payout_id: str, lock: bool = False) -> Payout | None:
        return self.state.payouts.get(payout_id)

    async def add_payout(self, payout: Payout) -> bool:
        if payout.payout_id in self.state.payouts:
            return False
        self.state.payouts[payout.payout_id] = payout
        return True

    async def save_payout(self, payout: Payout) -> None:
        self.state.payouts[payout.payout_id] = payout

    async def list_payouts(
        self, seller_account: str, before: tuple[datetime, str] | None, limit: int
    ) -> list[Payout]:
        mine = [p for p in self.state.payouts.values() if p.seller_account == seller_account]
        mine.sort(key=lambda p: (p.created_at, p.payout_id), reverse=True)
        if before is not None:
            mine = [p for p in mine if (p.created_at, p.payout_id) < before]
        return mine[:limit]

    async def stale(
        self,
        statuses: tuple[PayoutStatus, ...],
        updated_before: datetime,
        limit: int,
        updated_after: datetime | None = None,
    ) -> list[str]:
        found = [
            p
            for p in self.state.payouts.values()
            if p.status in statuses
            and p.updated_at < updated_before
            and (updated_after is None or p.updated_at > updated_after)
        ]
        return [p.payout_id for p in sorted(found, key=lambda p: p.updated_at)][:limit]


class FakePayoutUnitOfWork(PayoutUnitOfWork):
    def __init__(self, store: FakePayoutStore) -> None:
        self.store = store
        self._staged: PayoutState | None = None

    async def begin(self) -> None:
        self._staged = copy.deepcopy(self.store.state)
        self.payouts = FakePayoutRepository(self._staged)

    async def close(self) -> None:
        self._staged = None

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        assert self._staged is not None
        uuid.UUID(event_id)  # the inbox's column is a UUID, as in PostgreSQL
        if (consumer, event_id) in self._staged.inbox:
            return False
        self._staged.inbox.add((consumer, event_id))
        return True

    async def publish(self, event: DomainEvent) -> None:
        assert self._staged is not None
        self._staged.outbox.append(event)

    async def commit(self) -> None:
        assert self._staged is not None
        self.store.state = self._staged
        self._staged = copy.deepcopy(self._staged)
        self.payouts = FakePayoutRepository(self._staged)


class FakePayoutStore:
    def __init__(self) -> None:
        self.state = PayoutState()

    def uow(self) -> FakePayoutUnitOfWork:
        return FakePayoutUnitOfWork(self)


class FakeHolds(Holds):
    """Holds over per-seller available amounts (one currency is enough for the tests)."""

    def __init__(self, available: dict[str, Decimal]) -> None:
        self.available_by_seller = dict(available)
        self.holds: dict[str, tuple[str, Decimal, str]] = {}  # id -> seller, amount, status

    async def reserve(
        self, hold_id: str, seller_account: str, amount: Decimal | None, currency: str
    ) -> Decimal:
        if hold_id in self.holds:
            return self.holds[hold_id][1]
        free = self.available_by_seller.get(seller_account, Decimal(0))
        take = free if amount is None else amount
        if take <= 0 or take > free:
            raise failed_precondition(
                "INSUFFICIENT_FUNDS", "not enough", {"available": f"{free:.2f}"}
            )
        self.available_by_seller[seller_account] = free - take
        self.holds[hold_id] = (seller_account, take, "RESERVED")
        return take

    def _set(self, hold_id: str, status: str, back: bool) -> None:
        seller, amount, _ = self.holds[hold_id]
        if back:
            self.available_by_seller[seller] += amount
        self.holds[hold_id] = (seller, amount, status)

    async def capture(self, hold_id: str) -> None:
        if self.holds[hold_id][2] == "RESERVED":
            self._set(hold_id, "CAPTURED", back=False)

    async def release(self, hold_id: str) -> None:
        if self.holds[hold_id][2] == "RESERVED":
            self._set(hold_id, "RELEASED", back=True)

    async def return_(self, hold_id: str) -> None:
        if self.holds[hold_id][2] == "CAPTURED":
            self._set(hold_id, "RETURNED", back=True)

    async def available(self, seller_account: str) -> dict[str, Decimal]:
        found = self.available_by_seller.get(seller_account)
        return {"USD": found} if found is not None else {}


class FakeProvider(PayoutProvider):
    """Pays by payout id, once. `lose_next_answer`: the next pay is made but raises
    ProviderUnavailable (a lost answer); `refuse`: destinations it refuses; `status` is what
    `find` reports for every payout it made."""

    def __init__(self) -> None:
        self.paid: dict[str, ProviderPayout] = {}
        self.pay_calls = 0
        self.lose_next_answer = False
        self.refuse: set[str] = set()
        self.refuse_find: set[str] = set()  # accounts it does not know (find is refused)
        self.status = ProviderStatus.PENDING

    async def pay(
        self, payout_id: str, destination: str, amount: Decimal, currency: str
    ) -> ProviderPayout:
        self.pay_calls += 1
        if destination in self.refuse:
            raise ProviderRefused("balance_insufficient")
        made = self.paid.setdefault(
            payout_id, ProviderPayout(f"po_{len(self.paid) + 1}", self.status)
        )
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise ProviderUnavailable("the answer was lost")
        return made

    async def find(self, payout_id: str, destination: str) -> ProviderPayout | None:
        if destination in self.refuse_find:
            raise ProviderRefused("account_invalid")
        made = self.paid.get(payout_id)
        if made is None:
            return None
        return ProviderPayout(made.reference, self.status, "account_closed")
