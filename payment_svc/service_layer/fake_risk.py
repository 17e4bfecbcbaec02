"""The risk repository in memory (service_layer.risk_ports), over the fake unit of work's
state: activity is counted from its checkouts and orders; there is no lock to take, as a fake
transaction never runs beside another."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from payment_svc.domain.risk import Outcome, RecentActivity, Tally
from payment_svc.service_layer.risk_ports import RiskRecord, RiskRepository

if TYPE_CHECKING:
    from payment_svc.service_layer.fake_uow import FakeStore


class FakeRiskRepository(RiskRepository):
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def _tally(self, matches: list[str]) -> Tally:
        amounts: dict[str, Decimal] = {}
        for order in self._store.state.orders.values():
            if order.checkout_id in matches:
                amounts[order.currency] = amounts.get(order.currency, Decimal(0)) + order.amount
        return Tally(len(matches), amounts)

    async def lock_recent_activity(
        self, buyer_id: str, payment_method: str, since: datetime
    ) -> RecentActivity:
        recent = [c for c in self._store.state.checkouts.values() if c.created_at > since]
        by_buyer = [c.checkout_id for c in recent if c.buyer_id == buyer_id]
        by_token = [
            c.checkout_id for c in recent if payment_method and c.payment_method == payment_method
        ]
        return RecentActivity(self._tally(by_buyer), self._tally(by_token))

    async def add_decision(self, record: RiskRecord) -> None:
        self._store.state.risk_decisions.append(record)

    async def decision_of(self, checkout_id: str) -> RiskRecord | None:
        allowed = [
            r
            for r in self._store.state.risk_decisions
            if r.checkout_id == checkout_id and r.decision.outcome is Outcome.ALLOW
        ]
        return allowed[-1] if allowed else None
