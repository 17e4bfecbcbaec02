"""The risk check with a remote provider beside the local rules (domain.risk_provider,
docs/adr/0023-risk-provider-fallback.md).

The provider is asked once per checkout, before the transaction that stores it (an HTTP call
must not hold the buyer's lock and a database connection for its timeout): `consult` returns
the `RiskCheck` that transaction then runs, the local rules plus the provider's verdict, or
plus the fallback's mark when the provider could not answer. A checkout too large for the
fallback is put off: its decision is recorded (outcome `defer`) in a short transaction of its
own and the caller gets UNAVAILABLE with Retry-After; its key is released, so the same request
is decided afresh when it comes back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mesh.errors import RETRY_AFTER_KEY, Code, ServiceError
from payment_svc.domain.commands import CreatePayment
from payment_svc.domain.risk import (
    NO_ACTIVITY,
    Outcome,
    RecentActivity,
    RiskCheck,
    RiskDecision,
    RiskSubject,
    RuleOutcome,
)
from payment_svc.domain.risk_provider import (
    FallbackPolicy,
    RiskProvider,
    RiskProviderUnavailable,
)
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory
from payment_svc.service_layer.risk_assessment import record_decision

log = logging.getLogger(__name__)

# What a fallback decision is counted as (mesh.metrics RISK_PROVIDER_FALLBACKS).
LOCAL_RULES = "local_rules"
DEFERRED = "deferred"


def provider_unavailable(retry_after_s: int) -> ServiceError:
    return ServiceError(
        Code.UNAVAILABLE,
        "RISK_PROVIDER_UNAVAILABLE",
        "the risk check cannot be completed now; retry later with the same request_id",
        metadata={RETRY_AFTER_KEY: str(retry_after_s)},
    )


@dataclass(frozen=True)
class _WithOpinion:
    """The local rules, plus the provider's opinion (or the fallback's mark) as one more rule:
    denied when either denies."""

    local: RiskCheck
    opinion: RuleOutcome

    @property
    def lookback(self) -> timedelta:
        return self.local.lookback

    async def assess(
        self, subject: RiskSubject, recent: RecentActivity = NO_ACTIVITY
    ) -> RiskDecision:
        decision = await self.local.assess(subject, recent)
        return RiskDecision.of([*decision.rules, self.opinion])


@dataclass
class ProviderBackedRiskCheck:
    """A RiskCheck: the local rules and, checkout by checkout, the remote provider (`consult`).
    Used without `consult`, it is the local rules alone."""

    local: RiskCheck
    provider: RiskProvider
    fallback: FallbackPolicy
    uow: UnitOfWorkFactory
    clock: Clock
    on_fallback: Callable[[str], None] = field(default=lambda decision: None)

    @property
    def lookback(self) -> timedelta:
        return self.local.lookback

    async def assess(
        self, subject: RiskSubject, recent: RecentActivity = NO_ACTIVITY
    ) -> RiskDecision:
        return await self.local.assess(subject, recent)

    async def consult(self, cmd: CreatePayment) -> RiskCheck:
        subject = cmd.risk_subject()
        # Refused on the request alone (blocked buyer, amount, currency): the provider has
        # nothing to add, and the transaction refuses it again and records why.
        if not (await self.local.assess(subject)).approved:
            return self.local
        try:
            verdict = await self.provider.assess(subject)
        except RiskProviderUnavailable as err:
            return await self._fall_back(cmd, subject, str(err) or type(err).__name__)
        return _WithOpinion(self.local, verdict.as_rule())

    async def _fall_back(self, cmd: CreatePayment, subject: RiskSubject, why: str) -> RiskCheck:
        decision = self.fallback.decide(subject, why)
        if decision.proceeds:
            self.on_fallback(LOCAL_RULES)
            log.warning(
                "risk provider unavailable (%s): checkout %s proceeds on the local rules",
                why,
                cmd.checkout_id,
            )
            return _WithOpinion(self.local, decision.as_rule())
        self.on_fallback(DEFERRED)
        log.warning(
            "risk provider unavailable (%s): checkout %s is too large for the fallback; put off",
            why,
            cmd.checkout_id,
        )
        await self._record_deferral(cmd, subject, decision.as_rule(), self.clock())
        raise provider_unavailable(self.fallback.retry_after_s)

    async def _record_deferral(
        self, cmd: CreatePayment, subject: RiskSubject, rule: RuleOutcome, now: datetime
    ) -> None:
        local = await self.local.assess(subject)
        deferred = RiskDecision(Outcome.DEFER, rule.rule, "", (*local.rules, rule))
        try:
            async with self.uow() as tx:
                await record_decision(tx, cmd, deferred, now)
                await tx.commit()
        except Exception:  # the store may be away too: the answer (503) is the same
            log.exception("could not record the deferral of checkout %s", cmd.checkout_id)


async def consult_risk_provider(risk: RiskCheck, cmd: CreatePayment) -> RiskCheck:
    """The check to run for this checkout: with the provider's opinion when `risk` has a
    provider, else `risk` itself. Raises UNAVAILABLE (Retry-After) when the provider is away
    and the checkout too large to proceed without it."""
    if isinstance(risk, ProviderBackedRiskCheck):
        return await risk.consult(cmd)
    return risk
