"""The repository on PostgreSQL, SQLAlchemy Core over one connection (one transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Executable, RowMapping, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.db import Statement, pipelined
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
)
from payment_svc.domain.checkout import Checkout, Flow
from payment_svc.domain.order import SENT_TO_PSP, OrderStatus, PaymentOrder, StatusChange
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
_CLAIM_SQL = """
    INSERT INTO idempotency_keys AS k
           (scope, request_id, request_hash, resource_id, state, lease_token, locked_until,
            created_at, expires_at)
    VALUES (%(scope)s, %(request_id)s::uuid, %(request_hash)s, %(resource_id)s, 'in_flight',
            %(token)s::uuid, %(lease_until)s, %(now)s, %(expires_at)s)
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

# Read only when the claim found the key held: in the same round trip as the claim, after it.
_HELD_SQL = """
    SELECT scope, request_id::text, request_hash, state, response, error
      FROM idempotency_keys WHERE scope = %(scope)s AND request_id = %(request_id)s::uuid
    """

_FINISH_SQL = """
    UPDATE idempotency_keys
       SET state = 'done', response = %(response)s, error = %(error)s,
           lease_token = NULL, locked_until = NULL
     WHERE scope = %(scope)s AND request_id = %(request_id)s::uuid
       AND state = 'in_flight' AND lease_token = %(token)s::uuid
    RETURNING request_id
    """

_PURGE_SQL = text(
    """
    DELETE FROM idempotency_keys
     WHERE (scope, request_id) IN (
           SELECT scope, request_id FROM idempotency_keys
            WHERE expires_at <= :now LIMIT :limit FOR UPDATE SKIP LOCKED)
    """
)

# One round trip: the conditional update and, only if it matched, the history entry.
_TRANSITION_SQL = """
    WITH changed AS (
        UPDATE payment_orders
           SET status = %(to_status)s,
               psp_reference = %(psp_reference)s,
               failure_reason = %(failure_reason)s,
               attempts = GREATEST(attempts, %(attempts)s),
               updated_at = %(at)s
         WHERE payment_order_id = %(id)s AND status = %(expected)s
     RETURNING payment_order_id
    )
    INSERT INTO payment_order_history
           (payment_order_id, from_status, to_status, reason, occurred_at)
    SELECT payment_order_id, %(from_status)s, %(to_status)s, %(reason)s, %(at)s FROM changed
    RETURNING id
    """

_CHECKOUT_OF_ORDER_FOR_UPDATE = """
    SELECT e.checkout_id, e.buyer_id, e.payment_method, e.buyer_pii_erased_at,
           e.is_payment_done, e.created_at, e.flow, e.redirect_url
      FROM payment_events e
     WHERE e.checkout_id = (SELECT checkout_id FROM payment_orders WHERE payment_order_id = %(id)s)
       FOR UPDATE
    """

# Sent right after the lock above, in the same round trip: runs once the lock is granted, so it
# sees the orders as the lock holder before us left them.
_ORDERS_OF_CHECKOUT_OF_ORDER = """
    SELECT o.* FROM payment_orders o
     WHERE o.checkout_id = (SELECT checkout_id FROM payment_orders WHERE payment_order_id = %(id)s)
     ORDER BY o.position
    """

# The checkouts of a batch's orders, locked in checkout id order (ORDER BY is applied before
# FOR UPDATE locks the rows), and all their orders, sent right after in the same round trip.
_CHECKOUTS_OF_ORDERS_FOR_UPDATE = """
    SELECT e.checkout_id, e.buyer_id, e.payment_method, e.buyer_pii_erased_at,
           e.is_payment_done, e.created_at, e.flow, e.redirect_url
      FROM payment_events e
     WHERE e.checkout_id IN (
           SELECT checkout_id FROM payment_orders WHERE payment_order_id = ANY(%(ids)s))
     ORDER BY e.checkout_id
       FOR UPDATE
    """

_ORDERS_OF_CHECKOUTS_OF_ORDERS = """
    SELECT o.* FROM payment_orders o
     WHERE o.checkout_id IN (
           SELECT checkout_id FROM payment_orders WHERE payment_order_id = ANY(%(ids)s))
     ORDER BY o.checkout_id, o.position
    """

