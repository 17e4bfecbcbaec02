"""The wallet service's settings, read once from the environment at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.settings import ServiceSettings, env_int, service_env

DEFAULT_GRPC_ADDR = "127.0.0.1:50052"


@dataclass(frozen=True)
class WalletSettings(ServiceSettings):
    """From DATABASE_URL, NATS_URL, WALLET_GRPC_ADDR, LOG_LEVEL, WALLET_DB_POOL_SIZE (see
    mesh.settings.service_env) and WALLET_CONSUMER_CONCURRENCY."""

    grpc_addr: str = DEFAULT_GRPC_ADDR
    # Messages handled at once by the `wallet-credit` consumer.
    consumer_concurrency: int = 32

    @classmethod
    def from_env(cls) -> WalletSettings:
        return cls(
            consumer_concurrency=env_int("WALLET_CONSUMER_CONCURRENCY", 32, minimum=1),
            **service_env("WALLET", DEFAULT_GRPC_ADDR),
        )
