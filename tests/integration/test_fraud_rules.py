"""The fraud rules against real PostgreSQL, over gRPC and through the gateway: velocity holds
under concurrency (the create transaction counts under a lock per buyer and per token), and the
stored decision is on GetCheckout for callers with the `ops` scope only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import httpx
import pytest
from harness import new_request_id, running_sandbox, started_service
from test_payment_svc import (
    Env,
    assert_invariants,
    create_request,
    error_info,
    payment_env,
    settled_checkout,
)

import mesh.migrations
from gateway.api_keys import issue_api_key
from gateway.app import create_app
from gateway.routes import FRONTED_SERVICES
from gateway.settings import GatewaySettings
from payment_svc.bootstrap import start as start_payment
from payment_svc.settings import PaymentSettings
from paymesh.payment.v1 import payment_pb2

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

SCOPES = "x-paymesh-key-scopes"  # what the gateway forwards: the caller's API-key scopes


@pytest.fixture
async def env(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    async with payment_env(database_url, nats_url, tmp_path) as e:
        yield e


async def create_at_once(
    env: Env, requests: list[payment_pb2.CreatePaymentRequest]
) -> tuple[list[str], list[str]]:
    """Send every request at once; the checkout ids accepted, and the rules of the refusals."""
    answers = await asyncio.gather(
        *(env.stub.CreatePayment(r, timeout=30) for r in requests), return_exceptions=True
    )
    accepted, refused = [], []
    for request, answer in zip(requests, answers, strict=True):
        if isinstance(answer, grpc.aio.AioRpcError):
            assert answer.code() is grpc.StatusCode.FAILED_PRECONDITION, answer
            assert error_info(answer).reason == "RISK_REJECTED"
            refused.append(error_info(answer).metadata["rule"])
        elif isinstance(answer, BaseException):
            raise answer
        else:
            accepted.append(request.checkout_id)
    return accepted, refused


async def decisions(env: Env) -> list[tuple[str, str, str]]:
    async with env.engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT checkout_id, outcome, rule FROM risk_decisions ORDER BY id"
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_ten_checkouts_at_once_for_one_buyer_with_a_limit_of_three_accept_three(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with payment_env(database_url, nats_url, tmp_path, risk_velocity_max_checkouts=3) as env:
        requests = [create_request(amounts=("5.00",)) for _ in range(10)]  # all buyer_1

        accepted, refused = await create_at_once(env, requests)

        assert len(accepted) == 3
        assert refused == ["velocity.buyer.checkouts"] * 7
        stored = await decisions(env)
        assert sorted(c for c, outcome, _ in stored if outcome == "allow") == sorted(accepted)
        assert [rule for _, outcome, rule in stored if outcome == "deny"] == refused
        for checkout_id in accepted:
            await settled_checkout(env, checkout_id)
        await assert_invariants(env)


async def test_ten_buyers_at_once_on_one_card_with_a_limit_of_three_accept_three(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with payment_env(database_url, nats_url, tmp_path, risk_velocity_max_checkouts=3) as env:
        requests = [create_request(amounts=("5.00",)) for _ in range(10)]
        for i, request in enumerate(requests):
            request.buyer_info.buyer_id = f"buyer_{i}"
            request.payment_method = "pm_1StolenCardOfOneBuyer"

        accepted, refused = await create_at_once(env, requests)

        assert len(accepted) == 3
        assert refused == ["velocity.payment_method.checkouts"] * 7


async def test_the_decision_is_on_get_checkout_for_ops_callers_only(env: Env) -> None:
    request = create_request(amounts=("12.34", "56.78"))
    await env.stub.CreatePayment(request, timeout=10)
    get = payment_pb2.GetCheckoutRequest(checkout_id=request.checkout_id)

    for metadata in ((), ((SCOPES, "payments:read"),), ((SCOPES, "payments:read,recon"),)):
        plain = await env.stub.GetCheckout(get, metadata=metadata, timeout=10)
        assert plain.checkout.checkout_id == request.checkout_id
        assert not plain.HasField("risk_decision"), metadata

    ops = await env.stub.GetCheckout(get, metadata=((SCOPES, "payments:read, ops"),), timeout=10)

    decision = ops.risk_decision
    assert (decision.outcome, decision.rule) == (payment_pb2.RISK_OUTCOME_ALLOW, "")
    assert decision.decided_at.ToDatetime() == ops.checkout.created_at.ToDatetime()
    rules = {r.rule: r for r in decision.rules}
    assert rules["order.amount_limit"].outcome == payment_pb2.RISK_OUTCOME_ALLOW
    assert dict(rules["order.amount_limit"].figures) == {
        "USD.largest": "56.78",
        "USD.limit": "10000.00",
    }
    assert dict(rules["velocity.buyer.checkouts"].figures) == {
        "window_s": "3600",
        "recent": "0",
        "with_this": "1",
        "limit": "50",
    }
    assert dict(rules["velocity.buyer.amount"].figures)["USD.with_this"] == "69.12"
    # pm_card_visa is Stripe's shared test token: not counted per token.
    skipped = rules["velocity.payment_method.checkouts"]
    assert (skipped.outcome, dict(skipped.figures)) == (
        payment_pb2.RISK_OUTCOME_SKIP,
        {"why": "shared test token"},
    )


async def test_a_refusal_is_stored_with_its_figures_and_tells_the_caller_no_threshold(
    env: Env,
) -> None:
    request = create_request(amounts=("20000", "15000"), currency="JPY")
    await env.stub.CreatePayment(request, timeout=10)  # ¥20,000 is not $20,000: accepted
    refused = create_request(amounts=("10000.01",))

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stub.CreatePayment(refused, timeout=10)

    assert error_info(info.value).metadata["rule"] == "order.amount_limit"
    assert "10000.00" not in (info.value.details() or "")
    async with env.engine.connect() as conn:
        outcome, rule, rules = (
            await conn.exec_driver_sql(
                "SELECT outcome, rule, rules FROM risk_decisions WHERE checkout_id = %(id)s",
                {"id": refused.checkout_id},
            )
        ).one()
    assert (outcome, rule) == ("deny", "order.amount_limit")
    by_rule = {r["rule"]: r for r in (rules if isinstance(rules, list) else json.loads(rules))}
    assert by_rule["order.amount_limit"]["figures"] == {
        "USD.largest": "10000.01",
        "USD.limit": "10000.00",
    }
    with pytest.raises(grpc.aio.AioRpcError) as missing:  # a refused checkout does not exist
        await env.stub.GetCheckout(
            payment_pb2.GetCheckoutRequest(checkout_id=refused.checkout_id),
            metadata=((SCOPES, "ops"),),
            timeout=10,
        )
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND


# --- through the gateway -----------------------------------------------------------------


@asynccontextmanager
async def gateway_in_front(
    database_url: str, nats_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway in front of the payment service (in-process, real PostgreSQL, NATS and the
    sandbox PSP over HTTP): it forwards each key's scopes as `x-paymesh-key-scopes`."""
    await asyncio.to_thread(mesh.migrations.upgrade, "gateway", database_url)
    async with running_sandbox(tmp_path / "psp.jsonl") as psp_base:

        def settings(grpc_addr: str) -> PaymentSettings:
            return PaymentSettings(
                database_url=database_url,
                nats_url=nats_url,
                grpc_addr=grpc_addr,
                psp_api_base=psp_base,
                psp_api_key="sk_test_fraud",
                db_pool_size=4,
            )

        async with started_service(
            "payment_svc", "payment", start_payment, settings, database_url, nats_url
        ) as payment:
            channels = {
                s.full_name: payment.channel
                for s in FRONTED_SERVICES
                if s.full_name.startswith("paymesh.payment.")
            }
            app = create_app(GatewaySettings(database_url=database_url), channels=channels)
            async with app.router.lifespan_context(app):
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=15
                ) as client:
                    yield client


