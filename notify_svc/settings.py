"""The notify service's settings, read once from the environment at start-up."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from mesh.settings import (
    ServiceSettings,
    SettingsError,
    env_float,
    env_int,
    env_list,
    refuse_dev_default,
    service_env,
)
from notify_svc.domain.retry import DEFAULT_SCHEDULE_S

DEFAULT_GRPC_ADDR = "127.0.0.1:50055"
# The dev stack's key for the endpoints' signing secrets at rest; never a production one (k8s/
# sets NOTIFY_SECRET_KEY from a Secret).
DEV_SECRET_KEY = b"paymesh-dev-only-notify-secrets!"


def _schedule(name: str) -> tuple[float, ...]:
    raw = env_list(name)
    if not raw:
        return DEFAULT_SCHEDULE_S
    try:
        delays = tuple(float(part) for part in raw)
    except ValueError:
        raise SettingsError(f"{name} must be comma-separated seconds") from None
    if any(d < 0 for d in delays):
        raise SettingsError(f"{name} may not hold a negative delay")
    return delays


def _key(name: str, default: bytes) -> bytes:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        raise SettingsError(f"{name} is not base64") from None
    if len(key) != 32:
        raise SettingsError(f"{name} must be 32 bytes, base64 (e.g. `openssl rand -base64 32`)")
    return key


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes"}:
        return True
    if raw in {"0", "false", "no"}:
        return False
    raise SettingsError(f"{name}={raw!r} is not 1/0, true/false or yes/no")


@dataclass(frozen=True)
class NotifySettings(ServiceSettings):
    """From DATABASE_URL, NATS_URL, NOTIFY_GRPC_ADDR, LOG_LEVEL, NOTIFY_DB_POOL_SIZE,
    NOTIFY_METRICS_ADDR (mesh.settings.service_env) and the NOTIFY_* settings below."""

    grpc_addr: str = DEFAULT_GRPC_ADDR
    # Mesh events turned into webhook events at once.
    consumer_concurrency: int = 16
    # POSTs in flight per process, and of which to one endpoint.
    delivery_concurrency: int = 32
    delivery_per_endpoint: int = 4
    # Timeout of one POST (connect, read, write each).
    delivery_timeout_s: float = 5.0
    # Seconds between failed attempts (the n-th delay after the n-th failure in a row).
    retry_schedule_s: tuple[float, ...] = DEFAULT_SCHEDULE_S
    # Failed attempts in a row, or seconds of failing without a success, that disable an
    # endpoint (0: that rule is off).
    disable_after_failures: int = 0
    disable_after_s: float = 5 * 24 * 3600.0
    # How often the delivery loop looks for due deliveries when nothing wakes it.
    poll_interval_s: float = 1.0
    # Plain http endpoints on 127.0.0.1 / ::1 / localhost (dev and tests only).
    allow_http_loopback: bool = False
    # AES-256 key the endpoints' signing secrets are encrypted with at rest.
    secret_key: bytes = DEV_SECRET_KEY

    @classmethod
    def from_env(cls) -> NotifySettings:
        secret_key = _key("NOTIFY_SECRET_KEY", DEV_SECRET_KEY)
        refuse_dev_default("NOTIFY_SECRET_KEY", secret_key, DEV_SECRET_KEY)
        return cls(
            consumer_concurrency=env_int("NOTIFY_CONSUMER_CONCURRENCY", 16, minimum=1),
            delivery_concurrency=env_int("NOTIFY_DELIVERY_CONCURRENCY", 32, minimum=1),
            delivery_per_endpoint=env_int("NOTIFY_DELIVERY_PER_ENDPOINT", 4, minimum=1),
            delivery_timeout_s=env_float("NOTIFY_DELIVERY_TIMEOUT_S", 5.0),
            retry_schedule_s=_schedule("NOTIFY_RETRY_SCHEDULE_S"),
            disable_after_failures=env_int("NOTIFY_DISABLE_AFTER_FAILURES", 0, minimum=0),
            disable_after_s=env_float("NOTIFY_DISABLE_AFTER_S", 5 * 24 * 3600.0),
            poll_interval_s=env_float("NOTIFY_POLL_INTERVAL_S", 1.0),
            allow_http_loopback=_flag("NOTIFY_ALLOW_HTTP_LOOPBACK", False),
            secret_key=secret_key,
            **service_env("NOTIFY", DEFAULT_GRPC_ADDR),
        )
