"""Payment service settings, read once from the environment; defaults fit the embedded dev
stack."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import limits

from mesh.settings import (
    ServiceSettings,
    SettingsError,
    env_decimal,
    env_float,
    env_int,
    env_list,
    env_positive,
    env_str,
    service_env,
)
from payment_svc.domain.breaker import BreakerPolicy
from payment_svc.domain.risk_limits import (
    DEFAULT_MAX_ORDER_AMOUNTS,
    DEFAULT_VELOCITY_MAX_AMOUNTS,
    AmountLimits,
)
from payment_svc.pii_keys import DEV_KEY, DEV_KEY_ID, pii_keys_from_env
from payment_svc.psp_secrets import (
    SANDBOX_API_KEY,
    SANDBOX_WEBHOOK_SECRET,
    env_secret,
    refuse_published_secrets,
)
from payment_svc.risk_provider_settings import RiskProviderSettings, risk_provider_from_env

DEFAULT_GRPC_ADDR = "127.0.0.1:50051"
DEFAULT_PSP_API_BASE = "http://127.0.0.1:12111"
# The sandbox's published key and signing secret: refused unless PSP_API_BASE is the local
# sandbox (payment_svc.psp_secrets).
DEFAULT_PSP_API_KEY = SANDBOX_API_KEY
DEFAULT_WEBHOOK_SECRET = SANDBOX_WEBHOOK_SECRET
ENVIRONMENTS = ("development", "production")
# A PSP redelivers a webhook for up to 3 days (Stripe); a stored event must outlive that, or a
# late redelivery would be applied as new (harmless, events only move orders forward, but
# recorded twice).
PSP_WEBHOOK_RETRY_PERIOD_S = 3 * 86_400.0


def _amount_limits(name: str, default: AmountLimits) -> AmountLimits:
    """ "USD:10000,JPY:1500000,..." (or a bare number: the same in every currency)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return AmountLimits.parse(raw)
    except ValueError as err:
        raise SettingsError(f"{name}: {err}") from None


def _positive(name: str, default: float) -> float:
    value = env_float(name, default)
    if value <= 0:
        raise SettingsError(f"{name}={value} must be positive")
    return value


def _breaker_policy() -> BreakerPolicy:
    recovery_s = env_float("PSP_BREAKER_RECOVERY_S", 60.0)
    if recovery_s < 0:
        raise SettingsError(f"PSP_BREAKER_RECOVERY_S={recovery_s} must not be negative")
    return BreakerPolicy(
        failure_threshold=env_int("PSP_BREAKER_FAILURES", 5, minimum=1),
        open_s=_positive("PSP_BREAKER_OPEN_S", 10.0),
        probes=env_int("PSP_BREAKER_PROBES", 1, minimum=1),
        recovery_s=recovery_s,
    )


def _drain_rate() -> str:
    """PSP_DRAIN_RATE, a rate such as "50/second": calls per process while the breaker is
    recovering."""
    raw = env_str("PSP_DRAIN_RATE", "50/second")
    try:
        item = limits.parse(raw)
    except (ValueError, IndexError):
        item = None
    if item is None or item.amount < 1 or ";" in raw or "," in raw:
        raise SettingsError(f"PSP_DRAIN_RATE={raw!r} must be one rate such as 50/second")
    return raw


