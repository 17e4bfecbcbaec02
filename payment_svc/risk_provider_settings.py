"""Settings of the remote risk provider and its fallback (docs/adr/0023-risk-provider-fallback.md),
read with the payment service's (PaymentSettings.risk_provider)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mesh.settings import SettingsError, env_float, env_int, env_str
from payment_svc.domain.breaker import BreakerPolicy
from payment_svc.domain.risk_limits import DEFAULT_MAX_ORDER_AMOUNTS, AmountLimits
from payment_svc.domain.risk_provider import FallbackPolicy, scaled_down

# About USD 100 in each currency: a hundredth of the default order limits.
DEFAULT_FALLBACK_MAX_AMOUNTS = scaled_down(DEFAULT_MAX_ORDER_AMOUNTS, 100)


@dataclass(frozen=True)
class RiskProviderSettings:
    url: str = ""  # RISK_PROVIDER_URL; empty: no remote provider, the local rules alone
    api_key: str = field(default="", repr=False)
    timeout_s: float = 2.0
    fallback: FallbackPolicy = field(
        default_factory=lambda: FallbackPolicy(DEFAULT_FALLBACK_MAX_AMOUNTS)
    )
    breaker: BreakerPolicy = field(
        default_factory=lambda: BreakerPolicy(failure_threshold=5, open_s=10.0, recovery_s=0.0)
    )

    @property
    def enabled(self) -> bool:
        return bool(self.url)


def _fallback_limits() -> AmountLimits:
    raw = os.environ.get("RISK_FALLBACK_MAX_AMOUNT", "").strip()
    if not raw:
        return DEFAULT_FALLBACK_MAX_AMOUNTS
    try:
        return AmountLimits.parse(raw)
    except ValueError as err:
        raise SettingsError(f"RISK_FALLBACK_MAX_AMOUNT: {err}") from None


def risk_provider_from_env() -> RiskProviderSettings:
    url = env_str("RISK_PROVIDER_URL", "")
    if url and not url.startswith(("http://", "https://")):
        raise SettingsError(f"RISK_PROVIDER_URL={url!r} must be an http(s) URL")
    timeout_s = env_float("RISK_PROVIDER_TIMEOUT_S", 2.0)
    open_s = env_float("RISK_PROVIDER_BREAKER_OPEN_S", 10.0)
    if timeout_s <= 0 or open_s <= 0:
        raise SettingsError("RISK_PROVIDER_TIMEOUT_S and RISK_PROVIDER_BREAKER_OPEN_S must be > 0")
    return RiskProviderSettings(
        url=url,
        api_key=os.environ.get("RISK_PROVIDER_API_KEY", "").strip(),
        timeout_s=timeout_s,
        fallback=FallbackPolicy(
            _fallback_limits(), env_int("RISK_FALLBACK_RETRY_AFTER_S", 30, minimum=1)
        ),
        breaker=BreakerPolicy(
            failure_threshold=env_int("RISK_PROVIDER_BREAKER_FAILURES", 5, minimum=1),
            open_s=open_s,
            recovery_s=0.0,
        ),
    )
