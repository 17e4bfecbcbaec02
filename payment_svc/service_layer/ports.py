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
from mesh.retry import Transient
from payment_svc.domain.checkout import Checkout, Flow
from payment_svc.domain.events import DomainEvent
from payment_svc.domain.order import OrderStatus, PaymentOrder, StatusChange
from payment_svc.domain.psp_event import PspEvent
from payment_svc.service_layer.refund_ports import RefundRepository
from payment_svc.service_layer.risk_ports import RiskRepository

Clock = Callable[[], datetime]


class Flag(enum.Enum):
    WALLET_UPDATED = "wallet_updated"
    LEDGER_UPDATED = "ledger_updated"


class UnknownOrder(Exception):
    """A command or event names a payment order this service does not have."""


class StoreUnavailable(Transient):
    """The database could not be reached or dropped the connection; nothing was committed by the
    failed transaction, and the same command may be retried."""


class DuplicateKey(Exception):
    """A checkout or payment order id is already stored (a unique key was violated)."""


class KeyState(enum.Enum):
    IN_FLIGHT = "in_flight"  # claimed by a request that has not answered (or crashed)
    DONE = "done"  # answered; the answer is stored


@dataclass(frozen=True)
class IdempotencyClaim:
    """A request's claim on its idempotency key: held under `token` until `lease_until`, kept
    (once answered) until `expires_at`."""

    scope: str
    request_id: str
    request_hash: str
    resource_id: str  # what the request makes (a checkout id, a refund id)
    token: str
    now: datetime
    lease_until: datetime
    expires_at: datetime


@dataclass(frozen=True)
class IdempotencyRecord:
    """An idempotency key someone else holds or answered. A done key has exactly one of
    `response` (a serialized CreatePaymentResponse) and `error` (a serialized google.rpc.Status).
    """

    scope: str
    request_id: str
    request_hash: str
    state: KeyState
    response: bytes | None = None
    error: bytes | None = None


@dataclass(frozen=True)
class OrderToCharge:
    """An order with what the PSP needs from its checkout."""

    order: PaymentOrder
    payment_method: str
    buyer_id: str
    flow: Flow = Flow.DIRECT


