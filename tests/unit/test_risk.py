"""The rule-based risk check: each rule alone, per-currency limits, velocity per buyer and per
token, and its settings."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from mesh.settings import SettingsError
from payment_svc.domain.risk import (
    Outcome,
    RecentActivity,
    RiskDecision,
    RiskOrder,
    RiskSubject,
    RuleBasedRiskCheck,
    Tally,
    VelocityLimits,
)
from payment_svc.domain.risk_limits import (
    DEFAULT_MAX_ORDER_AMOUNTS,
    DEFAULT_VELOCITY_MAX_AMOUNTS,
    AmountLimits,
)
from payment_svc.settings import PaymentSettings

pytestmark = pytest.mark.unit

D = Decimal
LIMITS = AmountLimits.parse("USD:10000,EUR:9000,JPY:1500000,BHD:3800")
CHECK = RuleBasedRiskCheck(LIMITS, frozenset({"fraudster", "chargeback_king"}))
CARD = "pm_1QxYz7Abc"  # a real-looking token: counted per token
VELOCITY = VelocityLimits(timedelta(hours=1), 3, AmountLimits.parse("USD:500,JPY:75000"))
FAST = RuleBasedRiskCheck(LIMITS, velocity=VELOCITY)


def subject(
    *amounts: tuple[str, str], buyer: str = "buyer_1", payment_method: str = CARD
) -> RiskSubject:
    return RiskSubject(
        "co_1",
        buyer,
        tuple(RiskOrder(f"po_{i}", D(a), c) for i, (a, c) in enumerate(amounts)),
        payment_method,
    )


def outcome_of(decision: RiskDecision, rule: str) -> Outcome:
    return next(r.outcome for r in decision.rules if r.rule == rule)


def figures_of(decision: RiskDecision, rule: str) -> dict[str, str]:
    return dict(next(r.figures for r in decision.rules if r.rule == rule))


# --- blocked buyers and amounts per order ----------------------------------------------


async def test_an_ordinary_payment_is_approved_and_every_rule_is_recorded() -> None:
    decision = await CHECK.assess(subject(("12.34", "USD"), ("99.99", "EUR")))

    assert decision.approved and decision.rule == ""
    assert [(r.rule, r.outcome) for r in decision.rules] == [
        ("buyer.blocked", Outcome.ALLOW),
        ("order.currency_not_accepted", Outcome.ALLOW),
        ("order.amount_limit", Outcome.ALLOW),
    ]  # velocity is off: no window
    assert figures_of(decision, "order.amount_limit") == {
        "EUR.largest": "99.99",
        "EUR.limit": "9000.00",
        "USD.largest": "12.34",
        "USD.limit": "10000.00",
    }


async def test_a_blocked_buyer_is_refused() -> None:
    decision = await CHECK.assess(subject(("1.00", "USD"), buyer="fraudster"))
    assert not decision.approved
    assert decision.rule == "buyer.blocked"


def test_the_limit_itself_is_allowed() -> None:
    assert CHECK.evaluate(subject(("10000", "USD"))).approved
    assert CHECK.evaluate(subject(("10000.00", "USD"))).approved
    assert CHECK.evaluate(subject(("1500000", "JPY"))).approved


@pytest.mark.parametrize(
    "amounts",
    [
        [("10000.01", "USD")],
        [("5.00", "USD"), ("9000.01", "EUR")],  # any one order over its currency's limit
        [("1500001", "JPY")],
        [("3800.001", "BHD")],
    ],
)
def test_an_order_over_its_currency_s_limit_is_refused(amounts: list[tuple[str, str]]) -> None:
    decision = CHECK.evaluate(subject(*amounts))
    assert not decision.approved
    assert decision.rule == "order.amount_limit"


def test_yen_are_not_dollars() -> None:
    """¥10,000 is about $65: allowed; $10,000.01 is not, though the figure is smaller."""
    assert CHECK.evaluate(subject(("20000", "JPY"))).approved
    assert not CHECK.evaluate(subject(("10000.01", "USD"))).approved


def test_the_refusal_names_the_order_but_never_the_threshold() -> None:
    decision = CHECK.evaluate(subject(("1.00", "USD"), ("10000.01", "USD")))

    assert "po_1" in decision.message
    assert "10000" not in decision.message
    assert figures_of(decision, "order.amount_limit")["USD.limit"] == "10000.00"  # the record


def test_the_limit_is_per_order_not_per_checkout() -> None:
    assert CHECK.evaluate(subject(("6000", "USD"), ("6000", "USD"))).approved


def test_a_currency_without_a_limit_is_refused() -> None:
    decision = CHECK.evaluate(subject(("1.00", "USD"), ("10", "CHF")))

    assert decision.rule == "order.currency_not_accepted"
    assert "CHF" in decision.message
    assert figures_of(decision, "order.currency_not_accepted")["without_limit"] == "CHF"


def test_a_catch_all_entry_limits_any_other_currency_in_its_own_units() -> None:
    check = RuleBasedRiskCheck(AmountLimits.parse("USD:10000,*:500"))
    assert check.evaluate(subject(("500", "CHF"))).approved
    assert check.evaluate(subject(("500.01", "CHF"))).rule == "order.amount_limit"
    assert check.evaluate(subject(("9000", "USD"))).approved


def test_a_bare_decimal_is_the_same_limit_in_every_currency() -> None:
    """What RISK_MAX_ORDER_AMOUNT=10000 meant before limits were per currency."""
    check = RuleBasedRiskCheck(D("10000"))
    assert check.evaluate(subject(("10000", "CHF"), ("10000", "JPY"))).approved
    assert check.evaluate(subject(("20000", "JPY"))).rule == "order.amount_limit"


def test_no_blocked_buyers_by_default() -> None:
    check = RuleBasedRiskCheck(LIMITS)
    assert check.evaluate(subject(("1", "USD"), buyer="anyone")).approved


# --- velocity ----------------------------------------------------------------------------


def recent(
    checkouts: int = 0, amounts: dict[str, str] | None = None, *, by_token: bool = False
) -> RecentActivity:
    tally = Tally(checkouts, {c: D(a) for c, a in (amounts or {}).items()})
    return RecentActivity(payment_method=tally) if by_token else RecentActivity(buyer=tally)


def test_velocity_by_buyer_allows_up_to_the_limit_of_checkouts() -> None:
    assert FAST.evaluate(subject(("1.00", "USD")), recent(2)).approved  # this one is the 3rd

    decision = FAST.evaluate(subject(("1.00", "USD")), recent(3))  # this one would be the 4th

    assert decision.rule == "velocity.buyer.checkouts"
    assert figures_of(decision, "velocity.buyer.checkouts") == {
        "window_s": "3600",
        "recent": "3",
        "with_this": "4",
        "limit": "3",
    }
    assert "3" not in decision.message


def test_velocity_by_buyer_counts_the_amount_per_currency() -> None:
    assert FAST.evaluate(subject(("100.00", "USD")), recent(1, {"USD": "400"})).approved

    decision = FAST.evaluate(subject(("100.01", "USD")), recent(1, {"USD": "400"}))

    assert decision.rule == "velocity.buyer.amount"
    assert figures_of(decision, "velocity.buyer.amount")["USD.with_this"] == "500.01"
    assert "500" not in decision.message and "USD" in decision.message


def test_velocity_amounts_are_per_currency_yen_against_yen() -> None:
    """¥70,000 recently and ¥5,000 more is within ¥75,000; dollars paid do not count."""
    activity = recent(1, {"JPY": "70000", "USD": "499"})
    assert FAST.evaluate(subject(("5000", "JPY")), activity).approved
    assert FAST.evaluate(subject(("5001", "JPY")), activity).rule == "velocity.buyer.amount"


def test_velocity_sums_every_order_of_the_checkout() -> None:
    decision = FAST.evaluate(subject(("300", "USD"), ("200.01", "USD")), recent(0))
    assert decision.rule == "velocity.buyer.amount"


def test_velocity_by_token_refuses_a_card_used_by_many_buyers() -> None:
    busy_card = recent(3, {"USD": "30"}, by_token=True)

    decision = FAST.evaluate(subject(("1.00", "USD"), buyer="new_buyer"), busy_card)

    assert decision.rule == "velocity.payment_method.checkouts"
    assert outcome_of(decision, "velocity.buyer.checkouts") is Outcome.ALLOW
    amount = FAST.evaluate(subject(("471", "USD")), recent(0, {"USD": "30"}, by_token=True))
    assert amount.rule == "velocity.payment_method.amount"


@pytest.mark.parametrize(
    ("payment_method", "why"),
    [("", "hosted flow"), ("pm_card_visa", "shared test token")],
)
def test_velocity_by_token_does_not_apply_without_a_token_of_the_buyer_s_own(
    payment_method: str, why: str
) -> None:
    s = subject(("1.00", "USD"), payment_method=payment_method)
    assert s.counted_payment_method == ""

    decision = FAST.evaluate(s, recent(99, by_token=True))

    assert decision.approved
    assert outcome_of(decision, "velocity.payment_method.checkouts") is Outcome.SKIP
    assert figures_of(decision, "velocity.payment_method.checkouts") == {"why": why}


def test_zero_max_checkouts_leaves_only_the_amount_rule() -> None:
    check = RuleBasedRiskCheck(LIMITS, velocity=VelocityLimits(timedelta(hours=1), 0))
    decision = check.evaluate(subject(("1.00", "USD")), recent(1000))
    assert decision.approved
    assert "velocity.buyer.checkouts" not in [r.rule for r in decision.rules]


def test_the_first_rule_that_denies_decides_and_every_rule_is_kept() -> None:
    decision = FAST.evaluate(subject(("20000", "USD"), buyer="x"), recent(10, {"USD": "1"}))

    assert decision.rule == "order.amount_limit"
    denied = [r.rule for r in decision.rules if r.outcome is Outcome.DENY]
    assert denied == [
        "order.amount_limit",
        "velocity.buyer.checkouts",
        "velocity.buyer.amount",
        "velocity.payment_method.amount",  # $20,000 on one card is over its window's amount too
    ]


def test_the_lookback_is_the_velocity_window() -> None:
    assert FAST.lookback == timedelta(hours=1)
    assert CHECK.lookback == timedelta(0)


# --- amount limit tables ---------------------------------------------------------------


def test_a_limit_table_is_parsed() -> None:
    limits = AmountLimits.parse(" USD:10000, JPY : 1500000 ,*:250.5")
    assert limits.limit_for("USD") == D("10000")
    assert limits.limit_for("JPY") == D("1500000")
    assert limits.limit_for("CHF") == D("250.5")
    assert AmountLimits.parse("USD:1").limit_for("CHF") is None


@pytest.mark.parametrize(
    "text",
    ["lots", "-1", "0", "USD", "USD:", "USD:abc", "usd:10", "USD:1,USD:2", "*:1,*:2", "USD:-5"],
)
def test_a_bad_limit_table_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        AmountLimits.parse(text)


def test_the_default_tables_hold_yen_and_dollars_apart() -> None:
    assert DEFAULT_MAX_ORDER_AMOUNTS.limit_for("USD") == D("10000")
    assert DEFAULT_MAX_ORDER_AMOUNTS.limit_for("JPY") == D("1500000")
    assert DEFAULT_MAX_ORDER_AMOUNTS.limit_for("AFN") is None  # not listed: refused
    assert DEFAULT_VELOCITY_MAX_AMOUNTS.limit_for("USD") == D("50000")


# --- settings ----------------------------------------------------------------------------

RISK_VARS = (
    "RISK_MAX_ORDER_AMOUNT",
    "RISK_BLOCKED_BUYERS",
    "RISK_VELOCITY_WINDOW_S",
    "RISK_VELOCITY_MAX_CHECKOUTS",
    "RISK_VELOCITY_MAX_AMOUNT",
    "PLATFORM_FEE_RATE",
)


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in RISK_VARS:
        monkeypatch.delenv(name, raising=False)
    settings = PaymentSettings.from_env()
    assert settings.risk_max_order_amount == DEFAULT_MAX_ORDER_AMOUNTS
    assert settings.risk_blocked_buyers == frozenset()
    assert settings.risk_velocity_window_s == 3600
    assert settings.risk_velocity_max_checkouts == 50
    assert settings.risk_velocity_max_amount == DEFAULT_VELOCITY_MAX_AMOUNTS
    assert settings.platform_fee_rate == Decimal("0.10")
    assert settings.grpc_addr == "127.0.0.1:50051"
    assert settings.executor_concurrency == 64


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISK_MAX_ORDER_AMOUNT", "USD:500.50,JPY:80000")
    monkeypatch.setenv("RISK_BLOCKED_BUYERS", " fraudster, ,mallory ")
    monkeypatch.setenv("RISK_VELOCITY_WINDOW_S", "600")
    monkeypatch.setenv("RISK_VELOCITY_MAX_CHECKOUTS", "5")
    monkeypatch.setenv("RISK_VELOCITY_MAX_AMOUNT", "2000")
    monkeypatch.setenv("PLATFORM_FEE_RATE", "0.025")
    monkeypatch.setenv("EXECUTOR_CONCURRENCY", "8")
    settings = PaymentSettings.from_env()
    assert settings.risk_max_order_amount.limit_for("USD") == Decimal("500.50")
    assert settings.risk_max_order_amount.limit_for("JPY") == Decimal("80000")
    assert settings.risk_max_order_amount.limit_for("EUR") is None
    assert settings.risk_blocked_buyers == frozenset({"fraudster", "mallory"})
    assert (settings.risk_velocity_window_s, settings.risk_velocity_max_checkouts) == (600, 5)
    assert settings.risk_velocity_max_amount.limit_for("EUR") == Decimal("2000")
    assert settings.platform_fee_rate == Decimal("0.025")
    assert settings.executor_concurrency == 8


def test_the_old_single_limit_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISK_MAX_ORDER_AMOUNT", "500.50")
    limits = PaymentSettings.from_env().risk_max_order_amount
    assert limits.limit_for("USD") == limits.limit_for("JPY") == Decimal("500.50")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RISK_MAX_ORDER_AMOUNT", "lots"),
        ("RISK_MAX_ORDER_AMOUNT", "-1"),
        ("RISK_MAX_ORDER_AMOUNT", "USD:10,EUR"),
        ("RISK_VELOCITY_MAX_AMOUNT", "USD:0"),
        ("RISK_VELOCITY_WINDOW_S", "-1"),
        ("RISK_VELOCITY_MAX_CHECKOUTS", "many"),
        ("PLATFORM_FEE_RATE", "1.5"),
        ("EXECUTOR_CONCURRENCY", "0"),
    ],
)
def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        PaymentSettings.from_env()
