"""The risk check: asked before a payment is accepted. `RiskCheck` is the port; the default
is a rule engine (`RuleBasedRiskCheck`): blocked buyers, amount limits per order in each
currency, and velocity (checkouts and amount per buyer, and per payment-method token, in a
sliding window). It decides on the request and on `RecentActivity`, which the service layer
reads from the store under a lock per buyer and per token (docs/adr/0006-fraud-rules.md).

Every rule's outcome and figures are kept in the decision, which is stored with the checkout;
the caller sees only the deciding rule's name and a message without thresholds."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Protocol

from mesh.money import format_amount
from payment_svc.domain.risk_limits import AmountLimits

# Stripe's test-mode tokens (pm_card_visa, ...) and the sandbox's are shared by every buyer;
# they cannot charge in live mode, and counting them per token would refuse every test buyer
# once the first few had paid. A real PaymentMethod id ("pm_" + letters and digits) never
# starts with this.
SHARED_TEST_TOKEN_PREFIX = "pm_card_"


class Outcome(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    SKIP = "skip"  # a rule that does not apply to this checkout; never a decision's outcome
    # Put off: the remote risk provider is away and the checkout is too large to proceed on the
    # local rules alone (domain.risk_provider); the client retries later with the same key.
    DEFER = "defer"


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
    payment_method: str = ""  # the PSP token; "" for a hosted checkout

    @property
    def counted_payment_method(self) -> str:
        """The token velocity is counted for, or "" when none is (no token, or a shared test
        token)."""
        if self.payment_method.startswith(SHARED_TEST_TOKEN_PREFIX):
            return ""
        return self.payment_method

    def amounts(self) -> dict[str, Decimal]:
        """The checkout's total per currency."""
        totals: dict[str, Decimal] = {}
        for order in self.orders:
            totals[order.currency] = totals.get(order.currency, Decimal(0)) + order.amount
        return totals


@dataclass(frozen=True)
class Tally:
    """What one buyer, or one token, did in the window: checkouts accepted, amount per currency."""

    checkouts: int = 0
    amounts: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class RecentActivity:
    buyer: Tally = field(default_factory=Tally)
    payment_method: Tally = field(default_factory=Tally)


NO_ACTIVITY = RecentActivity()


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's verdict with the figures it compared (decimal strings), for the record."""

    rule: str  # e.g. "velocity.buyer.checkouts"
    outcome: Outcome
    figures: Mapping[str, str] = field(default_factory=dict)
    message: str = ""  # for the caller, when the rule denies: what, never the threshold


