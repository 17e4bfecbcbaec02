"""The payout service's settings, read once from the environment at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field

from mesh.settings import (
    ServiceSettings,
    env_float,
    env_int,
    env_str,
    refuse_dev_default,
    service_env,
)
from payout_svc.alert_settings import PayoutAlertSettings

DEFAULT_GRPC_ADDR = "127.0.0.1:50056"
DEFAULT_WALLET_GRPC_ADDR = "127.0.0.1:50052"
DEFAULT_PROVIDER_API_BASE = "http://127.0.0.1:12111"  # the sandbox PSP
DEFAULT_PROVIDER_API_KEY = "sk_test_paymesh_dev"  # the sandbox accepts any sk_test_ key
# The sandbox's Connect endpoint secret, published on purpose (psp_sandbox.settings).
DEFAULT_WEBHOOK_SECRET = "whsec_paymesh_sandbox_connect_dev"


@dataclass(frozen=True)
class PayoutSettings(ServiceSettings):
    """From DATABASE_URL, NATS_URL, PAYOUT_GRPC_ADDR, LOG_LEVEL, PAYOUT_DB_POOL_SIZE (see
    mesh.settings.service_env), WALLET_GRPC_ADDR, PAYOUT_PROVIDER_API_BASE,
    PAYOUT_PROVIDER_API_KEY, PAYOUT_PROVIDER_TIMEOUT_S, PAYOUT_SWEEP_INTERVAL_S,
    PAYOUT_STUCK_AFTER_S, PAYOUT_RETURN_WINDOW_S, PAYOUT_SCHEDULE_INTERVAL_S,
    PAYOUT_EXECUTOR_CONCURRENCY and PAYOUT_WEBHOOK_SECRET."""

    grpc_addr: str = DEFAULT_GRPC_ADDR
    wallet_grpc_addr: str = DEFAULT_WALLET_GRPC_ADDR
    # Stripe Connect (https://api.stripe.com and a live or test secret key) or the sandbox.
    provider_api_base: str = DEFAULT_PROVIDER_API_BASE
    provider_api_key: str = DEFAULT_PROVIDER_API_KEY
    provider_timeout_s: float = 10.0
    # How often the sweeper looks at payouts; a payout not moved for stuck_after_s is asked
    # about at the provider (and finished); a PAID one is watched for a bank return for
    # return_window_s.
    sweep_interval_s: float = 5.0
    stuck_after_s: float = 5.0
    return_window_s: float = 14 * 24 * 3600.0
    # How often the scheduled run looks for sellers due today (once per seller, currency and
    # period, however often it looks).
    schedule_interval_s: float = 3600.0
    executor_concurrency: int = 8
    # When stuck and repeatedly failing payouts raise alerts (PAYOUT_ALERT_*).
    payout_alerts: PayoutAlertSettings = field(default_factory=PayoutAlertSettings)
    # The signing secret of the provider's Connect webhook endpoint (`payout.*` events of
    # connected accounts, POST /v1/webhooks/stripe-connect); Stripe gives a Connect endpoint a
    # secret of its own.
    webhook_secret: str = field(default=DEFAULT_WEBHOOK_SECRET, repr=False)

    @classmethod
    def from_env(cls) -> PayoutSettings:
        key = env_str("PAYOUT_PROVIDER_API_KEY", DEFAULT_PROVIDER_API_KEY)
        refuse_dev_default("PAYOUT_PROVIDER_API_KEY", key, DEFAULT_PROVIDER_API_KEY)
        secret = env_str("PAYOUT_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET)
        refuse_dev_default("PAYOUT_WEBHOOK_SECRET", secret, DEFAULT_WEBHOOK_SECRET)
        return cls(
            wallet_grpc_addr=env_str("WALLET_GRPC_ADDR", DEFAULT_WALLET_GRPC_ADDR),
            provider_api_base=env_str("PAYOUT_PROVIDER_API_BASE", DEFAULT_PROVIDER_API_BASE),
            provider_api_key=key,
            provider_timeout_s=env_float("PAYOUT_PROVIDER_TIMEOUT_S", 10.0),
            sweep_interval_s=env_float("PAYOUT_SWEEP_INTERVAL_S", 5.0),
            stuck_after_s=env_float("PAYOUT_STUCK_AFTER_S", 5.0),
            return_window_s=env_float("PAYOUT_RETURN_WINDOW_S", 14 * 24 * 3600.0),
            schedule_interval_s=env_float("PAYOUT_SCHEDULE_INTERVAL_S", 3600.0),
            executor_concurrency=env_int("PAYOUT_EXECUTOR_CONCURRENCY", 8, minimum=1),
            payout_alerts=PayoutAlertSettings.from_env(),
            webhook_secret=secret,
            **service_env("PAYOUT", DEFAULT_GRPC_ADDR),
        )
