"""An in-memory unit of work and repository, for unit tests of the use cases.

Writes go to the shared `FakeStore` at once; a rollback restores the snapshot taken when the
transaction began, and events reach `store.outbox` only on commit."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime

from payment_svc.domain.checkout import Checkout
from payment_svc.domain.events import DomainEvent, OrderSucceeded
from payment_svc.domain.order import OrderStatus, PaymentOrder, StatusChange
from payment_svc.domain.psp_event import PspEvent
from payment_svc.domain.refund import Refund
from payment_svc.service_layer.fake_refunds import FakeRefundRepository
from payment_svc.service_layer.fake_risk import FakeRiskRepository
from payment_svc.service_layer.ports import (
    DuplicateKey,
    Flag,
    IdempotencyClaim,
    IdempotencyRecord,
    KeyState,
    OrderToCharge,
    PaymentRepository,
    UnitOfWork,
)
from payment_svc.service_layer.risk_ports import RiskRecord


@dataclass
class FakeKey:
    """A row of the idempotency table."""

    claim: IdempotencyClaim
    state: KeyState = KeyState.IN_FLIGHT
    response: bytes | None = None
    error: bytes | None = None

    def record(self) -> IdempotencyRecord:
        c = self.claim
        return IdempotencyRecord(
            c.scope, c.request_id, c.request_hash, self.state, self.response, self.error
        )


@dataclass
class FakeState:
    checkouts: dict[str, Checkout] = field(default_factory=dict)  # without orders
    orders: dict[str, PaymentOrder] = field(default_factory=dict)  # without history
    history: dict[str, list[StatusChange]] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], FakeKey] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    psp_events: dict[str, tuple[PspEvent, str]] = field(default_factory=dict)  # with its result
    refunds: dict[str, Refund] = field(default_factory=dict)
    risk_decisions: list[RiskRecord] = field(default_factory=list)
    announced: dict[str, datetime] = field(default_factory=dict)  # re-announced SUCCESS orders


@dataclass
class FakeStore:
    state: FakeState = field(default_factory=FakeState)
    outbox: list[DomainEvent] = field(default_factory=list)
    commits: int = 0
    # Events published again by the sweeper (the same events, the same ids).
    announced_again: list[DomainEvent] = field(default_factory=list)

    def uow(self) -> FakeUnitOfWork:
        """Use `store.uow` as the use cases' unit-of-work factory."""
        return FakeUnitOfWork(self)


