"""Reading settings from the environment. Each service keeps its settings in one
frozen dataclass with a `from_env()`; these helpers give clear errors for bad values."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TypedDict

from mesh.retry import RetryPolicy
from mesh.tls import TlsFiles

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/paymesh"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
# Where each service serves /metrics unless `<PREFIX>_METRICS_ADDR` says otherwise (an empty
# value turns it off; port 0 takes any free port). A service not listed takes any free port.
DEFAULT_METRICS_ADDRS = {
    "PAYMENT": "127.0.0.1:9101",
    "WALLET": "127.0.0.1:9102",
    "LEDGER": "127.0.0.1:9103",
    "NOTIFY": "127.0.0.1:9105",
    "PAYOUT": "127.0.0.1:9106",
    "RECON": "127.0.0.1:9107",
}
# PAYMESH_ENV=production: a process refuses to start without mutual TLS.
PRODUCTION = "production"


class SettingsError(ValueError):
    """A setting in the environment has a value the service cannot use."""


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def env_float(name: str, default: float) -> float:
    """For durations and timeouts only; money never goes through a float."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None


def env_decimal(name: str, default: str) -> Decimal:
    raw = os.environ.get(name, "").strip() or default
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise SettingsError(f"{name}={raw!r} is not a decimal number") from None


