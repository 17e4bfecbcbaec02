"""The refunds' repository port: refunds and the order they refund, locked while a refund is
decided. `SqlRefundRepository` (adapters) implements it on PostgreSQL, `FakeRefundRepository`
(next to this file) in memory."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from payment_svc.domain.refund import Refund, RefundableOrder


@dataclass(frozen=True)
class OrderToRefund:
    """An order as the refund rules and the PSP need it."""

    refundable: RefundableOrder
    seller_account: str
    psp_reference: str  # the PSP's id of the charge


class RefundRepository(abc.ABC):
    @abc.abstractmethod
    async def lock_order(self, payment_order_id: str) -> OrderToRefund | None:
        """The order with the sums of its refunds not FAILED, its row locked until the end of
        the transaction: two refunds of one order are decided one after the other."""

    @abc.abstractmethod
    async def add_refund(self, refund: Refund) -> None:
        """Store a new refund. Raises DuplicateKey when its id is taken."""

    @abc.abstractmethod
    async def get_refund(self, refund_id: str) -> Refund | None: ...

    @abc.abstractmethod
    async def get_order_reference(self, payment_order_id: str) -> str:
        """The PSP's id of the order's charge ("" for an unknown order)."""

    @abc.abstractmethod
    async def count_attempt(self, refund_id: str, at: datetime) -> bool:
        """attempts + 1 (and updated_at = at) while the refund is still PENDING."""

    @abc.abstractmethod
    async def record_outcome(self, refund: Refund) -> bool:
        """Store the refund's terminal state if it is still PENDING in the store; False (nothing
        written) when another writer got there first."""

    @abc.abstractmethod
    async def list_stuck(self, updated_before: datetime, limit: int) -> list[str]:
        """Ids of PENDING refunds last changed before `updated_before`, the oldest first."""
