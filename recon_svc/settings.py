"""The reconciliation service's settings, read once from the environment at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from mesh.money import CURRENCY_EXPONENTS
from mesh.settings import (
    ServiceSettings,
    SettingsError,
    env_decimal,
    env_float,
    env_str,
    refuse_dev_default,
    service_env,
)
from recon_svc.domain.queue import WriteOffLimits

DEFAULT_GRPC_ADDR = "127.0.0.1:50057"
DEFAULT_PAYMENT_GRPC_ADDR = "127.0.0.1:50051"
DEFAULT_LEDGER_GRPC_ADDR = "127.0.0.1:50053"
# Write-off limits of the currencies whose unit is worth far less than a dollar's (the others
# take RECON_WRITE_OFF_LIMIT, in their own major unit).
DEFAULT_WRITE_OFF_LIMITS = "JPY=1500,KRW=15000"
DEFAULT_PSP_API_BASE = "http://127.0.0.1:12111"  # the sandbox PSP
DEFAULT_PSP_API_KEY = "sk_test_paymesh_dev"  # the sandbox accepts any sk_test_ key
SOURCES = ("sandbox_settlement", "stripe_reports")


@dataclass(frozen=True)
class ReconSettings(ServiceSettings):
    """From DATABASE_URL, NATS_URL, RECON_GRPC_ADDR, LOG_LEVEL, RECON_DB_POOL_SIZE,
    RECON_METRICS_ADDR (see mesh.settings.service_env), PAYMENT_GRPC_ADDR,
    RECON_PAYMENT_DATABASE_URL, RECON_PSP_API_BASE, RECON_PSP_API_KEY, RECON_SOURCE,
    RECON_SCRATCH_DIR, RECON_SCHEDULE_INTERVAL_S, RECON_WRITE_OFF_LIMIT, RECON_WRITE_OFF_LIMITS,
    LEDGER_GRPC_ADDR, RECON_CLEARING_DELAY_S and RECON_INTERNAL_RECHECK_S."""

    grpc_addr: str = DEFAULT_GRPC_ADDR
    payment_grpc_addr: str = DEFAULT_PAYMENT_GRPC_ADDR
    # Where the payment orders and refunds are read by COPY, read-only (a read replica in
    # production; ADR 0014). Empty: DATABASE_URL.
    payment_database_url: str = ""
    # The PSP whose report is compared (Stripe's API or the sandbox) and the default source.
    psp_api_base: str = DEFAULT_PSP_API_BASE
    psp_api_key: str = DEFAULT_PSP_API_KEY
    source: str = "sandbox_settlement"
    # Where a run spools both sides and DuckDB spills (about the size of the input files).
    scratch_dir: Path = Path("/tmp/paymesh-recon")
    # How often the scheduled run looks whether yesterday is reconciled (0: never; a run
    # per day and source, however often it looks).
    schedule_interval_s: float = 0.0
    # The largest difference a person may write off to the suspense account, in a
    # currency's major unit, unless `write_off_limits_by_currency` names the currency.
    write_off_limit: Decimal = Decimal("10.00")
    write_off_limits_by_currency: dict[str, Decimal] = field(
        default_factory=lambda: parse_write_off_limits(DEFAULT_WRITE_OFF_LIMITS)
    )
    # The ledger, which books the finance queue's write-offs and duplicate charges refunded,
    # and the PSP's fees and payouts from its report during a run.
    ledger_grpc_addr: str = DEFAULT_LEDGER_GRPC_ADDR
    # How long psp_receivable (the clearing account between the PSP and the platform) may
    # hold money before it must have been paid out: Stripe's standard two days until funds
    # are available, plus a day for the daily payout (ADR 0024).
    clearing_delay_s: float = 3 * 86_400.0
    # Wallet and ledger are read twice this many seconds apart; only a difference that holds
    # is a mismatch (the two follow the same events through two consumers).
    internal_recheck_s: float = 5.0

    @property
    def write_off_limits(self) -> WriteOffLimits:
        return WriteOffLimits(self.write_off_limit, self.write_off_limits_by_currency)

    @property
    def orders_database_url(self) -> str:
        return self.payment_database_url or self.database_url

    @classmethod
    def from_env(cls) -> ReconSettings:
        key = env_str("RECON_PSP_API_KEY", DEFAULT_PSP_API_KEY)
        refuse_dev_default("RECON_PSP_API_KEY", key, DEFAULT_PSP_API_KEY)
        return cls(
            payment_grpc_addr=env_str("PAYMENT_GRPC_ADDR", DEFAULT_PAYMENT_GRPC_ADDR),
            payment_database_url=env_str("RECON_PAYMENT_DATABASE_URL", ""),
            psp_api_base=env_str("RECON_PSP_API_BASE", DEFAULT_PSP_API_BASE),
            psp_api_key=key,
            source=env_str("RECON_SOURCE", "sandbox_settlement"),
            scratch_dir=Path(env_str("RECON_SCRATCH_DIR", "/tmp/paymesh-recon")),
            schedule_interval_s=env_float("RECON_SCHEDULE_INTERVAL_S", 0.0),
            write_off_limit=env_decimal("RECON_WRITE_OFF_LIMIT", "10.00"),
            write_off_limits_by_currency=parse_write_off_limits(
                os.environ.get("RECON_WRITE_OFF_LIMITS", DEFAULT_WRITE_OFF_LIMITS)
            ),
            ledger_grpc_addr=env_str("LEDGER_GRPC_ADDR", DEFAULT_LEDGER_GRPC_ADDR),
            clearing_delay_s=env_float("RECON_CLEARING_DELAY_S", 3 * 86_400.0),
            internal_recheck_s=env_float("RECON_INTERNAL_RECHECK_S", 5.0),
            **service_env("RECON", DEFAULT_GRPC_ADDR),
        )


def parse_write_off_limits(text: str) -> dict[str, Decimal]:
    """`JPY=1500,KRW=15000` as {currency: limit}; SettingsError for an unknown currency or a
    limit that is not a non-negative decimal."""
    limits: dict[str, Decimal] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        currency, sep, raw = part.partition("=")
        currency = currency.strip().upper()
        try:
            limit = Decimal(raw.strip())
        except InvalidOperation:
            limit = Decimal(-1)
        if not sep or currency not in CURRENCY_EXPONENTS or not limit.is_finite() or limit < 0:
            raise SettingsError(
                f"RECON_WRITE_OFF_LIMITS: {part!r} is not CURRENCY=LIMIT (e.g. JPY=1500)"
            )
        limits[currency] = limit
    return limits
