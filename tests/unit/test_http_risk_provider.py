"""The HTTP adapter of the remote risk provider, on httpx's mock transport: what it sends, how
it reads a verdict, what counts as the provider being away, and its breaker."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from payment_svc.adapters.http_risk_provider import HttpRiskProvider
from payment_svc.domain.breaker import BreakerPolicy, CircuitBreaker
from payment_svc.domain.risk import Outcome, RiskOrder, RiskSubject
from payment_svc.domain.risk_provider import RiskProviderUnavailable

pytestmark = pytest.mark.unit

SUBJECT = RiskSubject(
    "co_1", "buyer_1", (RiskOrder("po_1", Decimal("12.50"), "USD"),), "pm_card_visa"
)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def provider(handler, clock: Clock | None = None) -> HttpRiskProvider:  # type: ignore[no-untyped-def]
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=2, open_s=5.0), clock or Clock())
    return HttpRiskProvider(
        "http://risk.test/v1/risk/assessments",
        "sk_test_x",
        0.5,
        breaker,
        transport=httpx.MockTransport(handler),
    )


async def test_it_sends_the_checkout_and_reads_the_verdict() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "ra_1", "outcome": "deny", "score": 95})

    verdict = await provider(handler).assess(SUBJECT)

    assert (verdict.outcome, verdict.reference, verdict.score) == (Outcome.DENY, "ra_1", "95")
    assert seen[0].headers["authorization"] == "Bearer sk_test_x"
    assert json.loads(seen[0].content) == {
        "checkout_id": "co_1",
        "buyer_id": "buyer_1",
        "payment_method": "pm_card_visa",
        "orders": [{"payment_order_id": "po_1", "amount": "12.50", "currency": "USD"}],
    }


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(503, json={}),
        httpx.Response(429, json={}),
        httpx.Response(400, json={}),
        httpx.Response(200, json={"outcome": "maybe"}),
        httpx.Response(200, text="<html>"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
    ],
)
async def test_anything_but_a_verdict_is_the_provider_being_away(answer) -> None:  # type: ignore[no-untyped-def]
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(RiskProviderUnavailable):
        await provider(handler).assess(SUBJECT)


async def test_its_breaker_stops_calling_a_provider_that_keeps_failing() -> None:
    calls = 0
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503)

    risk = provider(handler, clock)
    for _ in range(4):
        with pytest.raises(RiskProviderUnavailable):
            await risk.assess(SUBJECT)
    assert calls == 2  # then open: no call, an immediate fallback
    clock.now = 6.0  # a probe once open_s has passed
    with pytest.raises(RiskProviderUnavailable):
        await risk.assess(SUBJECT)
    assert calls == 3
