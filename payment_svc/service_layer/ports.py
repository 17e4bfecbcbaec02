"""The ports the use cases talk to: a repository and a unit of work (one database transaction).

`SqlPaymentUnitOfWork` (adapters) implements them on PostgreSQL; `FakeUnitOfWork` (next to this
file) in memory, for unit tests.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from mesh import uow as mesh_uow
from payment_svc.domain.checkout import Checkout
from payment_svc.domain.events import DomainEvent
from payment_svc.domain.order import OrderStatus, PaymentOrder, StatusChange

Clock = Callable[[], datetime]


class Flag(enum.Enum):
    WALLET_UPDATED = "wallet_updated"
    LEDGER_UPDATED = "ledger_updated"


class UnknownOrder(Exception):
    """A command or event names a payment order this service does not have."""


class StoreUnavailable(Exception):
    """The database could not be reached or dropped the connection; nothing was committed by the
    failed transaction, and the same command may be retried."""


class DuplicateKey(Exception):
    """A checkout or payment order id is already stored (a unique key was violated)."""


@dataclass(frozen=True)
class IdempotencyRecord:
    request_id: str
    request_hash: str
    response: bytes
    checkout_id: str


@dataclass(frozen=True)
class OrderToCharge:
    """An order with what the PSP needs from its checkout."""

    order: PaymentOrder
    payment_method: str
    buyer_id: str


class PaymentRepository(abc.ABC):
    """Payment events, their orders and history, idempotency records, and the inbox."""

    # --- idempotency -------------------------------------------------------------------

    @abc.abstractmethod
    async def try_lock_request(self, request_id: str) -> bool:
        """Hold `request_id` until the end of the transaction; False if someone else does."""

    @abc.abstractmethod
    async def get_idempotency(self, request_id: str) -> IdempotencyRecord | None: ...

    @abc.abstractmethod
    async def add_idempotency(self, record: IdempotencyRecord) -> None: ...

    # --- checkouts and orders ----------------------------------------------------------

    @abc.abstractmethod
    async def existing_ids(self, checkout_id: str, payment_order_ids: list[str]) -> list[str]:
        """Which of the checkout id and the order ids are already stored."""

    @abc.abstractmethod
    async def add_checkout(self, checkout: Checkout) -> None:
        """Store a new checkout, its orders and their history so far. Raises DuplicateKey."""

    @abc.abstractmethod
    async def get_order(self, payment_order_id: str) -> PaymentOrder | None:
        """The order with its history, oldest first."""

    @abc.abstractmethod
    async def get_order_to_charge(self, payment_order_id: str) -> OrderToCharge | None:
        """The order (without history) and its checkout's payment method and buyer."""

    @abc.abstractmethod
    async def get_checkout(self, checkout_id: str) -> Checkout | None:
        """The checkout with its orders (in the order given) and their history."""

    @abc.abstractmethod
    async def lock_checkout_of(self, payment_order_id: str) -> Checkout | None:
        """The checkout of an order with all its orders (no history), its row locked until the
        end of the transaction so that concurrent flag updates see each other."""

    @abc.abstractmethod
    async def record_transition(
        self, order: PaymentOrder, change: StatusChange, expected: OrderStatus
    ) -> bool:
        """Store the order's new state if it is still `expected` in the database, and append
        `change` to its history. False (nothing written) when another writer got there first."""

    @abc.abstractmethod
    async def count_attempt(self, payment_order_id: str, expected: OrderStatus) -> bool:
        """attempts + 1 while the order is still `expected`."""

    @abc.abstractmethod
    async def set_flag(self, payment_order_id: str, flag: Flag) -> None: ...

    @abc.abstractmethod
    async def set_payment_done(self, checkout_id: str, done: bool) -> None: ...

    # --- inbox -------------------------------------------------------------------------

    @abc.abstractmethod
    async def claim(self, consumer: str, event_id: str) -> bool:
        """True the first time `consumer` sees `event_id` in a committed transaction."""


class UnitOfWork(mesh_uow.UnitOfWork[DomainEvent]):
    """One transaction (mesh.uow.UnitOfWork). Leaving the block without `commit()` rolls back."""

    repo: PaymentRepository

    async def emit(self, event: DomainEvent) -> None:
        """Add an event to the outbox, published only if this transaction commits."""
        await self.publish(event)

    async def rollback(self) -> None:
        """Undo whatever is not committed (a no-op after commit)."""
        await self.close()


UnitOfWorkFactory = Callable[[], UnitOfWork]
