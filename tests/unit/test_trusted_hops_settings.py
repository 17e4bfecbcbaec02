"""The settings and configuration behind the trusted hops, without servers: production refuses
plain-text gRPC, the TLS files come all three or none, and each service's NATS rights name its
own subjects only."""

from __future__ import annotations

import json

import pytest

from mesh.settings import SettingsError, tls_from_env
from mesh.tls import TlsFiles
from paymesh_cli.stack.nats_auth import NEVER, OPERATOR, SERVICE_RIGHTS, nats_config
from wallet_svc.settings import WalletSettings

TLS_VARS = ("MESH_TLS_CA_FILE", "MESH_TLS_CERT_FILE", "MESH_TLS_KEY_FILE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        *TLS_VARS,
        "PAYMESH_ENV",
        "GRPC_REFLECTION",
        "GRPC_ALLOWED_CALLERS",
        "NATS_USER",
        "NATS_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)


def test_production_refuses_to_start_without_mutual_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tls_from_env() is None  # development: plain text is allowed
    monkeypatch.setenv("PAYMESH_ENV", "production")
    with pytest.raises(SettingsError, match="PAYMESH_ENV=production needs mutual TLS"):
        WalletSettings.from_env()
    for name, value in zip(TLS_VARS, ("/s/ca.pem", "/s/tls.crt", "/s/tls.key"), strict=True):
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="PAYMESH_ENV=production needs NATS_USER"):
        WalletSettings.from_env()


def test_the_tls_files_come_all_three_or_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESH_TLS_CA_FILE", "/s/ca.pem")
    with pytest.raises(SettingsError, match="MESH_TLS_CERT_FILE, MESH_TLS_KEY_FILE not set"):
        tls_from_env()
    monkeypatch.setenv("MESH_TLS_CERT_FILE", "/s/tls.crt")
    monkeypatch.setenv("MESH_TLS_KEY_FILE", "/s/tls.key")
    monkeypatch.setenv("PAYMESH_ENV", "production")
    monkeypatch.setenv("NATS_USER", "wallet_svc")
    monkeypatch.setenv("NATS_PASSWORD", "pw")
    settings = WalletSettings.from_env()
    assert settings.tls == TlsFiles("/s/ca.pem", "/s/tls.crt", "/s/tls.key")
    assert (settings.grpc_reflection, settings.nats_user, settings.nats_password) == (
        False,
        "wallet_svc",
        "pw",
    )
    assert settings.grpc_allowed_callers == {"gateway"}
    monkeypatch.setenv("GRPC_REFLECTION", "1")
    monkeypatch.setenv("GRPC_ALLOWED_CALLERS", "gateway, recon_svc")
    settings = WalletSettings.from_env()
    assert settings.grpc_reflection
    assert settings.grpc_allowed_callers == {"gateway", "recon_svc"}


def test_each_service_publishes_its_own_subjects_only() -> None:
    config = json.loads(nats_config({u: f"pw-{u}" for u in (OPERATOR, *SERVICE_RIGHTS)}))
    users = {u["user"]: u for u in config["authorization"]["users"]}
    assert set(users) == {
        OPERATOR,
        "payment_svc",
        "wallet_svc",
        "ledger_svc",
        "notify_svc",
        "payout_svc",
        "recon_svc",
    }
    own = {
        "payment_svc": "payment.",
        "wallet_svc": "wallet.",
        "ledger_svc": "ledger.",
        "payout_svc": "payout.",
        "recon_svc": "recon.",
    }
    own["notify_svc"] = ""  # it publishes no events of its own
    for name, prefix in own.items():
        rights = users[name]["permissions"]
        events = [
            s for s in rights["publish"]["allow"] if not s.startswith(("$JS.", "dlq.", "ops."))
        ]
        if name == "payment_svc":  # it replays dead letters (OpsService) on their subjects
            assert events == ["payment.>", "wallet.>", "ledger.>", "payout.>", "recon.>"], name
            assert "$JS.API.STREAM.MSG.DELETE.DLQ" in rights["publish"]["allow"]
            assert "$JS.API.STREAM.MSG.DELETE.PAYMENT" in rights["publish"]["deny"]
            continue
        assert events == ([f"{prefix}>"] if prefix else []), name
        assert "ops.alert" in rights["publish"]["allow"]
        assert rights["publish"]["deny"] == NEVER
        assert rights["subscribe"] == {"allow": ["_INBOX.>"]}
    # notify_svc publishes no event: only its dead letters, its alerts and its consumer's
    # JetStream calls.
    notify = users["notify_svc"]["permissions"]["publish"]["allow"]
    assert [s for s in notify if not s.startswith("$JS.")] == [
        "ops.alert",
        "dlq.notify-events",
        "dlq.notify-payout-events",
        "dlq.notify-recon-events",
    ]
    assert "permissions" not in users[OPERATOR]


def test_published_dev_keys_of_payout_and_notify_are_refused_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from notify_svc.settings import NotifySettings
    from payout_svc.settings import PayoutSettings

    for name, value in zip(TLS_VARS, ("/s/ca.pem", "/s/tls.crt", "/s/tls.key"), strict=True):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NATS_USER", "svc")
    monkeypatch.setenv("NATS_PASSWORD", "pw")
    monkeypatch.delenv("PAYOUT_PROVIDER_API_KEY", raising=False)
    monkeypatch.delenv("PAYOUT_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("NOTIFY_SECRET_KEY", raising=False)
    PayoutSettings.from_env()  # development: the dev stack's defaults are fine
    NotifySettings.from_env()
    monkeypatch.setenv("PAYMESH_ENV", "production")
    with pytest.raises(SettingsError, match="PAYOUT_PROVIDER_API_KEY"):
        PayoutSettings.from_env()
    with pytest.raises(SettingsError, match="NOTIFY_SECRET_KEY"):
        NotifySettings.from_env()
    monkeypatch.setenv("PAYOUT_PROVIDER_API_KEY", "sk_live_a_real_one")
    with pytest.raises(SettingsError, match="PAYOUT_WEBHOOK_SECRET"):
        PayoutSettings.from_env()
    monkeypatch.setenv("PAYOUT_WEBHOOK_SECRET", "whsec_the_connect_endpoints")
    monkeypatch.setenv("NOTIFY_SECRET_KEY", "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=")
    assert PayoutSettings.from_env().provider_api_key == "sk_live_a_real_one"
    assert NotifySettings.from_env().secret_key != b"paymesh-dev-only-notify-secrets!"