_ORDER_TO_CHARGE = """
    SELECT o.*, e.payment_method, e.buyer_id, e.flow
      FROM payment_orders o JOIN payment_events e ON e.checkout_id = o.checkout_id
     WHERE o.payment_order_id = %(id)s
    """

# NOT_STARTED → EXECUTING for a batch of orders (PaymentOrder.start_execution's change): rows
# another transaction holds are skipped (their executor goes the one-by-one way), the others
# are locked in id order, so two batches never wait on each other in a cycle.
_START_EXECUTIONS = """
    WITH picked AS (
        SELECT o.payment_order_id
          FROM payment_orders o JOIN payment_events e ON e.checkout_id = o.checkout_id
         WHERE o.payment_order_id = ANY(%(ids)s) AND o.status = 'NOT_STARTED'
           AND e.flow = 'direct'
         ORDER BY o.payment_order_id
           FOR UPDATE OF o SKIP LOCKED
    ), changed AS (
        UPDATE payment_orders o
           SET status = 'EXECUTING', attempts = o.attempts + 1, updated_at = %(at)s
          FROM picked
         WHERE o.payment_order_id = picked.payment_order_id
     RETURNING o.*
    ), logged AS (
        INSERT INTO payment_order_history
               (payment_order_id, from_status, to_status, reason, occurred_at)
        SELECT payment_order_id, 'NOT_STARTED', 'EXECUTING', %(reason)s, %(at)s FROM changed
    )
    SELECT c.*, e.payment_method, e.buyer_id, e.flow
      FROM changed c JOIN payment_events e ON e.checkout_id = c.checkout_id
    """

_INBOX_CLAIM = """
    INSERT INTO inbox (consumer, event_id) VALUES (%(c)s, %(e)s::uuid)
    ON CONFLICT DO NOTHING RETURNING 1
    """

_SET_FLAG = {
    flag: f"UPDATE payment_orders SET {flag.value} = true, updated_at = now()"
    " WHERE payment_order_id = %(id)s"
    for flag in Flag
}

_SET_PAYMENT_DONE = (
    "UPDATE payment_events SET is_payment_done = %(done)s WHERE checkout_id = %(id)s"
)

_ADD_PSP_EVENT = """
    INSERT INTO psp_events
           (event_id, type, payment_order_id, psp_reference, payload, created_at, received_at,
            result)
    VALUES (%(event_id)s, %(type)s, %(payment_order_id)s, %(psp_reference)s, %(payload)s,
            %(created_at)s, %(received_at)s, 'received')
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
    """

_SET_PSP_EVENT_RESULT = "UPDATE psp_events SET result = %(result)s WHERE event_id = %(event_id)s"

_EXISTING_IDS = """
    SELECT checkout_id FROM payment_events WHERE checkout_id = %(checkout_id)s
    UNION ALL
    SELECT payment_order_id FROM payment_orders WHERE payment_order_id = ANY(%(ids)s)
    """

_ADD_CHECKOUT = """
    INSERT INTO payment_events
           (checkout_id, buyer_id, buyer_email, buyer_name, buyer_pii_key_id, payment_method,
            is_payment_done, created_at, flow, redirect_url)
    VALUES (%(checkout_id)s, %(buyer_id)s, %(buyer_email)s, %(buyer_name)s,
            %(buyer_pii_key_id)s, %(payment_method)s, %(is_payment_done)s, %(created_at)s,
            %(flow)s, %(redirect_url)s)
    """

# All the orders of a checkout in one statement, from parallel arrays (one per column).
_ADD_ORDERS = """
    INSERT INTO payment_orders
           (payment_order_id, checkout_id, position, seller_account, amount, currency,
            fee_amount, status, wallet_updated, ledger_updated, psp_reference, failure_reason,
            attempts, psp_token, payment_page_url, created_at, updated_at)
    SELECT * FROM unnest(%(payment_order_id)s::text[], %(checkout_id)s::text[],
                         %(position)s::int[], %(seller_account)s::text[], %(amount)s::numeric[],
                         %(currency)s::text[], %(fee_amount)s::numeric[], %(status)s::text[],
                         %(wallet_updated)s::bool[], %(ledger_updated)s::bool[],
                         %(psp_reference)s::text[], %(failure_reason)s::text[],
                         %(attempts)s::int[], %(psp_token)s::text[],
                         %(payment_page_url)s::text[], %(created_at)s::timestamptz[],
                         %(updated_at)s::timestamptz[])
    """

