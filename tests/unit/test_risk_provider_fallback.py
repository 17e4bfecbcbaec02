"""The remote risk provider beside the local rules, on the in-memory store: its verdict joins
the decision; while it is away, checkouts at or under the fallback limit proceed on the local
rules (marked in their decision), larger ones are put off with UNAVAILABLE and Retry-After,
and every fallback decision is recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from mesh.errors import RETRY_AFTER_KEY, Code, ServiceError
from payment_svc.domain.checkout import Checkout
from payment_svc.domain.commands import CreatePayment, NewOrder
from payment_svc.domain.risk import Outcome, RuleBasedRiskCheck
from payment_svc.domain.risk_limits import AmountLimits
from payment_svc.domain.risk_provider import FallbackPolicy
from payment_svc.service_layer.create_payment import create_payment
from payment_svc.service_layer.fake_risk_provider import FakeRiskProvider
from payment_svc.service_layer.fake_uow import FakeStore
from payment_svc.service_layer.queries import get_risk_decision
from payment_svc.service_layer.remote_risk import (
    DEFERRED,
    LOCAL_RULES,
    ProviderBackedRiskCheck,
)

pytestmark = pytest.mark.unit

LOCAL = RuleBasedRiskCheck(
    AmountLimits.parse("USD:10000,EUR:10000,JPY:1500000"), frozenset({"blocked"})
)
FALLBACK = FallbackPolicy(AmountLimits.parse("USD:100,JPY:15000"), retry_after_s=30)


def clock() -> datetime:
    return datetime(2025, 1, 1, tzinfo=UTC)


def render(checkout: Checkout) -> bytes:
    return json.dumps({"checkout_id": checkout.checkout_id}).encode()


def command(n: int, amount: str, currency: str = "USD", buyer_id: str = "buyer_1") -> CreatePayment:
    return CreatePayment(
        request_id=f"00000000-0000-4000-8000-{n:012d}",
        request_hash=f"{n}|{amount}|{currency}|{buyer_id}",
        checkout_id=f"co_{n}",
        buyer_id=buyer_id,
        payment_method="pm_1QxYz7Abc",
        orders=(
            NewOrder(f"po_{n}_a", "seller_1", Decimal(amount) / 2, currency),
            NewOrder(f"po_{n}_b", "seller_2", Decimal(amount) / 2, currency),
        ),
    )


class Setup:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.provider = FakeRiskProvider(denied_buyers=frozenset({"fraudster"}))
        self.counted: list[str] = []
        self.risk = ProviderBackedRiskCheck(
            LOCAL, self.provider, FALLBACK, self.store.uow, clock, self.counted.append
        )

    async def create(self, cmd: CreatePayment) -> None:
        await create_payment(
            cmd,
            uow=self.store.uow,
            risk=self.risk,
            fee_rate=Decimal("0.1"),
            render=render,
            clock=clock,
        )

    async def decision_rule(self, checkout_id: str) -> tuple[Outcome, dict[str, str]]:
        record = await get_risk_decision(checkout_id, uow=self.store.uow)
        assert record is not None
        rule = next(r for r in record.decision.rules if r.rule == "risk_provider")
        return rule.outcome, dict(rule.figures)


@pytest.fixture
def setup() -> Setup:
    return Setup()


async def test_the_providers_verdict_is_part_of_the_decision(setup):
    await setup.create(command(1, "500.00"))
    assert await setup.decision_rule("co_1") == (
        Outcome.ALLOW,
        {"reference": "ra_1", "score": "5"},
    )
    with pytest.raises(ServiceError) as refused:
        await setup.create(command(2, "20.00", buyer_id="fraudster"))
    assert refused.value.reason == "RISK_REJECTED"
    assert refused.value.metadata["rule"] == "risk_provider"
    assert "co_2" not in setup.store.state.checkouts
    assert setup.counted == []


async def test_a_small_checkout_proceeds_on_the_local_rules_while_the_provider_is_down(setup):
    setup.provider.down = True
    await setup.create(command(1, "100.00"))  # the limit itself proceeds
    assert "co_1" in setup.store.state.checkouts
    outcome, figures = await setup.decision_rule("co_1")
    assert outcome is Outcome.SKIP
    assert figures["fallback"] == "local_rules"
    assert figures["why"] == "the risk provider timed out"
    assert (figures["USD.total"], figures["USD.fallback_limit"]) == ("100.00", "100.00")
    assert setup.counted == [LOCAL_RULES]


async def test_a_larger_checkout_is_put_off_with_retry_after_and_recorded(setup):
    setup.provider.down = True
    with pytest.raises(ServiceError) as put_off:
        await setup.create(command(1, "100.02"))
    assert put_off.value.code is Code.UNAVAILABLE
    assert put_off.value.reason == "RISK_PROVIDER_UNAVAILABLE"
    assert put_off.value.metadata[RETRY_AFTER_KEY] == "30"
    assert "co_1" not in setup.store.state.checkouts
    [deferral] = setup.store.state.risk_decisions
    assert (deferral.checkout_id, deferral.decision.outcome) == ("co_1", Outcome.DEFER)
    assert setup.counted == [DEFERRED]
    # The key was released: once the provider is back, the same request goes through.
    setup.provider.down = False
    await setup.create(command(1, "100.02"))
    assert await setup.decision_rule("co_1") == (Outcome.ALLOW, {"reference": "ra_2", "score": "5"})


async def test_the_fallback_limit_is_per_currency_and_an_unlisted_one_never_falls_back(setup):
    setup.provider.down = True
    await setup.create(command(1, "15000", "JPY"))
    with pytest.raises(ServiceError):
        await setup.create(command(2, "15001", "JPY"))
    with pytest.raises(ServiceError):  # EUR has an order limit here but no fallback limit
        await setup.create(command(3, "10.00", "EUR"))
    assert setup.counted == [LOCAL_RULES, DEFERRED, DEFERRED]


async def test_a_checkout_the_local_rules_refuse_is_not_sent_to_the_provider(setup):
    setup.provider.down = True
    with pytest.raises(ServiceError) as refused:
        await setup.create(command(1, "5000.00", buyer_id="blocked"))
    assert refused.value.metadata["rule"] == "buyer.blocked"
    assert setup.provider.asked == []
    assert setup.counted == []


def test_the_provider_is_off_unless_its_url_is_set_and_the_fallback_limits_parse(monkeypatch):
    from mesh.settings import SettingsError
    from payment_svc.risk_provider_settings import risk_provider_from_env

    for name in ("RISK_PROVIDER_URL", "RISK_FALLBACK_MAX_AMOUNT", "RISK_FALLBACK_RETRY_AFTER_S"):
        monkeypatch.delenv(name, raising=False)
    off = risk_provider_from_env()
    assert not off.enabled
    assert str(off.fallback.max_amounts.limit_for("USD")) == "100"
    assert str(off.fallback.max_amounts.limit_for("JPY")) == "15000"
    monkeypatch.setenv("RISK_PROVIDER_URL", "http://127.0.0.1:12111/v1/risk/assessments")
    monkeypatch.setenv("RISK_FALLBACK_MAX_AMOUNT", "USD:50,EUR:45")
    on = risk_provider_from_env()
    assert on.enabled
    assert on.fallback.max_amounts.limit_for("EUR") == Decimal("45")
    assert on.fallback.max_amounts.limit_for("JPY") is None
    monkeypatch.setenv("RISK_FALLBACK_MAX_AMOUNT", "USD:-1")
    with pytest.raises(SettingsError, match="RISK_FALLBACK_MAX_AMOUNT"):
        risk_provider_from_env()