@dataclass(frozen=True)
class RiskDecision:
    outcome: Outcome
    rule: str = ""  # the rule that refused, e.g. "buyer.blocked"
    message: str = ""
    rules: tuple[RuleOutcome, ...] = ()  # every rule evaluated, in order

    @property
    def approved(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @classmethod
    def approve(cls, rules: Sequence[RuleOutcome] = ()) -> RiskDecision:
        return cls(Outcome.ALLOW, rules=tuple(rules))

    @classmethod
    def reject(cls, rule: str, message: str, rules: Sequence[RuleOutcome] = ()) -> RiskDecision:
        return cls(Outcome.DENY, rule, message, tuple(rules))

    @classmethod
    def of(cls, rules: Sequence[RuleOutcome]) -> RiskDecision:
        """Denied by the first rule that denies; allowed when none does."""
        for result in rules:
            if result.outcome is Outcome.DENY:
                return cls.reject(result.rule, result.message, rules)
        return cls.approve(rules)


class RiskCheck(Protocol):
    """The port. `lookback` is how far back `assess` wants the buyer's and the token's
    activity (zero: it wants none, and no lock is taken)."""

    @property
    def lookback(self) -> timedelta: ...

    async def assess(
        self, subject: RiskSubject, recent: RecentActivity = NO_ACTIVITY
    ) -> RiskDecision: ...


@dataclass(frozen=True)
class VelocityLimits:
    """Per buyer and per token, within `window`: at most `max_checkouts` checkouts (0: no
    count limit) and `max_amounts` per currency (a currency without an entry: no amount limit).
    A zero window turns velocity off."""

    window: timedelta = timedelta(0)
    max_checkouts: int = 0
    max_amounts: AmountLimits = field(default_factory=AmountLimits)


def _rule(rule: str, denied: bool, figures: Mapping[str, str], message: str) -> RuleOutcome:
    if denied:
        return RuleOutcome(rule, Outcome.DENY, figures, message)
    return RuleOutcome(rule, Outcome.ALLOW, figures)


@dataclass(frozen=True)
class RuleBasedRiskCheck:
    """The default rule engine. `max_order_amount` is a limit per currency (`AmountLimits`); a
    bare Decimal is the same number in every currency, as the setting once was. A currency
    without a limit is refused: no limit is known for it (ADR 0006)."""

    max_order_amount: AmountLimits | Decimal
    blocked_buyers: frozenset[str] = frozenset()
    velocity: VelocityLimits = field(default_factory=VelocityLimits)

    @property
    def order_limits(self) -> AmountLimits:
        if isinstance(self.max_order_amount, AmountLimits):
            return self.max_order_amount
        return AmountLimits.everywhere(self.max_order_amount)

    @property
    def lookback(self) -> timedelta:
        return self.velocity.window

    async def assess(
        self, subject: RiskSubject, recent: RecentActivity = NO_ACTIVITY
    ) -> RiskDecision:
        return self.evaluate(subject, recent)

    def evaluate(self, subject: RiskSubject, recent: RecentActivity = NO_ACTIVITY) -> RiskDecision:
        return RiskDecision.of(list(self._rules(subject, recent)))

    def _rules(self, subject: RiskSubject, recent: RecentActivity) -> Iterator[RuleOutcome]:
        yield _rule(
            "buyer.blocked",
            subject.buyer_id in self.blocked_buyers,
            {},
            "the buyer is not allowed to pay",
        )
        yield self._currencies(subject)
        yield self._order_amounts(subject)
        if self.velocity.window > timedelta(0):
            yield from self._velocity("buyer", "this buyer", subject, recent.buyer)
            if subject.counted_payment_method:
                yield from self._velocity(
                    "payment_method", "this payment method", subject, recent.payment_method
                )
            else:
                why = "hosted flow" if not subject.payment_method else "shared test token"
                for what in ("checkouts", "amount"):
                    yield RuleOutcome(f"velocity.payment_method.{what}", Outcome.SKIP, {"why": why})

    def _currencies(self, subject: RiskSubject) -> RuleOutcome:
        limits = self.order_limits
        currencies = sorted({o.currency for o in subject.orders})
        unknown = [c for c in currencies if limits.limit_for(c) is None]
        return _rule(
            "order.currency_not_accepted",
            bool(unknown),
            {"currencies": ",".join(currencies), "without_limit": ",".join(unknown)},
            f"payments in {', '.join(unknown)} are not accepted",
        )

    def _order_amounts(self, subject: RiskSubject) -> RuleOutcome:
        limits = self.order_limits
        figures: dict[str, str] = {}
        over: list[str] = []
        largest: dict[str, RiskOrder] = {}
        for order in subject.orders:
            if order.currency not in largest or order.amount > largest[order.currency].amount:
                largest[order.currency] = order
        for currency, order in sorted(largest.items()):
            limit = limits.limit_for(currency)
            if limit is None:
                continue  # refused by order.currency_not_accepted
            figures[f"{currency}.largest"] = format_amount(order.amount, currency)
            figures[f"{currency}.limit"] = format_amount(limit, currency)
            if order.amount > limit:
                over.append(order.payment_order_id)
        return _rule(
            "order.amount_limit",
            bool(over),
            figures,
            f"payment order {over[0] if over else ''} is above the amount accepted for one "
            "order in its currency",
        )

    def _velocity(
        self, counted_by: str, who: str, subject: RiskSubject, tally: Tally
    ) -> Iterator[RuleOutcome]:
        window_s = str(int(self.velocity.window.total_seconds()))
        limit = self.velocity.max_checkouts
        if limit > 0:
            with_this = tally.checkouts + 1
            yield _rule(
                f"velocity.{counted_by}.checkouts",
                with_this > limit,
                {
                    "window_s": window_s,
                    "recent": str(tally.checkouts),
                    "with_this": str(with_this),
                    "limit": str(limit),
                },
                f"too many checkouts from {who} in a short time; try again later",
            )
        figures = {"window_s": window_s}
        over: list[str] = []
        for currency, amount in sorted(subject.amounts().items()):
            cap = self.velocity.max_amounts.limit_for(currency)
            if cap is None:
                continue
            recent = tally.amounts.get(currency, Decimal(0))
            figures[f"{currency}.recent"] = format_amount(recent, currency)
            figures[f"{currency}.with_this"] = format_amount(recent + amount, currency)
            figures[f"{currency}.limit"] = format_amount(cap, currency)
            if recent + amount > cap:
                over.append(currency)
        yield _rule(
            f"velocity.{counted_by}.amount",
            bool(over),
            figures,
            f"too much paid in {', '.join(over)} by {who} in a short time; try again later",
        )
