"""The remote risk provider in memory (domain.risk_provider.RiskProvider), for unit tests: it
denies the buyers it is told to, or is away (raises RiskProviderUnavailable) while `down`."""

from __future__ import annotations

from dataclasses import dataclass, field

from payment_svc.domain.risk import Outcome, RiskSubject
from payment_svc.domain.risk_provider import ProviderVerdict, RiskProviderUnavailable


@dataclass
class FakeRiskProvider:
    denied_buyers: frozenset[str] = frozenset()
    down: bool = False
    asked: list[str] = field(default_factory=list)  # checkout ids, in the order asked

    async def assess(self, subject: RiskSubject) -> ProviderVerdict:
        self.asked.append(subject.checkout_id)
        if self.down:
            raise RiskProviderUnavailable("the risk provider timed out")
        if subject.buyer_id in self.denied_buyers:
            return ProviderVerdict(Outcome.DENY, f"ra_{len(self.asked)}", "95", "looks fraudulent")
        return ProviderVerdict(Outcome.ALLOW, f"ra_{len(self.asked)}", "5")
