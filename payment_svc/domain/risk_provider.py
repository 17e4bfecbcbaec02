"""A remote risk provider beside the local rule engine, and what to do when it cannot answer
(docs/adr/0023-risk-provider-fallback.md).

`RiskProvider` is the port (an HTTP adapter calls the provider; a fake answers in unit tests).
When the provider times out or is down, `FallbackPolicy` decides: a checkout whose total in
each of its currencies is at or under the fallback limit proceeds on the local rules alone
(and its decision says so: rule `risk_provider` with outcome SKIP and `fallback=local_rules`);
a larger one is put off (the caller gets UNAVAILABLE with Retry-After and retries later with the
same key). Small transactions may still proceed, as the source documents put it; large ones
wait for the provider's opinion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from mesh.money import format_amount
from mesh.retry import Transient
from payment_svc.domain.risk import Outcome, RiskSubject, RuleOutcome
from payment_svc.domain.risk_limits import AmountLimits

PROVIDER_RULE = "risk_provider"
FALLBACK_LOCAL_RULES = "local_rules"  # figures["fallback"] of a decision made without it


class RiskProviderUnavailable(Transient):
    """The provider timed out, answered 5xx/429, could not be reached, or its breaker is open."""


@dataclass(frozen=True)
class ProviderVerdict:
    """The provider's answer: allow or deny, with its own score and reference."""

    outcome: Outcome  # ALLOW or DENY
    reference: str = ""  # the provider's id of the assessment
    score: str = ""  # its risk score, as it gave it
    reason: str = ""  # why it denied, for the record (never shown to the buyer)

    def as_rule(self) -> RuleOutcome:
        figures = {"reference": self.reference, "score": self.score}
        if self.reason:
            figures["reason"] = self.reason
        return RuleOutcome(
            PROVIDER_RULE,
            self.outcome,
            figures,
            "the payment was refused by the risk provider" if self.outcome is Outcome.DENY else "",
        )


class RiskProvider(Protocol):
    async def assess(self, subject: RiskSubject) -> ProviderVerdict:
        """The provider's verdict; raises RiskProviderUnavailable when it cannot give one."""
        ...


@dataclass(frozen=True)
class FallbackDecision:
    """What the fallback rule decided for one checkout while the provider is away."""

    proceeds: bool  # True: on the local rules alone; False: put off (503, Retry-After)
    figures: Mapping[str, str] = field(default_factory=dict)

    def as_rule(self) -> RuleOutcome:
        outcome = Outcome.SKIP if self.proceeds else Outcome.DEFER
        return RuleOutcome(PROVIDER_RULE, outcome, self.figures)


@dataclass(frozen=True)
class FallbackPolicy:
    """`max_amounts`: the largest checkout total, per currency in its own units, that may
    proceed on the local rules alone (a currency without an entry never does). `retry_after_s`:
    what a put-off checkout is told to wait."""

    max_amounts: AmountLimits
    retry_after_s: int = 30

    def decide(self, subject: RiskSubject, why: str) -> FallbackDecision:
        figures = {"fallback": FALLBACK_LOCAL_RULES, "why": why[:200]}
        proceeds = True
        for currency, total in sorted(subject.amounts().items()):
            limit = self.max_amounts.limit_for(currency)
            figures[f"{currency}.total"] = format_amount(total, currency)
            figures[f"{currency}.fallback_limit"] = (
                "none" if limit is None else format_amount(limit, currency)
            )
            if limit is None or total > limit:
                proceeds = False
        if not proceeds:
            figures["fallback"] = "deferred"
        return FallbackDecision(proceeds, figures)


def scaled_down(limits: AmountLimits, divisor: int) -> AmountLimits:
    """`limits` divided by `divisor` (the default fallback limits: a hundredth of the order
    limits, about USD 100 in each currency)."""
    return AmountLimits(
        {c: v / Decimal(divisor) for c, v in limits.per_currency.items()},
        None if limits.otherwise is None else limits.otherwise / Decimal(divisor),
    )
