"""Composition of the risk check (bootstrap's part for it): the local rule engine, and the
remote provider in front of it when RISK_PROVIDER_URL is set."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import monotonic

from mesh.metrics import RISK_PROVIDER_FALLBACKS, Children
from payment_svc.adapters.http_risk_provider import HttpRiskProvider
from payment_svc.domain.breaker import CircuitBreaker
from payment_svc.domain.risk import RiskCheck
from payment_svc.risk_provider_settings import RiskProviderSettings
from payment_svc.service_layer.ports import Clock, UnitOfWorkFactory
from payment_svc.service_layer.remote_risk import ProviderBackedRiskCheck

_fallbacks = Children(RISK_PROVIDER_FALLBACKS)


def with_risk_provider(
    local: RiskCheck, settings: RiskProviderSettings, uow: UnitOfWorkFactory, clock: Clock
) -> tuple[RiskCheck, list[Callable[[], Awaitable[None]]]]:
    """The risk check to serve, and what to close at shutdown."""
    if not settings.enabled:
        return local, []
    provider = HttpRiskProvider(
        settings.url,
        settings.api_key,
        settings.timeout_s,
        CircuitBreaker(settings.breaker, monotonic),
    )
    risk = ProviderBackedRiskCheck(
        local,
        provider,
        settings.fallback,
        uow,
        clock,
        on_fallback=lambda decision: _fallbacks(decision).inc(),
    )
    return risk, [provider.aclose]
