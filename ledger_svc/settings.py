"""The ledger service's settings, read once from the environment at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.settings import ServiceSettings, env_int, service_env

DEFAULT_GRPC_ADDR = "127.0.0.1:50053"


@dataclass(frozen=True)
class LedgerSettings(ServiceSettings):
    """From DATABASE_URL, NATS_URL, LEDGER_GRPC_ADDR, LOG_LEVEL, LEDGER_DB_POOL_SIZE (see
    mesh.settings.service_env) and LEDGER_CONSUMER_CONCURRENCY."""

    grpc_addr: str = DEFAULT_GRPC_ADDR
    # Messages handled at once by the `ledger-post` consumer.
    consumer_concurrency: int = 32

    @classmethod
    def from_env(cls) -> LedgerSettings:
        return cls(
            consumer_concurrency=env_int("LEDGER_CONSUMER_CONCURRENCY", 32, minimum=1),
            **service_env("LEDGER", DEFAULT_GRPC_ADDR),
        )
