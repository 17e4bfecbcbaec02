"""The ledger service's settings, read once from the environment at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.settings import database_url, env_int, env_str, nats_url

DEFAULT_GRPC_ADDR = "127.0.0.1:50053"


@dataclass(frozen=True)
class LedgerSettings:
    database_url: str
    nats_url: str
    grpc_addr: str = DEFAULT_GRPC_ADDR
    log_level: str = "INFO"
    # Messages handled at once by the `ledger-post` consumer.
    consumer_concurrency: int = 32
    # Connections kept by the database pool (as many again may overflow).
    db_pool_size: int = 32

    @classmethod
    def from_env(cls) -> LedgerSettings:
        return cls(
            database_url=database_url(),
            nats_url=nats_url(),
            grpc_addr=env_str("LEDGER_GRPC_ADDR", DEFAULT_GRPC_ADDR),
            log_level=env_str("LOG_LEVEL", "INFO"),
            consumer_concurrency=env_int("LEDGER_CONSUMER_CONCURRENCY", 32, minimum=1),
            db_pool_size=env_int("LEDGER_DB_POOL_SIZE", 32, minimum=1),
        )
