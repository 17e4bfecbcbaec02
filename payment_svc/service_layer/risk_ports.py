"""The risk repository port: the recent activity the velocity rules count, read under a lock
per buyer and per token, and the decision stored with each checkout (or refusal).
`SqlRiskRepository` (adapters) implements it on PostgreSQL, `FakeRiskRepository` (next to this
file) in memory."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from payment_svc.domain.risk import RecentActivity, RiskDecision


@dataclass(frozen=True)
class RiskRecord:
    """A decision as stored: about which checkout, for whom, when."""

    checkout_id: str
    buyer_id: str
    payment_method: str
    request_id: str  # the idempotency key of the request it answered
    decision: RiskDecision
    decided_at: datetime


class RiskRepository(abc.ABC):
    @abc.abstractmethod
    async def lock_recent_activity(
        self, buyer_id: str, payment_method: str, since: datetime
    ) -> RecentActivity:
        """Checkouts and amount per currency of the buyer, and of the token (none when
        `payment_method` is ""), created after `since`; the buyer and the token are locked
        until the end of the transaction, so two checkouts of one buyer are decided one after
        the other, each counting the other once it is committed."""

    @abc.abstractmethod
    async def add_decision(self, record: RiskRecord) -> None:
        """Store a decision; it commits (or not) with the transaction."""

    @abc.abstractmethod
    async def decision_of(self, checkout_id: str) -> RiskRecord | None:
        """The decision that let the checkout in (None for one stored before decisions were)."""