class PaymentRepository(abc.ABC):
    """Payment events, their orders and history, idempotency records, and the inbox."""

    # --- idempotency -------------------------------------------------------------------

    @abc.abstractmethod
    async def claim_request(self, claim: IdempotencyClaim) -> IdempotencyRecord | None:
        """Claim the key, atomically, on the table's unique key: None when it is now ours (it
        was new, its answer expired, or an identical request's lease ran out); otherwise the
        record that holds it. Commit at once so that others see the claim."""

    @abc.abstractmethod
    async def finish_request(
        self,
        claim: IdempotencyClaim,
        *,
        response: bytes | None = None,
        error: bytes | None = None,
    ) -> bool:
        """Store the answer of a claimed key; False (nothing written) if the claim was lost."""

    @abc.abstractmethod
    async def release_request(self, claim: IdempotencyClaim) -> None:
        """Give up a claimed key without an answer, so that a retry may run at once."""

    @abc.abstractmethod
    async def purge_expired_requests(self, now: datetime, limit: int) -> int:
        """Delete up to `limit` answered keys whose time is up; how many went."""

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
    async def lock_checkouts_of(self, payment_order_ids: list[str]) -> None:
        """`lock_checkout_of` for many orders at once, the checkouts locked in checkout id
        order (so that two transactions locking several never wait on each other in a
        cycle). An adapter may keep what it read for the transaction: `lock_checkout_of` of one
        of these orders is then answered from it, with whatever the transaction changed in it
        since (the SQL repository writes the flags with the COMMIT, so reading the rows again
        would not see them)."""

    async def claim_and_lock_checkout(
        self, consumer: str, event_id: str, payment_order_id: str
    ) -> tuple[bool, Checkout | None]:
        """`claim` and, when it is the first sight, `lock_checkout_of` the order: (False, None)
        for an event already applied. One step, so that an adapter may send both at once."""
        if not await self.claim(consumer, event_id):
            return False, None
        return True, await self.lock_checkout_of(payment_order_id)

    async def start_executions(
        self, payment_order_ids: list[str], at: datetime
    ) -> dict[str, OrderToCharge]:
        """Move every order of `payment_order_ids` that is NOT_STARTED in the direct flow to
        EXECUTING (PaymentOrder.start_execution's change, history included), skipping any
        another transaction holds; the orders moved, by id, as they are now. The SQL
        repository does it in one statement."""
        started: dict[str, OrderToCharge] = {}
        for payment_order_id in payment_order_ids:
            target = await self.get_order_to_charge(payment_order_id)
            if target is None or target.flow is not Flow.DIRECT:
                continue
            order = target.order
            if order.status is not OrderStatus.NOT_STARTED:
                continue
            change = order.start_execution(at)
            if await self.record_transition(order, change, OrderStatus.NOT_STARTED):
                started[payment_order_id] = target
        return started

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
    async def list_unflagged(self, quiet_since: datetime, limit: int) -> list[str]:
        """SUCCESS orders whose wallet or ledger flag has not come back, neither changed nor
        announced again since `quiet_since`, the oldest first."""

    @abc.abstractmethod
    async def announce_again(self, payment_order_id: str, now: datetime) -> bool:
        """Publish the order's `payment.order.succeeded` event again through the outbox, with
        its original event id (the inboxes drop it where it was applied), and note when; False
        when the original event is no longer kept."""

    @abc.abstractmethod
    async def record_retry(
        self, payment_order_id: str, last_error: str, next_attempt_at: datetime
    ) -> int | None:
        """Note why the order's last try failed and when the next one is due, while the order
        is NOT_STARTED or EXECUTING (its `updated_at` is left alone: the sweeper reads it).
        Returns the order's attempts, or None when it is past waiting (or unknown)."""

    @abc.abstractmethod
    async def list_unsettled(
        self, updated_before: datetime, limit: int
    ) -> list[tuple[str, OrderStatus]]:
        """Orders NOT_STARTED, EXECUTING or PENDING last changed before `updated_before`, the
        oldest first: (payment order id, status)."""

    @abc.abstractmethod
    async def set_flag(self, payment_order_id: str, flag: Flag) -> None: ...

    @abc.abstractmethod
    async def set_payment_done(self, checkout_id: str, done: bool) -> None: ...

    @abc.abstractmethod
    async def erase_buyer_pii(self, buyer_id: str, at: datetime) -> int:
        """Erase the e-mail and name of every checkout of `buyer_id` (nothing else: amounts,
        orders and their history stay); how many of the buyer's checkouts are erased now,
        those erased before included."""

    # --- PSP events ----------------------------------------------------------------------

    @abc.abstractmethod
    async def add_psp_event(self, event: PspEvent, received_at: datetime) -> bool:
        """Store a PSP event; False (nothing written) if it was stored before."""

    async def receive_psp_event(
        self, event: PspEvent, received_at: datetime
    ) -> tuple[bool, OrderToCharge | None]:
        """`add_psp_event` and, when the event is new, `get_order_to_charge` of the order it
        names (None when it names none or an unknown one). One step, so that an adapter may
        send both at once."""
        if not await self.add_psp_event(event, received_at):
            return False, None
        if not event.payment_order_id:
            return True, None
        return True, await self.get_order_to_charge(event.payment_order_id)

    @abc.abstractmethod
    async def set_psp_event_result(self, event_id: str, result: str) -> None:
        """Note what the event did."""

    # --- inbox -------------------------------------------------------------------------

    @abc.abstractmethod
    async def claim(self, consumer: str, event_id: str) -> bool:
        """True the first time `consumer` sees `event_id` in a committed transaction."""


class UnitOfWork(mesh_uow.UnitOfWork[DomainEvent]):
    """One transaction (mesh.uow.UnitOfWork). Leaving the block without `commit()` rolls back."""

    repo: PaymentRepository
    refunds: RefundRepository
    risk: RiskRepository

    async def emit(self, event: DomainEvent) -> None:
        """Add an event to the outbox, published only if this transaction commits."""
        await self.publish(event)

    async def rollback(self) -> None:
        """Undo whatever is not committed (a no-op after commit)."""
        await self.close()

    async def claim_and_lock_checkout(
        self, consumer: str, event_id: str, payment_order_id: str
    ) -> tuple[bool, Checkout | None]:
        """`claim_event` and, when it is the first sight, `repo.lock_checkout_of` the order:
        (False, None) for an event already applied. The SQL unit of work sends both in one
        round trip outside a batch (`repo.claim_and_lock_checkout`); inside one, the batch
        claimed the event and locked the checkout already (mesh.consuming.Applier)."""
        if not await self.claim_event(consumer, event_id):
            return False, None
        return True, await self.repo.lock_checkout_of(payment_order_id)


UnitOfWorkFactory = Callable[[], UnitOfWork]