def env_list(name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def env_positive(name: str, default: float, *, minimum: float = 0.0) -> float:
    """A positive duration, at least `minimum` when one is given."""
    value = env_float(name, default)
    if value <= 0 or value < minimum:
        raise SettingsError(f"{name}={value} must be positive and at least {minimum:g}")
    return value


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def is_production() -> bool:
    return env_str("PAYMESH_ENV", "development").lower() == PRODUCTION


def refuse_dev_default(name: str, value: object, dev_default: object) -> None:
    """A secret whose default is published in this repository (a dev-stack key) may not run in
    production: SettingsError naming the variable to set."""
    if is_production() and value == dev_default:
        raise SettingsError(
            f"{name} is the dev stack's published default but PAYMESH_ENV=production: set it"
            " (from a Secret)"
        )


def tls_from_env() -> TlsFiles | None:
    """MESH_TLS_CA_FILE, MESH_TLS_CERT_FILE, MESH_TLS_KEY_FILE: all three or none. None (plain
    text, a dev/test convenience) is refused when PAYMESH_ENV=production."""
    names = ("MESH_TLS_CA_FILE", "MESH_TLS_CERT_FILE", "MESH_TLS_KEY_FILE")
    values = [env_str(name, "") for name in names]
    if any(values) and not all(values):
        missing = [n for n, v in zip(names, values, strict=True) if not v]
        raise SettingsError(f"mutual TLS needs all three files; {', '.join(missing)} not set")
    if not any(values) and is_production():
        raise SettingsError(
            "PAYMESH_ENV=production needs mutual TLS: set MESH_TLS_CA_FILE, MESH_TLS_CERT_FILE "
            "and MESH_TLS_KEY_FILE (plain-text gRPC would let anything that reaches the port "
            "call the services as anyone)"
        )
    return TlsFiles(*values) if all(values) else None


def database_url() -> str:
    return env_str("DATABASE_URL", DEFAULT_DATABASE_URL)


def nats_url() -> str:
    return env_str("NATS_URL", DEFAULT_NATS_URL)


# JetStream's duplicate window and the streams' max age (mesh.jetstream, which tests they agree).
DUPLICATE_WINDOW_S = 600.0
STREAM_MAX_AGE_S = 14 * 24 * 3600.0


@dataclass(frozen=True)
class RetentionSettings:
    """How long rows that only guard against duplicates (or serve an audit) are kept, and how
    they are purged: every `interval_s`, `batch` rows per statement. See
    docs/adr/0010-failures-dead-letters-retention.md for why these periods."""

    # A published outbox row: past the duplicate window, a second publish would not be dropped
    # by the stream anyway (the inboxes drop it); a day keeps it for a look.
    outbox_s: float = 86_400.0
    # An inbox row must outlive any redelivery of its event: a message stays in its stream for
    # STREAM_MAX_AGE_S (a consumer recreated from the start, a dead letter replayed, an outbox
    # row published again), so it is kept twice that.
    inbox_s: float = 2 * STREAM_MAX_AGE_S
    interval_s: float = 600.0
    batch: int = 1000


@dataclass(frozen=True)
class AlertThresholds:
    """When the checks every service runs (mesh.alerts) raise an alert: the oldest unpublished
    outbox event older than `outbox_age_s`, a consumer more than `consumer_lag` messages
    behind. Dead letters waiting raise one for as long as any wait."""

    outbox_age_s: float = 120.0
    consumer_lag: int = 1000


def alert_thresholds() -> AlertThresholds:
    """ALERT_OUTBOX_AGE_S and ALERT_CONSUMER_LAG, the same for every service."""
    default = AlertThresholds()
    return AlertThresholds(
        outbox_age_s=env_positive("ALERT_OUTBOX_AGE_S", default.outbox_age_s),
        consumer_lag=env_int("ALERT_CONSUMER_LAG", default.consumer_lag, minimum=1),
    )


@dataclass(frozen=True)
class ServiceSettings:
    """What every service reads alike. A service's settings are one frozen dataclass that
    extends this one (giving `grpc_addr` its default) with a `from_env()` built on
    `service_env()`."""

    database_url: str
    nats_url: str
    grpc_addr: str
    log_level: str = "INFO"
    # Connections kept by the database pool (a quarter more may overflow under load).
    db_pool_size: int = 32
    # "host:port" of the Prometheus listener (mesh.metrics); "" serves no metrics (the default
    # for services built in-process, e.g. by tests; from_env gives each service its port).
    metrics_addr: str = ""
    # Copies of each JetStream stream a NATS cluster keeps (1 for a single server).
    nats_stream_replicas: int = 1
    # How the service's consumers retry (mesh.retry.RetryPolicy, mesh.jetstream).
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # How long the outbox and inbox keep what they no longer need (mesh.retention).
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    # Mutual TLS of the gRPC server (None: plain text, refused in production).
    tls: TlsFiles | None = None
    grpc_reflection: bool = False
    # The identities (certificate names) that may call the service's RPCs under mutual TLS.
    grpc_allowed_callers: frozenset[str] = frozenset({"gateway"})
    # "host:port" of a plain-text listener serving gRPC health only ("": none).
    grpc_health_addr: str = ""
    # This service's NATS user (empty: connect without credentials).
    nats_user: str = ""
    nats_password: str = ""
    # When the mesh's own checks raise an alert (mesh.alerts).
    alerts: AlertThresholds = field(default_factory=AlertThresholds)
    # Messages a consumer applies in one transaction (mesh.consuming, mesh.jetstream); 1 turns
    # batching off.
    consumer_batch_size: int = 100


def retry_policy(prefix: str) -> RetryPolicy:
    """`<prefix>_RETRY_BASE_S`, `<prefix>_RETRY_CAP_S`, `<prefix>_RETRY_MAX_ATTEMPTS` and
    `<prefix>_RETRY_JITTER`, with mesh.retry.RetryPolicy's defaults."""
    default = RetryPolicy()
    base = env_positive(f"{prefix}_RETRY_BASE_S", default.base_s)
    cap = env_positive(f"{prefix}_RETRY_CAP_S", default.cap_s, minimum=base)
    jitter = env_float(f"{prefix}_RETRY_JITTER", default.jitter)
    if not 0 <= jitter <= 1:
        raise SettingsError(f"{prefix}_RETRY_JITTER={jitter} must be between 0 and 1")
    return RetryPolicy(
        base_s=base,
        cap_s=cap,
        max_attempts=env_int(f"{prefix}_RETRY_MAX_ATTEMPTS", default.max_attempts, minimum=1),
        jitter=jitter,
    )


def retention_settings() -> RetentionSettings:
    """OUTBOX_RETENTION_S, INBOX_RETENTION_S, RETENTION_INTERVAL_S and RETENTION_BATCH, the
    same for every service."""
    default = RetentionSettings()
    return RetentionSettings(
        outbox_s=env_positive("OUTBOX_RETENTION_S", default.outbox_s, minimum=DUPLICATE_WINDOW_S),
        inbox_s=env_positive("INBOX_RETENTION_S", default.inbox_s, minimum=STREAM_MAX_AGE_S),
        interval_s=env_positive("RETENTION_INTERVAL_S", default.interval_s),
        batch=env_int("RETENTION_BATCH", default.batch, minimum=1),
    )


class ServiceEnv(TypedDict):
    database_url: str
    nats_url: str
    grpc_addr: str
    log_level: str
    db_pool_size: int
    metrics_addr: str
    nats_stream_replicas: int
    retry: RetryPolicy
    retention: RetentionSettings
    tls: TlsFiles | None
    grpc_reflection: bool
    grpc_allowed_callers: frozenset[str]
    grpc_health_addr: str
    nats_user: str
    nats_password: str
    alerts: AlertThresholds
    consumer_batch_size: int


def service_env(prefix: str, default_grpc_addr: str) -> ServiceEnv:
    """The `ServiceSettings` fields from the environment: DATABASE_URL, NATS_URL,
    `<prefix>_GRPC_ADDR`, LOG_LEVEL, `<prefix>_DB_POOL_SIZE`, `<prefix>_METRICS_ADDR`,
    NATS_STREAM_REPLICAS, the retry policy (`<prefix>_RETRY_*`, see `retry_policy`), the
    retention (see `retention_settings`), MESH_TLS_*, GRPC_REFLECTION, GRPC_ALLOWED_CALLERS,
    MESH_HEALTH_GRPC_ADDR, NATS_USER, NATS_PASSWORD and `<prefix>_CONSUMER_BATCH_SIZE`."""
    metrics_addr = os.environ.get(f"{prefix}_METRICS_ADDR")
    return ServiceEnv(
        database_url=database_url(),
        nats_url=nats_url(),
        grpc_addr=env_str(f"{prefix}_GRPC_ADDR", default_grpc_addr),
        log_level=env_str("LOG_LEVEL", "INFO"),
        db_pool_size=env_int(f"{prefix}_DB_POOL_SIZE", 32, minimum=1),
        metrics_addr=(
            DEFAULT_METRICS_ADDRS.get(prefix, "127.0.0.1:0")
            if metrics_addr is None
            else metrics_addr.strip()
        ),
        nats_stream_replicas=env_int("NATS_STREAM_REPLICAS", 1, minimum=1),
        retry=retry_policy(prefix),
        retention=retention_settings(),
        tls=tls_from_env(),
        grpc_reflection=env_flag("GRPC_REFLECTION"),
        grpc_allowed_callers=frozenset(env_list("GRPC_ALLOWED_CALLERS", ("gateway",))),
        grpc_health_addr=env_str("MESH_HEALTH_GRPC_ADDR", ""),
        nats_user=nats_user(),
        nats_password=os.environ.get("NATS_PASSWORD", ""),
        alerts=alert_thresholds(),
        consumer_batch_size=env_int(f"{prefix}_CONSUMER_BATCH_SIZE", 100, minimum=1),
    )


def nats_user() -> str:
    """NATS_USER: required in production, where NATS admits no anonymous client."""
    user = env_str("NATS_USER", "")
    if not user and is_production():
        raise SettingsError(
            "PAYMESH_ENV=production needs NATS_USER and NATS_PASSWORD: this service's NATS "
            "user, whose permissions let it publish its own events only"
        )
    return user
