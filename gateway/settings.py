"""The gateway's settings, from the environment, with defaults for the embedded dev stack."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.settings import (
    DEFAULT_DATABASE_URL,
    SettingsError,
    database_url,
    env_float,
    env_int,
    env_str,
)

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = DEFAULT_DATABASE_URL
    payment_grpc_addr: str = "127.0.0.1:50051"
    wallet_grpc_addr: str = "127.0.0.1:50052"
    ledger_grpc_addr: str = "127.0.0.1:50053"
    upstream_timeout_s: float = 10.0
    api_key_cache_ttl_s: float = 30.0
    log_level: str = "INFO"
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def from_env(cls) -> GatewaySettings:
        timeout = env_float("GATEWAY_UPSTREAM_TIMEOUT_S", 10.0)
        if timeout <= 0:
            raise SettingsError(f"GATEWAY_UPSTREAM_TIMEOUT_S={timeout} must be positive")
        ttl = env_float("GATEWAY_API_KEY_CACHE_TTL_S", 30.0)
        if ttl < 0:
            raise SettingsError(f"GATEWAY_API_KEY_CACHE_TTL_S={ttl} must not be negative")
        return cls(
            host=env_str("GATEWAY_HOST", "127.0.0.1"),
            port=env_int("GATEWAY_PORT", 8080, minimum=0),
            database_url=database_url(),
            payment_grpc_addr=env_str("PAYMENT_GRPC_ADDR", "127.0.0.1:50051"),
            wallet_grpc_addr=env_str("WALLET_GRPC_ADDR", "127.0.0.1:50052"),
            ledger_grpc_addr=env_str("LEDGER_GRPC_ADDR", "127.0.0.1:50053"),
            upstream_timeout_s=timeout,
            api_key_cache_ttl_s=ttl,
            log_level=env_str("LOG_LEVEL", "INFO"),
        )
