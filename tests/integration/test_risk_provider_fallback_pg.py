"""The remote risk provider (the sandbox's /v1/risk/assessments, over HTTP) in front of the
local rules, against real PostgreSQL and NATS: its verdict is part of the stored decision;
when it is slow (timeout) a small checkout proceeds on the local rules, marked so in the
decision an ops caller reads; when it is down a larger one is put off with UNAVAILABLE and a
Retry-After, recorded as `defer`, counted, and accepted under the same key once it is back."""

from __future__ import annotations

from pathlib import Path

import grpc
import httpx
import pytest
from harness import running_sandbox
from prometheus_client import REGISTRY
from test_payment_svc import (
    API_KEY,
    Env,
    assert_invariants,
    create_request,
    error_info,
    payment_env,
    settled_checkout,
)

from mesh.errors import RETRY_AFTER_KEY
from payment_svc.domain.breaker import BreakerPolicy
from payment_svc.domain.risk_limits import AmountLimits
from payment_svc.domain.risk_provider import FallbackPolicy
from payment_svc.risk_provider_settings import RiskProviderSettings
from paymesh.payment.v1 import payment_pb2

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

OPS = (("x-paymesh-key-scopes", "ops"),)


def fallbacks(decision: str) -> float:
    value = REGISTRY.get_sample_value(
        "paymesh_risk_provider_fallbacks_total", {"decision": decision}
    )
    return value or 0.0


async def set_provider(risk_base: str, mode: str) -> dict[str, object]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        answer = await client.post(
            f"{risk_base}/_sandbox/risk_faults", json={"mode": mode, "delay_ms": 3000}
        )
        answer.raise_for_status()
        return dict(answer.json())


async def provider_rule(env: Env, checkout_id: str) -> tuple[int, dict[str, str]]:
    got = await env.stub.GetCheckout(
        payment_pb2.GetCheckoutRequest(checkout_id=checkout_id), metadata=OPS, timeout=10
    )
    rule = next(r for r in got.risk_decision.rules if r.rule == "risk_provider")
    return rule.outcome, dict(rule.figures)


async def test_the_provider_decides_and_its_outage_falls_back_by_amount(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with running_sandbox(tmp_path / "risk.jsonl") as risk_base:
        provider = RiskProviderSettings(
            url=f"{risk_base}/v1/risk/assessments",
            api_key=API_KEY,
            timeout_s=0.5,
            fallback=FallbackPolicy(AmountLimits.parse("USD:100"), retry_after_s=7),
            # Its breaker stays closed here (two failures in all): each phase calls it.
            breaker=BreakerPolicy(failure_threshold=5, open_s=1.0, recovery_s=0.0),
        )
        async with payment_env(database_url, nats_url, tmp_path, risk_provider=provider) as env:
            before = {d: fallbacks(d) for d in ("local_rules", "deferred")}

            # The provider answers: allowed, with its reference in the decision.
            large = create_request(amounts=("150.00",))
            await env.stub.CreatePayment(large, timeout=20)
            outcome, figures = await provider_rule(env, large.checkout_id)
            assert outcome == payment_pb2.RISK_OUTCOME_ALLOW
            assert figures["reference"].startswith("ra_")
            # ...or refuses: the caller is told the rule, nothing is stored.
            fraud = create_request(amounts=("5.00",))
            fraud.buyer_info.buyer_id = "buyer_fraud_1"
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await env.stub.CreatePayment(fraud, timeout=20)
            assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
            assert error_info(refused.value).metadata["rule"] == "risk_provider"

            # Slow (3 s against a 0.5 s timeout): a small checkout proceeds on the local rules.
            await set_provider(risk_base, "slow")
            small = create_request(amounts=("60.00", "40.00"))  # 100.00: at the limit
            await env.stub.CreatePayment(small, timeout=20)
            outcome, figures = await provider_rule(env, small.checkout_id)
            assert outcome == payment_pb2.RISK_OUTCOME_SKIP
            assert figures["fallback"] == "local_rules"
            assert "timed out" in figures["why"]

            # Down (503): a larger one is put off, and told when to come back.
            await set_provider(risk_base, "down")
            put_off = create_request(amounts=("100.01",))
            with pytest.raises(grpc.aio.AioRpcError) as unavailable:
                await env.stub.CreatePayment(put_off, timeout=20)
            assert unavailable.value.code() is grpc.StatusCode.UNAVAILABLE
            info = error_info(unavailable.value)
            assert info.reason == "RISK_PROVIDER_UNAVAILABLE"
            assert info.metadata[RETRY_AFTER_KEY] == "7"
            async with env.engine.connect() as conn:
                recorded = (
                    await conn.exec_driver_sql(
                        "SELECT outcome, rule FROM risk_decisions WHERE checkout_id = %(id)s",
                        {"id": put_off.checkout_id},
                    )
                ).all()
            assert [tuple(r) for r in recorded] == [("defer", "risk_provider")]
            assert fallbacks("local_rules") - before["local_rules"] == 1
            assert fallbacks("deferred") - before["deferred"] == 1

            # Back: the same request (same key) is decided afresh and accepted.
            await set_provider(risk_base, "ok")
            await env.stub.CreatePayment(put_off, timeout=20)
            outcome, _ = await provider_rule(env, put_off.checkout_id)
            assert outcome == payment_pb2.RISK_OUTCOME_ALLOW

            for checkout in (large, small, put_off):
                await settled_checkout(env, checkout.checkout_id)
            await assert_invariants(env)