_ADD_HISTORY = """
    INSERT INTO payment_order_history
           (payment_order_id, from_status, to_status, reason, occurred_at)
    SELECT * FROM unnest(%(payment_order_id)s::text[], %(from_status)s::text[],
                         %(to_status)s::text[], %(reason)s::text[], %(occurred_at)s::timestamptz[])
    """


def _columns(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows as one list per column (the arrays `unnest` turns back into rows)."""
    return {key: [row[key] for row in rows] for key in rows[0]}


def _duplicate_key(err: psycopg.Error) -> bool:
    return err.sqlstate == UNIQUE_VIOLATION


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


def _order(row: Any) -> PaymentOrder:
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


def _checkout(row: Any) -> Checkout:
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


def _to_charge(row: Any) -> OrderToCharge:
    return OrderToCharge(_order(row), row["payment_method"], row["buyer_id"], Flow(row["flow"]))


def _locked_checkout(checkouts: list[Any], orders: list[Any]) -> Checkout | None:
    if not checkouts:
        return None
    checkout = _checkout(checkouts[0])
    checkout.orders = [_order(row) for row in orders]
    return checkout


def _psp_event_statement(event: PspEvent, received_at: datetime) -> Statement:
    return (
        _ADD_PSP_EVENT,
        {
            "event_id": event.event_id,
            "type": event.type,
            "payment_order_id": event.payment_order_id,
            "psp_reference": event.psp_reference,
            "payload": event.payload,
            "created_at": event.created_at,
            "received_at": received_at,
        },
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
    def __init__(
        self, conn: AsyncConnection, cipher: PiiCipher, at_commit: list[Statement] | None = None
    ) -> None:
        self.conn = conn
        self.cipher = cipher  # buyer PII is sealed with it on write, opened on read
        # Writes whose result nothing reads in the transaction ride with its COMMIT
        # (mesh.at_commit); without a list (a bare connection), they are sent at once.
        self.at_commit = at_commit
        # Statuses orders entered in this transaction, counted once it commits (sql_uow).
        self.entered: list[str] = []
        # The checkouts `lock_checkouts_of` locked, by order id (None: no such order), as this
        # transaction changes them: the flags it sets are written with the COMMIT.
        self._locked: dict[str, Checkout | None] = {}

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
            claimed, held = await pipelined(self.conn, [(_CLAIM_SQL, params), (_HELD_SQL, params)])
            if claimed:
                return None
            if held:
                row = held[0]
                return IdempotencyRecord(
                    scope=row["scope"],
                    request_id=row["request_id"],
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
        [done] = await pipelined(
            self.conn,
            [
                (
                    _FINISH_SQL,
                    {
                        "scope": claim.scope,
                        "request_id": claim.request_id,
                        "token": claim.token,
                        "response": response,
                        "error": error,
                    },
                )
            ],
        )
        return bool(done)

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
        [rows] = await pipelined(
            self.conn, [(_EXISTING_IDS, {"checkout_id": checkout_id, "ids": payment_order_ids})]
        )
        return [row["checkout_id"] for row in rows]

    async def add_checkout(self, checkout: Checkout) -> None:
        """The checkout, its orders and their history: three statements, one round trip."""
        orders = [
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
        ]
        history = [_history_row(change) for o in checkout.orders for change in o.history]
        statements: list[Statement] = [
            (
                _ADD_CHECKOUT,
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
                },
            )
        ]
        if orders:
            statements.append((_ADD_ORDERS, _columns(orders)))
        if history:
            statements.append((_ADD_HISTORY, _columns(history)))
        try:
            await pipelined(self.conn, statements)
        except psycopg.Error as err:
            if _duplicate_key(err):
                raise DuplicateKey(str(err)) from err
            raise
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
        [rows] = await pipelined(self.conn, [(_ORDER_TO_CHARGE, {"id": payment_order_id})])
        return _to_charge(rows[0]) if rows else None

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
        if payment_order_id in self._locked:
            return self._locked[payment_order_id]  # locked with its batch
        params = {"id": payment_order_id}
        checkouts, orders = await pipelined(
            self.conn,
            [(_CHECKOUT_OF_ORDER_FOR_UPDATE, params), (_ORDERS_OF_CHECKOUT_OF_ORDER, params)],
        )
        return _locked_checkout(checkouts, orders)

    async def lock_checkouts_of(self, payment_order_ids: list[str]) -> None:
        """Two statements, one round trip: every checkout locked in checkout id order, then
        their orders, kept for the transaction (see the port)."""
        ids = sorted(set(payment_order_ids))
        checkouts, orders = await pipelined(
            self.conn,
            [
                (_CHECKOUTS_OF_ORDERS_FOR_UPDATE, {"ids": ids}),
                (_ORDERS_OF_CHECKOUTS_OF_ORDERS, {"ids": ids}),
            ],
        )
        by_id = {row["checkout_id"]: _checkout(row) for row in checkouts}
        checkout_of: dict[str, str] = {}
        for row in orders:
            order = _order(row)
            checkout_of[order.payment_order_id] = order.checkout_id
            by_id[order.checkout_id].orders.append(order)
        for payment_order_id in ids:
            checkout_id = checkout_of.get(payment_order_id)
            self._locked[payment_order_id] = None if checkout_id is None else by_id[checkout_id]

    async def claim_and_lock_checkout(
        self, consumer: str, event_id: str, payment_order_id: str
    ) -> tuple[bool, Checkout | None]:
        """One round trip (with the transaction's BEGIN): the claim, the lock, the orders. An
        event already applied took the lock for nothing; it is let go at the rollback."""
        params = {"id": payment_order_id}
        claimed, checkouts, orders = await pipelined(
            self.conn,
            [
                (_INBOX_CLAIM, {"c": consumer, "e": event_id}),
                (_CHECKOUT_OF_ORDER_FOR_UPDATE, params),
                (_ORDERS_OF_CHECKOUT_OF_ORDER, params),
            ],
        )
        if not claimed:
            return False, None
        return True, _locked_checkout(checkouts, orders)

    async def start_executions(
        self, payment_order_ids: list[str], at: datetime
    ) -> dict[str, OrderToCharge]:
        [rows] = await pipelined(
            self.conn,
            [(_START_EXECUTIONS, {"ids": payment_order_ids, "at": at, "reason": SENT_TO_PSP})],
        )
        started = {row["payment_order_id"]: _to_charge(row) for row in rows}
        self.entered += [OrderStatus.EXECUTING.value] * len(started)
        return started

    async def record_transition(
        self, order: PaymentOrder, change: StatusChange, expected: OrderStatus
    ) -> bool:
        [rows] = await pipelined(
            self.conn,
            [
                (
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
            ],
        )
        changed = bool(rows)
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
        await self._write((_SET_FLAG[flag], {"id": payment_order_id}))

    async def set_payment_done(self, checkout_id: str, done: bool) -> None:
        await self._write((_SET_PAYMENT_DONE, {"id": checkout_id, "done": done}))

    async def _write(self, statement: Statement) -> None:
        """A write nothing in the transaction reads back: with the COMMIT when there is one."""
        if self.at_commit is not None:
            self.at_commit.append(statement)
        else:
            await pipelined(self.conn, [statement])

    async def erase_buyer_pii(self, buyer_id: str, at: datetime) -> int:
        return await erase_buyer(self.conn, buyer_id, at)

    # --- PSP events ----------------------------------------------------------------------

    async def add_psp_event(self, event: PspEvent, received_at: datetime) -> bool:
        [rows] = await pipelined(self.conn, [_psp_event_statement(event, received_at)])
        return bool(rows)

    async def receive_psp_event(
        self, event: PspEvent, received_at: datetime
    ) -> tuple[bool, OrderToCharge | None]:
        """The event stored and its order read in one round trip (with the BEGIN)."""
        added, orders = await pipelined(
            self.conn,
            [
                _psp_event_statement(event, received_at),
                (_ORDER_TO_CHARGE, {"id": event.payment_order_id}),
            ],
        )
        if not added:
            return False, None
        return True, _to_charge(orders[0]) if orders else None

    async def set_psp_event_result(self, event_id: str, result: str) -> None:
        await self._write((_SET_PSP_EVENT_RESULT, {"event_id": event_id, "result": result}))

    # --- inbox -------------------------------------------------------------------------

    async def claim(self, consumer: str, event_id: str) -> bool:
        return await claim(self.conn, consumer, event_id)