async def test_over_rest_an_ops_key_sees_the_decision_and_a_refusal_names_only_the_rule(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    async with gateway_in_front(database_url, nats_url, tmp_path) as client:
        keys = {
            name: {"Authorization": f"Bearer {await issue_api_key(database_url, name, scopes)}"}
            for name, scopes in (
                ("shop", ["payments:write"]),
                ("support", ["payments:read"]),
                ("operator", ["payments:read", "ops"]),
            )
        }
        request = create_request(amounts=("25.00",))
        body = {
            "checkout_id": request.checkout_id,
            "buyer_info": {"buyer_id": "buyer-rest"},
            "payment_method": "pm_card_visa",
            "payment_orders": [
                {
                    "payment_order_id": request.payment_orders[0].payment_order_id,
                    "seller_account": "seller-a",
                    "amount": "25.00",
                    "currency": "USD",
                }
            ],
        }
        created = await client.post(
            "/v1/payments", json=body, headers={**keys["shop"], "Idempotency-Key": new_request_id()}
        )
        assert created.status_code == 202, created.text
        path = f"/v1/checkouts/{request.checkout_id}"

        support = await client.get(path, headers=keys["support"])
        operator = await client.get(path, headers=keys["operator"])

        assert support.status_code == operator.status_code == 200, support.text + operator.text
        assert "risk_decision" not in support.json()
        decision = operator.json()["risk_decision"]
        assert decision["outcome"] == "RISK_OUTCOME_ALLOW"
        assert {r["rule"] for r in decision["rules"]} >= {
            "buyer.blocked",
            "order.amount_limit",
            "velocity.buyer.checkouts",
        }

        body["checkout_id"] += "x"
        body["payment_orders"][0]["payment_order_id"] += "x"
        body["payment_orders"][0]["amount"] = "10000.01"
        refused = await client.post(
            "/v1/payments", json=body, headers={**keys["shop"], "Idempotency-Key": new_request_id()}
        )

        assert refused.status_code == 422, refused.text
        [info] = [d for d in refused.json()["error"]["details"] if d["@type"].endswith("ErrorInfo")]
        assert (info["reason"], info["metadata"]) == (
            "RISK_REJECTED",
            {"rule": "order.amount_limit"},
        )
        assert "10000.00" not in refused.text and "10000 " not in refused.text
