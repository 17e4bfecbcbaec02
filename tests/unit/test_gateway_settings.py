"""GatewaySettings.from_env."""

from __future__ import annotations

import pytest

from gateway.settings import GatewaySettings
from mesh.settings import SettingsError

pytestmark = pytest.mark.unit

VARS = (
    "GATEWAY_HOST",
    "GATEWAY_PORT",
    "DATABASE_URL",
    "PAYMENT_GRPC_ADDR",
    "WALLET_GRPC_ADDR",
    "LEDGER_GRPC_ADDR",
    "NOTIFY_GRPC_ADDR",
    "GATEWAY_UPSTREAM_TIMEOUT_S",
    "GATEWAY_API_KEY_CACHE_TTL_S",
    "LOG_LEVEL",
    "GATEWAY_RATE_LIMIT",
    "GATEWAY_AUTH_FAILURE_RATE_LIMIT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    settings = GatewaySettings.from_env()
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.payment_grpc_addr == "127.0.0.1:50051"
    assert settings.wallet_grpc_addr == "127.0.0.1:50052"
    assert settings.ledger_grpc_addr == "127.0.0.1:50053"
    assert settings.notify_grpc_addr == "127.0.0.1:50055"
    assert settings.upstream_timeout_s == 10.0
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.rate_limit == "100/second"
    assert settings.auth_failure_rate_limit == "20/minute"


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "9090")
    monkeypatch.setenv("PAYMENT_GRPC_ADDR", "10.0.0.1:1")
    monkeypatch.setenv("GATEWAY_UPSTREAM_TIMEOUT_S", "2.5")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("GATEWAY_RATE_LIMIT", "500 per minute")
    monkeypatch.setenv("GATEWAY_AUTH_FAILURE_RATE_LIMIT", "5/second")
    settings = GatewaySettings.from_env()
    assert (settings.rate_limit, settings.auth_failure_rate_limit) == ("500 per minute", "5/second")
    assert settings.port == 9090
    assert settings.payment_grpc_addr == "10.0.0.1:1"
    assert settings.upstream_timeout_s == 2.5
    assert settings.database_url == "postgresql://u@h/db"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GATEWAY_PORT", "http"),
        ("GATEWAY_UPSTREAM_TIMEOUT_S", "0"),
        ("GATEWAY_UPSTREAM_TIMEOUT_S", "x"),
        ("GATEWAY_RATE_LIMIT", "fast"),
        ("GATEWAY_RATE_LIMIT", "0/second"),
        ("GATEWAY_RATE_LIMIT", "10/second;100/minute"),
        ("GATEWAY_AUTH_FAILURE_RATE_LIMIT", "20"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError):
        GatewaySettings.from_env()
