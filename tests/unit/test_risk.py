"""The rule-based risk check and its settings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mesh.settings import SettingsError
from payment_svc.domain.risk import RiskOrder, RiskSubject, RuleBasedRiskCheck
from payment_svc.settings import PaymentSettings

pytestmark = pytest.mark.unit

CHECK = RuleBasedRiskCheck(Decimal("10000"), frozenset({"fraudster", "chargeback_king"}))


def subject(*amounts: tuple[str, str], buyer: str = "buyer_1") -> RiskSubject:
    return RiskSubject(
        "co_1",
        buyer,
        tuple(RiskOrder(f"po_{i}", Decimal(a), c) for i, (a, c) in enumerate(amounts)),
    )


async def test_an_ordinary_payment_is_approved() -> None:
    decision = await CHECK.assess(subject(("12.34", "USD"), ("99.99", "EUR")))
    assert decision.approved
    assert decision.rule == ""


async def test_a_blocked_buyer_is_refused() -> None:
    decision = await CHECK.assess(subject(("1.00", "USD"), buyer="fraudster"))
    assert not decision.approved
    assert decision.rule == "buyer.blocked"


def test_the_limit_itself_is_allowed() -> None:
    assert CHECK.evaluate(subject(("10000", "USD"))).approved
    assert CHECK.evaluate(subject(("10000.00", "USD"))).approved


@pytest.mark.parametrize(
    "amounts",
    [
        [("10000.01", "USD")],
        [("5.00", "USD"), ("10001", "EUR")],  # any one order over the limit
        [("20000", "JPY")],  # per order, in any currency
        [("10000.001", "BHD")],
    ],
)
def test_an_order_over_the_limit_is_refused(amounts: list[tuple[str, str]]) -> None:
    decision = CHECK.evaluate(subject(*amounts))
    assert not decision.approved
    assert decision.rule == "order.amount_limit"


def test_the_limit_is_per_order_not_per_checkout() -> None:
    assert CHECK.evaluate(subject(("6000", "USD"), ("6000", "USD"))).approved


def test_no_blocked_buyers_by_default() -> None:
    check = RuleBasedRiskCheck(Decimal("10000"))
    assert check.evaluate(subject(("1", "USD"), buyer="anyone")).approved


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RISK_MAX_ORDER_AMOUNT", "RISK_BLOCKED_BUYERS", "PLATFORM_FEE_RATE"):
        monkeypatch.delenv(name, raising=False)
    settings = PaymentSettings.from_env()
    assert settings.risk_max_order_amount == Decimal("10000")
    assert settings.risk_blocked_buyers == frozenset()
    assert settings.platform_fee_rate == Decimal("0.10")
    assert settings.grpc_addr == "127.0.0.1:50051"
    assert settings.executor_concurrency == 64


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISK_MAX_ORDER_AMOUNT", "500.50")
    monkeypatch.setenv("RISK_BLOCKED_BUYERS", " fraudster, ,mallory ")
    monkeypatch.setenv("PLATFORM_FEE_RATE", "0.025")
    monkeypatch.setenv("EXECUTOR_CONCURRENCY", "8")
    settings = PaymentSettings.from_env()
    assert settings.risk_max_order_amount == Decimal("500.50")
    assert settings.risk_blocked_buyers == frozenset({"fraudster", "mallory"})
    assert settings.platform_fee_rate == Decimal("0.025")
    assert settings.executor_concurrency == 8


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RISK_MAX_ORDER_AMOUNT", "lots"),
        ("RISK_MAX_ORDER_AMOUNT", "-1"),
        ("PLATFORM_FEE_RATE", "1.5"),
        ("EXECUTOR_CONCURRENCY", "0"),
    ],
)
def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError):
        PaymentSettings.from_env()