@dataclass(frozen=True)
class PaymentSettings(ServiceSettings):
    """From DATABASE_URL, NATS_URL, PAYMENT_GRPC_ADDR, LOG_LEVEL, PAYMENT_DB_POOL_SIZE (see
    mesh.settings.service_env) and the variables named in `from_env`."""

    grpc_addr: str = DEFAULT_GRPC_ADDR
    psp_api_base: str = DEFAULT_PSP_API_BASE
    # Secrets stay out of repr(), so a logged settings object shows none of them.
    psp_api_key: str = field(default=DEFAULT_PSP_API_KEY, repr=False)
    psp_timeout_s: float = 10.0
    stripe_webhook_secret: str = field(default=DEFAULT_WEBHOOK_SECRET, repr=False)
    platform_fee_rate: Decimal = Decimal("0.10")
    risk_max_order_amount: AmountLimits = DEFAULT_MAX_ORDER_AMOUNTS
    risk_blocked_buyers: frozenset[str] = frozenset()
    # Velocity, per buyer and per payment-method token, in a sliding window (0 s: off).
    risk_velocity_window_s: int = 3600
    risk_velocity_max_checkouts: int = 50
    risk_velocity_max_amount: AmountLimits = DEFAULT_VELOCITY_MAX_AMOUNTS
    executor_concurrency: int = 64
    flags_concurrency: int = 64
    idempotency_key_ttl_s: int = 86_400
    idempotency_lease_s: int = 30
    sweeper_interval_s: float = 15.0
    sweeper_stuck_after_s: float = 60.0
    # A SUCCESS order whose wallet or ledger flag has not come back this long is announced again.
    sweeper_reannounce_after_s: float = 300.0
    psp_events_retention_s: float = 30 * 86_400.0
    # A verified event made further in the future than this is refused (clock skew allowance).
    webhook_max_future_s: int = 300
    environment: str = "development"  # PAYMESH_ENV; "production" forbids every dev default
    pii_keys: Mapping[str, bytes] = field(default_factory=lambda: {DEV_KEY_ID: DEV_KEY}, repr=False)
    pii_active_key_id: str = DEV_KEY_ID
    # The PSP circuit breaker (docs/adr/0015-psp-circuit-breaker.md).
    psp_breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    psp_drain_rate: str = "50/second"
    # The remote risk provider and its fallback (off unless RISK_PROVIDER_URL is set).
    risk_provider: RiskProviderSettings = field(default_factory=RiskProviderSettings)

    @classmethod
    def from_env(cls) -> PaymentSettings:
        fee_rate = env_decimal("PLATFORM_FEE_RATE", "0.10")
        if not Decimal(0) <= fee_rate <= Decimal(1):
            raise SettingsError(f"PLATFORM_FEE_RATE={fee_rate} must be between 0 and 1")
        environment = env_str("PAYMESH_ENV", "development")
        if environment not in ENVIRONMENTS:
            raise SettingsError(f"PAYMESH_ENV={environment} must be development or production")
        production = environment == "production"
        api_base = env_str("PSP_API_BASE", DEFAULT_PSP_API_BASE)
        api_key = env_secret("PSP_API_KEY", DEFAULT_PSP_API_KEY)
        webhook_secret = env_secret("STRIPE_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET)
        refuse_published_secrets(api_base, api_key, webhook_secret, production=production)
        pii_keys, pii_active = pii_keys_from_env(production=production)
        return cls(
            psp_api_base=api_base,
            psp_api_key=api_key,
            psp_timeout_s=_positive("PSP_TIMEOUT_S", 10.0),
            stripe_webhook_secret=webhook_secret,
            platform_fee_rate=fee_rate,
            risk_max_order_amount=_amount_limits(
                "RISK_MAX_ORDER_AMOUNT", DEFAULT_MAX_ORDER_AMOUNTS
            ),
            risk_blocked_buyers=frozenset(env_list("RISK_BLOCKED_BUYERS")),
            risk_velocity_window_s=env_int("RISK_VELOCITY_WINDOW_S", 3600, minimum=0),
            risk_velocity_max_checkouts=env_int("RISK_VELOCITY_MAX_CHECKOUTS", 50, minimum=0),
            risk_velocity_max_amount=_amount_limits(
                "RISK_VELOCITY_MAX_AMOUNT", DEFAULT_VELOCITY_MAX_AMOUNTS
            ),
            executor_concurrency=env_int("EXECUTOR_CONCURRENCY", 64, minimum=1),
            flags_concurrency=env_int("PAYMENT_FLAGS_CONCURRENCY", 64, minimum=1),
            idempotency_key_ttl_s=env_int("IDEMPOTENCY_KEY_TTL_S", 86_400, minimum=60),
            idempotency_lease_s=env_int("IDEMPOTENCY_LEASE_S", 30, minimum=1),
            sweeper_interval_s=_positive("SWEEPER_INTERVAL_S", 15.0),
            sweeper_stuck_after_s=_positive("SWEEPER_STUCK_AFTER_S", 60.0),
            sweeper_reannounce_after_s=_positive("SWEEPER_REANNOUNCE_AFTER_S", 300.0),
            psp_events_retention_s=env_positive(
                "PSP_EVENTS_RETENTION_S", 30 * 86_400.0, minimum=PSP_WEBHOOK_RETRY_PERIOD_S
            ),
            webhook_max_future_s=env_int("STRIPE_WEBHOOK_MAX_FUTURE_S", 300, minimum=0),
            environment=environment,
            pii_keys=pii_keys,
            pii_active_key_id=pii_active,
            psp_breaker=_breaker_policy(),
            psp_drain_rate=_drain_rate(),
            risk_provider=risk_provider_from_env(),
            **service_env("PAYMENT", DEFAULT_GRPC_ADDR),
        )
