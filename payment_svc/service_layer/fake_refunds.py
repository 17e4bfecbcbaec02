"""The refund repository in memory, over the same `FakeStore` as the payment fakes (so a
rollback undoes refunds too), for unit tests of the refund use cases."""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from payment_svc.domain.order import OrderStatus
from payment_svc.domain.refund import Refund, RefundableOrder, RefundStatus
from payment_svc.service_layer.ports import DuplicateKey
from payment_svc.service_layer.refund_ports import OrderToRefund, RefundRepository

if TYPE_CHECKING:
    from payment_svc.service_layer.fake_uow import FakeStore


class FakeRefundRepository(RefundRepository):
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    @property
    def _refunds(self) -> dict[str, Refund]:
        return self._store.state.refunds

    async def lock_order(self, payment_order_id: str) -> OrderToRefund | None:
        order = self._store.state.orders.get(payment_order_id)
        if order is None:
            return None
        live = [
            r
            for r in self._refunds.values()
            if r.payment_order_id == payment_order_id and r.status is not RefundStatus.FAILED
        ]
        refundable = RefundableOrder(
            payment_order_id=payment_order_id,
            succeeded=order.status is OrderStatus.SUCCESS,
            amount=order.amount,
            fee_amount=order.fee_amount,
            currency=order.currency,
            refunded=sum((r.amount for r in live), Decimal(0)),
            fee_refunded=sum((r.fee_refunded for r in live), Decimal(0)),
        )
        return OrderToRefund(refundable, order.seller_account, order.psp_reference)

    async def add_refund(self, refund: Refund) -> None:
        if refund.refund_id in self._refunds:
            raise DuplicateKey(refund.refund_id)
        self._refunds[refund.refund_id] = copy.deepcopy(refund)

    async def get_refund(self, refund_id: str) -> Refund | None:
        found = self._refunds.get(refund_id)
        return None if found is None else copy.deepcopy(found)

    async def get_order_reference(self, payment_order_id: str) -> str:
        order = self._store.state.orders.get(payment_order_id)
        return "" if order is None else order.psp_reference

    async def count_attempt(self, refund_id: str, at: datetime) -> bool:
        stored = self._refunds.get(refund_id)
        if stored is None or stored.status is not RefundStatus.PENDING:
            return False
        stored.attempts += 1
        stored.updated_at = at
        return True

    async def record_outcome(self, refund: Refund) -> bool:
        stored = self._refunds.get(refund.refund_id)
        if stored is None or stored.status is not RefundStatus.PENDING:
            return False
        self._refunds[refund.refund_id] = copy.deepcopy(refund)
        return True

    async def list_stuck(self, updated_before: datetime, limit: int) -> list[str]:
        stuck = sorted(
            (
                r
                for r in self._refunds.values()
                if r.status is RefundStatus.PENDING and r.updated_at < updated_before
            ),
            key=lambda r: r.updated_at,
        )
        return [r.refund_id for r in stuck[:limit]]
