"""The refund repository on PostgreSQL, SQLAlchemy Core over the unit of work's connection."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import RowMapping, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_svc.adapters.sql_repository import insert_rows
from payment_svc.adapters.tables import payment_orders, refunds
from payment_svc.domain.refund import Refund, RefundableOrder, RefundStatus
from payment_svc.service_layer.refund_ports import OrderToRefund, RefundRepository

# The order row locked first: every refund of the order is decided behind this lock, so the
# sums read next include every refund committed before it.
_LOCK_ORDER = text(
    """
    SELECT payment_order_id, status, amount, fee_amount, currency, seller_account,
           psp_reference
      FROM payment_orders WHERE payment_order_id = :id FOR UPDATE
    """
)
_REFUNDED = text(
    """
    SELECT coalesce(sum(amount), 0) AS refunded, coalesce(sum(fee_refunded), 0) AS fee
      FROM refunds WHERE payment_order_id = :id AND status <> 'FAILED'
    """
)


def refund_from_row(row: RowMapping) -> Refund:
    return Refund(
        refund_id=row["refund_id"],
        payment_order_id=row["payment_order_id"],
        seller_account=row["seller_account"],
        amount=row["amount"],
        fee_refunded=row["fee_refunded"],
        currency=row["currency"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        status=RefundStatus(row["status"]),
        psp_reference=row["psp_reference"],
        failure_reason=row["failure_reason"],
        attempts=row["attempts"],
    )


class SqlRefundRepository(RefundRepository):
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        # Statuses refunds entered in this transaction, counted once it commits (sql_uow).
        self.entered: list[str] = []

    async def lock_order(self, payment_order_id: str) -> OrderToRefund | None:
        order = (await self.conn.execute(_LOCK_ORDER, {"id": payment_order_id})).mappings().first()
        if order is None:
            return None
        sums = (await self.conn.execute(_REFUNDED, {"id": payment_order_id})).mappings().one()
        refundable = RefundableOrder(
            payment_order_id=payment_order_id,
            succeeded=order["status"] == "SUCCESS",
            amount=order["amount"],
            fee_amount=order["fee_amount"],
            currency=order["currency"],
            refunded=Decimal(sums["refunded"]),
            fee_refunded=Decimal(sums["fee"]),
        )
        return OrderToRefund(refundable, order["seller_account"], order["psp_reference"])

    async def add_refund(self, refund: Refund) -> None:
        await insert_rows(
            self.conn,
            refunds,
            [
                {
                    "refund_id": refund.refund_id,
                    "payment_order_id": refund.payment_order_id,
                    "seller_account": refund.seller_account,
                    "amount": refund.amount,
                    "fee_refunded": refund.fee_refunded,
                    "currency": refund.currency,
                    "status": refund.status.value,
                    "psp_reference": refund.psp_reference,
                    "failure_reason": refund.failure_reason,
                    "attempts": refund.attempts,
                    "created_at": refund.created_at,
                    "updated_at": refund.updated_at,
                }
            ],
        )
        self.entered.append(refund.status.value)

    async def get_refund(self, refund_id: str) -> Refund | None:
        row = (
            (await self.conn.execute(select(refunds).where(refunds.c.refund_id == refund_id)))
            .mappings()
            .first()
        )
        return None if row is None else refund_from_row(row)

    async def get_order_reference(self, payment_order_id: str) -> str:
        reference = await self.conn.scalar(
            select(payment_orders.c.psp_reference).where(
                payment_orders.c.payment_order_id == payment_order_id
            )
        )
        return reference or ""

    async def count_attempt(self, refund_id: str, at: datetime) -> bool:
        result = await self.conn.execute(
            update(refunds)
            .where(
                refunds.c.refund_id == refund_id,
                refunds.c.status == RefundStatus.PENDING.value,
            )
            .values(attempts=refunds.c.attempts + 1, updated_at=at)
            .returning(refunds.c.refund_id)
        )
        return result.first() is not None

    async def record_outcome(self, refund: Refund) -> bool:
        result = await self.conn.execute(
            update(refunds)
            .where(
                refunds.c.refund_id == refund.refund_id,
                refunds.c.status == RefundStatus.PENDING.value,
            )
            .values(
                status=refund.status.value,
                psp_reference=refund.psp_reference,
                failure_reason=refund.failure_reason,
                updated_at=refund.updated_at,
            )
            .returning(refunds.c.refund_id)
        )
        changed = result.first() is not None
        if changed:
            self.entered.append(refund.status.value)
        return changed

    async def list_stuck(self, updated_before: datetime, limit: int) -> list[str]:
        result = await self.conn.execute(
            select(refunds.c.refund_id)
            .where(
                refunds.c.status == RefundStatus.PENDING.value,
                refunds.c.updated_at < updated_before,
            )
            .order_by(refunds.c.updated_at)
            .limit(limit)
        )
        return list(result.scalars())
