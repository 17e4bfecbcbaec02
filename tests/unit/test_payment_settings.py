"""PaymentSettings.from_env: the sandbox's published secrets only with the sandbox, no empty
secret, PII keys required in production."""

from __future__ import annotations

import base64

import pytest

from mesh.settings import SettingsError
from payment_svc.pii_keys import DEV_KEY_ID, parse_pii_keys
from payment_svc.psp_secrets import SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET
from payment_svc.settings import PaymentSettings

pytestmark = pytest.mark.unit

STRIPE = "https://api.stripe.com"
KEY_1 = base64.b64encode(bytes(range(32))).decode()
KEY_2 = base64.b64encode(bytes(range(1, 33))).decode()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PSP_API_BASE",
        "PSP_API_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "PAYMESH_ENV",
        "PII_KEYS",
        "PII_ACTIVE_KEY_ID",
        "STRIPE_WEBHOOK_MAX_FUTURE_S",
    ):
        monkeypatch.delenv(name, raising=False)


def refused(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        PaymentSettings.from_env()
    message = str(err.value)
    assert "\n" not in message  # one clear line
    return message


@pytest.mark.parametrize("base", ["http://127.0.0.1:12111", "http://localhost:9", "http://[::1]:1"])
def test_the_dev_stack_runs_on_the_sandbox_defaults(
    monkeypatch: pytest.MonkeyPatch, base: str
) -> None:
    monkeypatch.setenv("PSP_API_BASE", base)

    settings = PaymentSettings.from_env()

    assert (settings.psp_api_key, settings.stripe_webhook_secret) == (
        SANDBOX_API_KEY,
        SANDBOX_WEBHOOK_SECRET,
    )
    assert settings.pii_active_key_id == DEV_KEY_ID
    assert settings.webhook_max_future_s == 300


def test_a_real_psp_with_the_sandbox_webhook_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = refused(monkeypatch, PSP_API_BASE=STRIPE, PSP_API_KEY="sk_live_real")

    assert message.startswith("STRIPE_WEBHOOK_SECRET is the sandbox's published secret")
    assert STRIPE in message


def test_a_real_psp_with_the_sandbox_api_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refused(monkeypatch, PSP_API_BASE=STRIPE, STRIPE_WEBHOOK_SECRET="whsec_real")

    assert message.startswith("PSP_API_KEY is the sandbox's published key")


def test_production_refuses_the_sandbox_secrets_even_on_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = refused(monkeypatch, PAYMESH_ENV="production", PII_KEYS=f"k1:{KEY_1}")

    assert "PAYMESH_ENV=production" in message


@pytest.mark.parametrize("name", ["PSP_API_KEY", "STRIPE_WEBHOOK_SECRET"])
def test_an_empty_secret_is_refused(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    assert refused(monkeypatch, **{name: "  "}).startswith(f"{name} is set but empty")


def test_a_real_psp_with_its_own_secrets_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSP_API_BASE", STRIPE)
    monkeypatch.setenv("PSP_API_KEY", "rk_live_abc")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_real")

    settings = PaymentSettings.from_env()

    assert settings.stripe_webhook_secret == "whsec_real"
    assert "whsec_real" not in repr(settings) and "rk_live_abc" not in repr(settings)


def test_production_needs_pii_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refused(
        monkeypatch,
        PAYMESH_ENV="production",
        PSP_API_BASE=STRIPE,
        PSP_API_KEY="rk_live_abc",
        STRIPE_WEBHOOK_SECRET="whsec_real",
    )

    assert message.startswith("PII_KEYS is not set and PAYMESH_ENV=production")


def test_pii_keys_rotate_with_the_active_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PII_KEYS", f"k1:{KEY_1}, k2:{KEY_2}")
    monkeypatch.setenv("PII_ACTIVE_KEY_ID", "k1")

    settings = PaymentSettings.from_env()

    assert set(settings.pii_keys) == {"k1", "k2"}
    assert settings.pii_active_key_id == "k1"
    assert KEY_1 not in repr(settings)


@pytest.mark.parametrize(
    ("raw", "active", "why"),
    [
        ("k1", "", "PII_KEYS must be a comma-separated list"),
        ("k1:not base64!", "", "PII_KEYS: key k1 is not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "", "PII_KEYS: key k1 must be 32 bytes"),
        (f"k1:{KEY_1},k1:{KEY_2}", "", "PII_KEYS: key id k1 is listed twice"),
        (f"k1:{KEY_1}", "k9", "PII_ACTIVE_KEY_ID=k9 is not one of the ids"),
    ],
)
def test_bad_pii_keys_are_refused_without_showing_a_key(
    monkeypatch: pytest.MonkeyPatch, raw: str, active: str, why: str
) -> None:
    env = {"PII_KEYS": raw, **({"PII_ACTIVE_KEY_ID": active} if active else {})}
    message = refused(monkeypatch, **env)

    assert message.startswith(why)
    assert KEY_1 not in message


def test_parse_pii_keys_reads_every_key() -> None:
    assert parse_pii_keys(f"a:{KEY_1},b-2:{KEY_2}") == {
        "a": bytes(range(32)),
        "b-2": bytes(range(1, 33)),
    }


def test_the_service_says_why_it_refuses_to_start_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from payment_svc.bootstrap import main

    monkeypatch.setenv("PSP_API_BASE", STRIPE)
    monkeypatch.setenv("PSP_API_KEY", "rk_live_abc")

    assert main() == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        "payment_svc: refusing to start: STRIPE_WEBHOOK_SECRET is the sandbox's published secret"
    )
