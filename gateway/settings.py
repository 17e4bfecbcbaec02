"""The gateway's settings, from the environment, with defaults for the embedded dev stack."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.rate_limits import RateError, parse_rate
from mesh.settings import (
    DEFAULT_DATABASE_URL,
    SettingsError,
    database_url,
    env_float,
    env_int,
    env_str,
    tls_from_env,
)
from mesh.tls import TlsFiles

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RATE_LIMIT = "100/second"
DEFAULT_AUTH_FAILURE_RATE_LIMIT = "20/minute"


def _rate(name: str, default: str) -> str:
    value = env_str(name, default)
    try:
        parse_rate(value)
    except RateError as err:
        raise SettingsError(f"{name}: {err}") from None
    return value


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = DEFAULT_DATABASE_URL
    payment_grpc_addr: str = "127.0.0.1:50051"
    wallet_grpc_addr: str = "127.0.0.1:50052"
    ledger_grpc_addr: str = "127.0.0.1:50053"
    notify_grpc_addr: str = "127.0.0.1:50055"
    payout_grpc_addr: str = "127.0.0.1:50056"
    recon_grpc_addr: str = "127.0.0.1:50057"
    upstream_timeout_s: float = 10.0
    api_key_cache_ttl_s: float = 30.0
    log_level: str = "INFO"
    max_body_bytes: int = MAX_BODY_BYTES
    # Requests per API key without a rate of its own (limits notation: "100/second").
    rate_limit: str = DEFAULT_RATE_LIMIT
    # Failed authentications per client address; past it, refused before any key lookup.
    auth_failure_rate_limit: str = DEFAULT_AUTH_FAILURE_RATE_LIMIT
    # The gateway's certificate and the mesh's CA for its calls to the services (None: plain
    # text, refused when PAYMESH_ENV=production).
    tls: TlsFiles | None = None

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
            notify_grpc_addr=env_str("NOTIFY_GRPC_ADDR", "127.0.0.1:50055"),
            payout_grpc_addr=env_str("PAYOUT_GRPC_ADDR", "127.0.0.1:50056"),
            recon_grpc_addr=env_str("RECON_GRPC_ADDR", "127.0.0.1:50057"),
            upstream_timeout_s=timeout,
            api_key_cache_ttl_s=ttl,
            log_level=env_str("LOG_LEVEL", "INFO"),
            rate_limit=_rate("GATEWAY_RATE_LIMIT", DEFAULT_RATE_LIMIT),
            auth_failure_rate_limit=_rate(
                "GATEWAY_AUTH_FAILURE_RATE_LIMIT", DEFAULT_AUTH_FAILURE_RATE_LIMIT
            ),
            tls=tls_from_env(),
        )
