"""The risk check: asked before a payment is accepted. `RiskCheck` is the port; the default
is a rule engine over the request alone (amount limit per order, blocked buyers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class RiskOrder:
    payment_order_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class RiskSubject:
    """What the risk check sees of a payment."""

    checkout_id: str
    buyer_id: str
    orders: Sequence[RiskOrder]


@dataclass(frozen=True)
class RiskDecision:
    approved: bool
    rule: str = ""  # the rule that refused, e.g. "buyer.blocked"
    message: str = ""

    @classmethod
    def approve(cls) -> RiskDecision:
        return cls(True)

    @classmethod
    def reject(cls, rule: str, message: str) -> RiskDecision:
        return cls(False, rule, message)


class RiskCheck(Protocol):
    async def assess(self, subject: RiskSubject) -> RiskDecision: ...


@dataclass(frozen=True)
class RuleBasedRiskCheck:
    """Refuses a blocked buyer, and any order above `max_order_amount` (in its own currency)."""

    max_order_amount: Decimal
    blocked_buyers: frozenset[str] = frozenset()

    def evaluate(self, subject: RiskSubject) -> RiskDecision:
        if subject.buyer_id in self.blocked_buyers:
            return RiskDecision.reject("buyer.blocked", "the buyer is not allowed to pay")
        for order in subject.orders:
            if order.amount > self.max_order_amount:
                return RiskDecision.reject(
                    "order.amount_limit",
                    f"payment order {order.payment_order_id} exceeds the per-order limit of "
                    f"{self.max_order_amount} {order.currency}",
                )
        return RiskDecision.approve()

    async def assess(self, subject: RiskSubject) -> RiskDecision:
        return self.evaluate(subject)
