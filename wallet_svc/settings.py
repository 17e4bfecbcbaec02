"""The wallet service's settings, read once from the environment at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.settings import ServiceSettings, env_float, env_int, service_env

DEFAULT_GRPC_ADDR = "127.0.0.1:50052"


@dataclass(frozen=True)
class WalletSettings(ServiceSettings):
    """From DATABASE_URL, NATS_URL, WALLET_GRPC_ADDR, LOG_LEVEL, WALLET_DB_POOL_SIZE (see
    mesh.settings.service_env), WALLET_CONSUMER_CONCURRENCY, WALLET_HOLD_PERIOD_S and
    WALLET_RELEASE_INTERVAL_S."""

    grpc_addr: str = DEFAULT_GRPC_ADDR
    # Messages handled at once by the `wallet-credit` consumer.
    consumer_concurrency: int = 32
    # How long a credit stays pending before it is released without a release call.
    hold_period_s: float = 7 * 24 * 3600.0
    # How often the auto-release loop looks for credits past their hold period.
    release_interval_s: float = 60.0

    @classmethod
    def from_env(cls) -> WalletSettings:
        return cls(
            consumer_concurrency=env_int("WALLET_CONSUMER_CONCURRENCY", 32, minimum=1),
            hold_period_s=env_float("WALLET_HOLD_PERIOD_S", 7 * 24 * 3600.0),
            release_interval_s=env_float("WALLET_RELEASE_INTERVAL_S", 60.0),
            **service_env("WALLET", DEFAULT_GRPC_ADDR),
        )
