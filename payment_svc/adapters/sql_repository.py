"""The repository on PostgreSQL, SQLAlchemy Core over one connection (one transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, RowMapping, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.events import PAYMENT_ORDER_SUCCEEDED
from mesh.inbox import claim
from mesh.outbox import enqueue_again
from payment_svc.adapters.pii_cipher import PiiCipher
from payment_svc.adapters.sql_pii import erase_buyer, open_pii, sealed_columns
from payment_svc.adapters.tables import (
    UNSETTLED,
    idempotency_keys,
    payment_events,
    payment_order_history,
    payment_orders,
    psp_events,
)
from payment_svc.domain.checkout import Checkout, Flow
from payment_svc.domain.order import OrderStatus, PaymentOrder, StatusChange
from payment_svc.domain.psp_event import PspEvent
from payment_svc.service_layer.ports import (
    DuplicateKey,
    Flag,
    IdempotencyClaim,
    IdempotencyRecord,
    KeyState,
    OrderToCharge,
    PaymentRepository,
)

UNIQUE_VIOLATION = "23505"

# A claim is one statement on the primary key: a new key is inserted; an existing one is taken
# over only when its answer has expired, or when it is in flight under an identical request
# whose lease ran out (that request crashed: its work transaction never committed). Of two
# concurrent claims the second waits for the first to commit and then finds the row held.
_CLAIM_SQL = text(
    """
    INSERT INTO idempotency_keys AS k
           (scope, request_id, request_hash, resource_id, state, lease_token, locked_until,
            created_at, expires_at)
    VALUES (:scope, :request_id, :request_hash, :resource_id, 'in_flight', :token,
            :lease_until, :now, :expires_at)
    ON CONFLICT (scope, request_id) DO UPDATE
       SET request_hash = EXCLUDED.request_hash,
           resource_id = EXCLUDED.resource_id,
           state = 'in_flight',
           lease_token = EXCLUDED.lease_token,
           locked_until = EXCLUDED.locked_until,
           response = NULL,
           error = NULL,
           created_at = EXCLUDED.created_at,
           expires_at = EXCLUDED.expires_at
     WHERE k.expires_at <= EXCLUDED.created_at
        OR (k.state = 'in_flight' AND k.locked_until <= EXCLUDED.created_at
            AND k.request_hash = EXCLUDED.request_hash)
    RETURNING k.lease_token::text
    """
)

_FINISH_SQL = text(
    """
    UPDATE idempotency_keys
       SET state = 'done', response = :response, error = :error,
           lease_token = NULL, locked_until = NULL
     WHERE scope = :scope AND request_id = :request_id
       AND state = 'in_flight' AND lease_token = :token
    RETURNING request_id
    """
)

_PURGE_SQL = text(
    """
    DELETE FROM idempotency_keys
     WHERE (scope, request_id) IN (
           SELECT scope, request_id FROM idempotency_keys
            WHERE expires_at <= :now LIMIT :limit FOR UPDATE SKIP LOCKED)
    """
)

# One round trip: the conditional update and, only if it matched, the history entry.
_TRANSITION_SQL = text(
    """
    WITH changed AS (
        UPDATE payment_orders
           SET status = :to_status,
               psp_reference = :psp_reference,
               failure_reason = :failure_reason,
               attempts = GREATEST(attempts, :attempts),
               updated_at = :at
         WHERE payment_order_id = :id AND status = :expected
     RETURNING payment_order_id
    )
    INSERT INTO payment_order_history
           (payment_order_id, from_status, to_status, reason, occurred_at)
    SELECT payment_order_id, :from_status, :to_status, :reason, :at FROM changed
    RETURNING id
    """
)

_CHECKOUT_OF_ORDER_FOR_UPDATE = text(
    """
    SELECT e.checkout_id, e.buyer_id, e.payment_method, e.buyer_pii_erased_at,
           e.is_payment_done, e.created_at, e.flow, e.redirect_url
      FROM payment_events e
     WHERE e.checkout_id = (SELECT checkout_id FROM payment_orders WHERE payment_order_id = :id)
       FOR UPDATE
    """
)


async def insert_rows(conn: AsyncConnection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` into `table`; a unique key already taken is the port's DuplicateKey."""
    if not rows:
        return
    try:
        await conn.execute(insert(table), list(rows))
    except IntegrityError as err:
        if getattr(err.orig, "sqlstate", None) == UNIQUE_VIOLATION:
            raise DuplicateKey(str(err.orig)) from err
        raise


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _order(row: RowMapping) -> PaymentOrder:
    return PaymentOrder(
        payment_order_id=row["payment_order_id"],
        checkout_id=row["checkout_id"],
        seller_account=row["seller_account"],
        amount=row["amount"],
        currency=row["currency"],
        fee_amount=row["fee_amount"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        position=row["position"],
        status=OrderStatus(row["status"]),
        wallet_updated=row["wallet_updated"],
        ledger_updated=row["ledger_updated"],
        psp_reference=row["psp_reference"],
        failure_reason=row["failure_reason"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"],
        psp_token=row["psp_token"],
        payment_page_url=row["payment_page_url"],
    )


def _checkout(row: RowMapping) -> Checkout:
    """The checkout without its buyer's PII: only `get_checkout` opens it (adapters.sql_pii), so
    that no money path depends on a PII key."""
    return Checkout(
        checkout_id=row["checkout_id"],
        buyer_id=row["buyer_id"],
        payment_method=row["payment_method"],
        created_at=row["created_at"],
        pii_erased=row["buyer_pii_erased_at"] is not None,
        is_payment_done=row["is_payment_done"],
        flow=Flow(row["flow"]),
        redirect_url=row["redirect_url"],
    )


def _change(row: RowMapping) -> StatusChange:
    return StatusChange(
        payment_order_id=row["payment_order_id"],
        from_status=OrderStatus(row["from_status"]) if row["from_status"] else None,
        to_status=OrderStatus(row["to_status"]),
        reason=row["reason"],
        occurred_at=row["occurred_at"],
    )


def _history_row(change: StatusChange) -> dict[str, Any]:
    return {
        "payment_order_id": change.payment_order_id,
        "from_status": change.from_status.value if change.from_status else None,
        "to_status": change.to_status.value,
        "reason": change.reason,
        "occurred_at": change.occurred_at,
    }


class SqlPaymentRepository(PaymentRepository):
    def __init__(self, conn: AsyncConnection, cipher: PiiCipher) -> None:
        self.conn = conn
        self.cipher = cipher  # buyer PII is sealed with it on write, opened on read
        # Statuses orders entered in this transaction, counted once it commits (sql_uow).
        self.entered: list[str] = []

    # --- idempotency -------------------------------------------------------------------

    async def claim_request(self, claim: IdempotencyClaim) -> IdempotencyRecord | None:
        params = {
            "scope": claim.scope,
            "request_id": claim.request_id,
            "request_hash": claim.request_hash,
            "resource_id": claim.resource_id,
            "token": claim.token,
            "now": claim.now,
            "lease_until": claim.lease_until,
            "expires_at": claim.expires_at,
        }
        while True:
            if (await self.conn.execute(_CLAIM_SQL, params)).first() is not None:
                return None
            row = await self._first(
                select(idempotency_keys).where(
                    idempotency_keys.c.scope == claim.scope,
                    idempotency_keys.c.request_id == claim.request_id,
                )
            )
            if row is not None:
                return IdempotencyRecord(
                    scope=row["scope"],
                    request_id=str(row["request_id"]),
                    request_hash=row["request_hash"],
                    state=KeyState(row["state"]),
                    response=_bytes(row["response"]),
                    error=_bytes(row["error"]),
                )
            # Released or purged between the two statements: claim again.

    async def finish_request(
        self,
        claim: IdempotencyClaim,
        *,
        response: bytes | None = None,
        error: bytes | None = None,
    ) -> bool:
        result = await self.conn.execute(
            _FINISH_SQL,
            {
                "scope": claim.scope,
                "request_id": claim.request_id,
                "token": claim.token,
                "response": response,
                "error": error,
            },
        )
        return result.first() is not None

    async def release_request(self, claim: IdempotencyClaim) -> None:
        await self.conn.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.scope == claim.scope,
                idempotency_keys.c.request_id == claim.request_id,
                idempotency_keys.c.state == KeyState.IN_FLIGHT.value,
                idempotency_keys.c.lease_token == claim.token,
            )
        )

    async def purge_expired_requests(self, now: datetime, limit: int) -> int:
        result = await self.conn.execute(_PURGE_SQL, {"now": now, "limit": limit})
        return result.rowcount

    # --- checkouts and orders ----------------------------------------------------------

    async def existing_ids(self, checkout_id: str, payment_order_ids: list[str]) -> list[str]:
        query = (
            select(payment_events.c.checkout_id)
            .where(payment_events.c.checkout_id == checkout_id)
            .union_all(
                select(payment_orders.c.payment_order_id).where(
                    payment_orders.c.payment_order_id.in_(payment_order_ids)
                )
            )
        )
        return list((await self.conn.execute(query)).scalars())

    async def add_checkout(self, checkout: Checkout) -> None:
        await self._insert(
            payment_events,
            [
                {
                    "checkout_id": checkout.checkout_id,
                    "buyer_id": checkout.buyer_id,
                    **sealed_columns(
                        self.cipher, checkout.checkout_id, checkout.buyer_email, checkout.buyer_name
                    ),
                    "payment_method": checkout.payment_method,
                    "is_payment_done": checkout.is_payment_done,
                    "created_at": checkout.created_at,
                    "flow": checkout.flow.value,
                    "redirect_url": checkout.redirect_url,
                }
            ],
        )
        await self._insert(
            payment_orders,
            [
                {
                    "payment_order_id": o.payment_order_id,
                    "checkout_id": o.checkout_id,
                    "position": o.position,
                    "seller_account": o.seller_account,
                    "amount": o.amount,
                    "currency": o.currency,
                    "fee_amount": o.fee_amount,
                    "status": o.status.value,
                    "wallet_updated": o.wallet_updated,
                    "ledger_updated": o.ledger_updated,
                    "psp_reference": o.psp_reference,
                    "failure_reason": o.failure_reason,
                    "attempts": o.attempts,
                    "psp_token": o.psp_token,
                    "payment_page_url": o.payment_page_url,
                    "created_at": o.created_at,
                    "updated_at": o.updated_at,
                }
                for o in checkout.orders
            ],
        )
        await self._insert(
            payment_order_history,
            [_history_row(change) for o in checkout.orders for change in o.history],
        )
        self.entered += [c.to_status.value for o in checkout.orders for c in o.history]

    async def _insert(self, table: Any, rows: Sequence[dict[str, Any]]) -> None:
        await insert_rows(self.conn, table, rows)

    async def _first(
        self, query: Executable, params: dict[str, Any] | None = None
    ) -> RowMapping | None:
        """The first row of `query` as a mapping, or None."""
        return (await self.conn.execute(query, params)).mappings().first()

    async def _history(self, payment_order_ids: list[str]) -> dict[str, list[StatusChange]]:
        result = await self.conn.execute(
            select(payment_order_history)
            .where(payment_order_history.c.payment_order_id.in_(payment_order_ids))
            .order_by(payment_order_history.c.id)
        )
        history: dict[str, list[StatusChange]] = {i: [] for i in payment_order_ids}
        for row in result.mappings():
            history[row["payment_order_id"]].append(_change(row))
        return history

    async def get_order(self, payment_order_id: str) -> PaymentOrder | None:
        row = await self._first(
            select(payment_orders).where(payment_orders.c.payment_order_id == payment_order_id)
        )
        if row is None:
            return None
        order = _order(row)
        order.history = (await self._history([payment_order_id]))[payment_order_id]
        return order

    async def get_order_to_charge(self, payment_order_id: str) -> OrderToCharge | None:
        query = (
            select(
                payment_orders,
                payment_events.c.payment_method,
                payment_events.c.buyer_id,
                payment_events.c.flow,
            )
            .join(payment_events, payment_events.c.checkout_id == payment_orders.c.checkout_id)
            .where(payment_orders.c.payment_order_id == payment_order_id)
        )
        row = await self._first(query)
        if row is None:
            return None
        return OrderToCharge(_order(row), row["payment_method"], row["buyer_id"], Flow(row["flow"]))

    async def _orders_of(self, checkout_id: str) -> list[PaymentOrder]:
        result = await self.conn.execute(
            select(payment_orders)
            .where(payment_orders.c.checkout_id == checkout_id)
            .order_by(payment_orders.c.position)
        )
        return [_order(row) for row in result.mappings()]

    async def get_checkout(self, checkout_id: str) -> Checkout | None:
        row = await self._first(
            select(payment_events).where(payment_events.c.checkout_id == checkout_id)
        )
        if row is None:
            return None
        checkout = _checkout(row)
        checkout.buyer_email, checkout.buyer_name = open_pii(self.cipher, row)
        checkout.orders = await self._orders_of(checkout_id)
        history = await self._history([o.payment_order_id for o in checkout.orders])
        for order in checkout.orders:
            order.history = history[order.payment_order_id]
        return checkout

    async def lock_checkout_of(self, payment_order_id: str) -> Checkout | None:
        row = await self._first(_CHECKOUT_OF_ORDER_FOR_UPDATE, {"id": payment_order_id})
        if row is None:
            return None
        checkout = _checkout(row)
        checkout.orders = await self._orders_of(checkout.checkout_id)
        return checkout

    async def record_transition(
        self, order: PaymentOrder, change: StatusChange, expected: OrderStatus
    ) -> bool:
        result = await self.conn.execute(
            _TRANSITION_SQL,
            {
                "id": order.payment_order_id,
                "expected": expected.value,
                "from_status": change.from_status.value if change.from_status else None,
                "to_status": change.to_status.value,
                "reason": change.reason,
                "at": change.occurred_at,
                "psp_reference": order.psp_reference,
                "failure_reason": order.failure_reason,
                "attempts": order.attempts,
            },
        )
        changed = result.first() is not None
        if changed:
            self.entered.append(change.to_status.value)
        return changed

    async def count_attempt(self, payment_order_id: str, expected: OrderStatus) -> bool:
        result = await self.conn.execute(
            update(payment_orders)
            .where(
                payment_orders.c.payment_order_id == payment_order_id,
                payment_orders.c.status == expected.value,
            )
            .values(attempts=payment_orders.c.attempts + 1)
            .returning(payment_orders.c.attempts)
        )
        return result.first() is not None

    async def list_unflagged(self, quiet_since: datetime, limit: int) -> list[str]:
        c = payment_orders.c
        result = await self.conn.execute(
            select(c.payment_order_id)
            .where(
                c.status == OrderStatus.SUCCESS.value,
                ~(c.wallet_updated & c.ledger_updated),
                c.updated_at < quiet_since,
                func.coalesce(c.announced_at, c.updated_at) < quiet_since,
            )
            .order_by(c.updated_at)
            .limit(limit)
        )
        return list(result.scalars())

    async def announce_again(self, payment_order_id: str, now: datetime) -> bool:
        c = payment_orders.c
        row = (
            await self.conn.execute(
                select(c.created_at).where(c.payment_order_id == payment_order_id).with_for_update()
            )
        ).first()
        if row is None:
            return False
        found = await enqueue_again(
            self.conn, PAYMENT_ORDER_SUCCEEDED, payment_order_id, since=row.created_at
        )
        await self.conn.execute(
            update(payment_orders)
            .where(c.payment_order_id == payment_order_id)
            .values(announced_at=now)
        )
        return found

    async def record_retry(
        self, payment_order_id: str, last_error: str, next_attempt_at: datetime
    ) -> int | None:
        result = await self.conn.execute(
            update(payment_orders)
            .where(
                payment_orders.c.payment_order_id == payment_order_id,
                payment_orders.c.status.in_(
                    [OrderStatus.NOT_STARTED.value, OrderStatus.EXECUTING.value]
                ),
            )
            .values(last_error=last_error, next_attempt_at=next_attempt_at)
            .returning(payment_orders.c.attempts)
        )
        return result.scalar()

    async def list_unsettled(
        self, updated_before: datetime, limit: int
    ) -> list[tuple[str, OrderStatus]]:
        result = await self.conn.execute(
            select(payment_orders.c.payment_order_id, payment_orders.c.status)
            .where(
                payment_orders.c.status.in_(UNSETTLED),
                payment_orders.c.updated_at < updated_before,
            )
            .order_by(payment_orders.c.updated_at)
            .limit(limit)
        )
        return [(row[0], OrderStatus(row[1])) for row in result]

    async def set_flag(self, payment_order_id: str, flag: Flag) -> None:
        await self.conn.execute(
            update(payment_orders)
            .where(payment_orders.c.payment_order_id == payment_order_id)
            .values({flag.value: True, "updated_at": func.now()})
        )

    async def set_payment_done(self, checkout_id: str, done: bool) -> None:
        await self.conn.execute(
            update(payment_events)
            .where(payment_events.c.checkout_id == checkout_id)
            .values(is_payment_done=done)
        )

    async def erase_buyer_pii(self, buyer_id: str, at: datetime) -> int:
        return await erase_buyer(self.conn, buyer_id, at)

    # --- PSP events ----------------------------------------------------------------------

    async def add_psp_event(self, event: PspEvent, received_at: datetime) -> bool:
        result = await self.conn.execute(
            pg_insert(psp_events)
            .values(
                event_id=event.event_id,
                type=event.type,
                payment_order_id=event.payment_order_id,
                psp_reference=event.psp_reference,
                payload=event.payload,
                created_at=event.created_at,
                received_at=received_at,
                result="received",
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(psp_events.c.event_id)
        )
        return result.first() is not None

    async def set_psp_event_result(self, event_id: str, result: str) -> None:
        await self.conn.execute(
            update(psp_events).where(psp_events.c.event_id == event_id).values(result=result)
        )

    # --- inbox -------------------------------------------------------------------------

    async def claim(self, consumer: str, event_id: str) -> bool:
        return await claim(self.conn, consumer, event_id)