class FakeRepository(PaymentRepository):
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    @property
    def _s(self) -> FakeState:
        return self._store.state

    async def claim_request(self, claim: IdempotencyClaim) -> IdempotencyRecord | None:
        key = (claim.scope, claim.request_id)
        held = self._s.idempotency.get(key)
        if held is not None:
            expired = held.claim.expires_at <= claim.now
            stale = (
                held.state is KeyState.IN_FLIGHT
                and held.claim.lease_until <= claim.now
                and held.claim.request_hash == claim.request_hash
            )
            if not (expired or stale):
                return held.record()
        self._s.idempotency[key] = FakeKey(claim)
        return None

    async def finish_request(
        self,
        claim: IdempotencyClaim,
        *,
        response: bytes | None = None,
        error: bytes | None = None,
    ) -> bool:
        held = self._s.idempotency.get((claim.scope, claim.request_id))
        if held is None or held.state is not KeyState.IN_FLIGHT or held.claim.token != claim.token:
            return False
        held.state, held.response, held.error = KeyState.DONE, response, error
        return True

    async def release_request(self, claim: IdempotencyClaim) -> None:
        key = (claim.scope, claim.request_id)
        held = self._s.idempotency.get(key)
        if (
            held is not None
            and held.state is KeyState.IN_FLIGHT
            and held.claim.token == claim.token
        ):
            del self._s.idempotency[key]

    async def purge_expired_requests(self, now: datetime, limit: int) -> int:
        expired = [k for k, v in self._s.idempotency.items() if v.claim.expires_at <= now][:limit]
        for key in expired:
            del self._s.idempotency[key]
        return len(expired)

    async def existing_ids(self, checkout_id: str, payment_order_ids: list[str]) -> list[str]:
        found = [checkout_id] if checkout_id in self._s.checkouts else []
        return found + [i for i in payment_order_ids if i in self._s.orders]

    async def add_checkout(self, checkout: Checkout) -> None:
        order_ids = [o.payment_order_id for o in checkout.orders]
        if await self.existing_ids(checkout.checkout_id, order_ids):
            raise DuplicateKey(checkout.checkout_id)
        self._s.checkouts[checkout.checkout_id] = replace(copy.deepcopy(checkout), orders=[])
        for order in checkout.orders:
            self._s.orders[order.payment_order_id] = replace(copy.deepcopy(order), history=[])
            self._s.history[order.payment_order_id] = list(order.history)

    def _order(self, payment_order_id: str, with_history: bool) -> PaymentOrder | None:
        stored = self._s.orders.get(payment_order_id)
        if stored is None:
            return None
        order = copy.deepcopy(stored)
        if with_history:
            order.history = list(self._s.history[payment_order_id])
        return order

    def _checkout(self, checkout_id: str, with_history: bool) -> Checkout | None:
        stored = self._s.checkouts.get(checkout_id)
        if stored is None:
            return None
        checkout = copy.deepcopy(stored)
        ids = [o.payment_order_id for o in self._s.orders.values() if o.checkout_id == checkout_id]
        orders = [self._order(i, with_history) for i in ids]
        checkout.orders = sorted((o for o in orders if o), key=lambda o: o.position)
        return checkout

    async def get_order(self, payment_order_id: str) -> PaymentOrder | None:
        return self._order(payment_order_id, with_history=True)

    async def get_order_to_charge(self, payment_order_id: str) -> OrderToCharge | None:
        order = self._order(payment_order_id, with_history=False)
        if order is None:
            return None
        checkout = self._s.checkouts[order.checkout_id]
        return OrderToCharge(order, checkout.payment_method, checkout.buyer_id, checkout.flow)

    async def get_checkout(self, checkout_id: str) -> Checkout | None:
        return self._checkout(checkout_id, with_history=True)

    async def lock_checkout_of(self, payment_order_id: str) -> Checkout | None:
        order = self._s.orders.get(payment_order_id)
        return None if order is None else self._checkout(order.checkout_id, with_history=False)

    async def lock_checkouts_of(self, payment_order_ids: list[str]) -> None:
        """Nothing to lock in memory; every write is seen at once by the next read."""

    async def record_transition(
        self, order: PaymentOrder, change: StatusChange, expected: OrderStatus
    ) -> bool:
        stored = self._s.orders.get(order.payment_order_id)
        if stored is None or stored.status is not expected:
            return False
        self._s.orders[order.payment_order_id] = replace(copy.deepcopy(order), history=[])
        self._s.history[order.payment_order_id].append(change)
        return True

    async def count_attempt(self, payment_order_id: str, expected: OrderStatus) -> bool:
        stored = self._s.orders.get(payment_order_id)
        if stored is None or stored.status is not expected:
            return False
        stored.attempts += 1
        return True

    async def list_unflagged(self, quiet_since: datetime, limit: int) -> list[str]:
        found = [
            o
            for o in self._s.orders.values()
            if o.status is OrderStatus.SUCCESS
            and not (o.wallet_updated and o.ledger_updated)
            and o.updated_at < quiet_since
            and self._s.announced.get(o.payment_order_id, o.updated_at) < quiet_since
        ]
        found.sort(key=lambda o: o.updated_at)
        return [o.payment_order_id for o in found[:limit]]

    async def announce_again(self, payment_order_id: str, now: datetime) -> bool:
        original = next(
            (
                e
                for e in self._store.outbox
                if isinstance(e, OrderSucceeded) and e.payment_order_id == payment_order_id
            ),
            None,
        )
        self._s.announced[payment_order_id] = now
        if original is None:
            return False
        self._store.announced_again.append(original)
        return True

    async def record_retry(
        self, payment_order_id: str, last_error: str, next_attempt_at: datetime
    ) -> int | None:
        stored = self._s.orders.get(payment_order_id)
        if stored is None or stored.status not in (OrderStatus.NOT_STARTED, OrderStatus.EXECUTING):
            return None
        stored.last_error, stored.next_attempt_at = last_error, next_attempt_at
        return stored.attempts

    async def list_unsettled(
        self, updated_before: datetime, limit: int
    ) -> list[tuple[str, OrderStatus]]:
        open_statuses = (OrderStatus.NOT_STARTED, OrderStatus.EXECUTING, OrderStatus.PENDING)
        stuck = sorted(
            (o for o in self._s.orders.values() if o.status in open_statuses),
            key=lambda o: o.updated_at,
        )
        return [(o.payment_order_id, o.status) for o in stuck if o.updated_at < updated_before][
            :limit
        ]

    async def set_flag(self, payment_order_id: str, flag: Flag) -> None:
        setattr(self._s.orders[payment_order_id], flag.value, True)

    async def set_payment_done(self, checkout_id: str, done: bool) -> None:
        self._s.checkouts[checkout_id].is_payment_done = done

    async def erase_buyer_pii(self, buyer_id: str, at: datetime) -> int:
        mine = [c for c in self._s.checkouts.values() if c.buyer_id == buyer_id]
        for checkout in mine:
            checkout.buyer_email, checkout.buyer_name, checkout.pii_erased = "", "", True
        return len(mine)

    async def add_psp_event(self, event: PspEvent, received_at: datetime) -> bool:
        if event.event_id in self._s.psp_events:
            return False
        self._s.psp_events[event.event_id] = (event, "")
        return True

    async def set_psp_event_result(self, event_id: str, result: str) -> None:
        self._s.psp_events[event_id] = (self._s.psp_events[event_id][0], result)

    async def claim(self, consumer: str, event_id: str) -> bool:
        if (consumer, event_id) in self._s.inbox:
            return False
        self._s.inbox.add((consumer, event_id))
        return True


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.repo = FakeRepository(store)
        self.refunds = FakeRefundRepository(store)
        self.risk = FakeRiskRepository(store)
        self._snapshot: FakeState | None = None
        self._events: list[DomainEvent] = []

    async def begin(self) -> None:
        self._snapshot = copy.deepcopy(self.store.state)
        self._events = []

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        return await self.repo.claim(consumer, event_id)

    async def publish(self, event: DomainEvent) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        self.store.outbox.extend(self._events)
        self.store.commits += 1
        self._end()

    async def close(self) -> None:
        if self._snapshot is not None:
            self.store.state = self._snapshot
        self._end()

    def _end(self) -> None:
        self._snapshot = None
        self._events = []
