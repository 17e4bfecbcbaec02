"""The gateway against a real PostgreSQL: its migration, API keys issued and stored hashed, the
database-backed verifier, revocation, and readiness (database + upstream health)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import grpc
import httpx
import psycopg
import pytest

import mesh.migrations
from gateway.api_keys import DbApiKeyVerifier, issue_api_key, revoke_api_key
from gateway.app import create_app
from gateway.auth import split_key
from gateway.settings import GatewaySettings
from mesh.db import libpq_url, make_engine
from mesh.grpc_server import GrpcServer
from paymesh.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from paymesh_cli.stack import free_port

pytestmark = pytest.mark.integration

WALLET = "paymesh.wallet.v1.WalletService"


class FakeWallets(wallet_pb2_grpc.WalletServiceServicer):
    async def GetBalance(self, request, context):  # type: ignore[no-untyped-def]
        return wallet_pb2.GetBalanceResponse(seller_account=request.seller_account)


@pytest.fixture
async def migrated(database_url: str) -> str:
    await asyncio.to_thread(mesh.migrations.upgrade, "gateway", database_url)
    await asyncio.to_thread(mesh.migrations.upgrade, "gateway", database_url)  # idempotent
    return database_url


@pytest.fixture
async def wallet_channel() -> AsyncIterator[grpc.aio.Channel]:
    server = GrpcServer(
        "127.0.0.1:0",
        [(wallet_pb2_grpc.add_WalletServiceServicer_to_server, FakeWallets(), WALLET)],
    )
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield channel
    finally:
        await channel.close()
        await server.stop(0)


def stored_rows(url: str) -> list[tuple]:
    with psycopg.connect(libpq_url(url)) as conn:
        return conn.execute(
            "SELECT key_id, name, secret_hash, scopes, created_at, revoked_at FROM gateway.api_keys"
        ).fetchall()


async def test_keys_are_stored_hashed_and_verified(migrated: str) -> None:
    key = await issue_api_key(migrated, "test shop", ["refunds:write", "payments:write"])
    parts = split_key(key)
    assert parts is not None
    key_id, secret = parts
    [(row_id, name, secret_hash, scopes, created_at, revoked_at)] = await asyncio.to_thread(
        stored_rows, migrated
    )
    assert (row_id, name, scopes, revoked_at) == (
        key_id,
        "test shop",
        ["payments:write", "refunds:write"],
        None,
    )
    assert created_at is not None
    assert secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(stored_rows(migrated)) and key not in repr(stored_rows(migrated))

    now = [0.0]
    engine = make_engine(migrated, "gateway")
    try:
        verifier = DbApiKeyVerifier(engine, ttl_s=30, clock=lambda: now[0])
        api_key = await verifier.verify(key_id, secret)
        assert api_key is not None
        assert (api_key.key_id, api_key.name, api_key.scopes) == (
            key_id,
            "test shop",
            frozenset({"payments:write", "refunds:write"}),
        )
        assert await verifier.verify(key_id, secret[:-1] + "x") is None
        assert await verifier.verify("f" * 16, secret) is None

        assert await revoke_api_key(migrated, key_id) is True
        assert await revoke_api_key(migrated, key_id) is False  # already revoked
        assert await verifier.verify(key_id, secret) is not None  # cached for the TTL
        now[0] += 31
        assert await verifier.verify(key_id, secret) is None
        assert await DbApiKeyVerifier(engine).verify(key_id, secret) is None
    finally:
        await engine.dispose()


async def test_the_app_authenticates_against_the_database(
    migrated: str, wallet_channel: grpc.aio.Channel
) -> None:
    good = await issue_api_key(migrated, "good", ["payouts:read", "ops"])
    revoked = await issue_api_key(migrated, "revoked", ["payouts:read"])
    revoked_id = split_key(revoked)[0]  # type: ignore[index]
    assert await revoke_api_key(migrated, revoked_id)
    settings = GatewaySettings(
        database_url=migrated,
        api_key_cache_ttl_s=0,
        payment_grpc_addr=f"127.0.0.1:{free_port()}",  # nothing listens there
        ledger_grpc_addr=f"127.0.0.1:{free_port()}",
        notify_grpc_addr=f"127.0.0.1:{free_port()}",
        recon_grpc_addr=f"127.0.0.1:{free_port()}",
    )
    app = create_app(settings, channels={WALLET: wallet_channel})
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.get(
                "/v1/wallets/seller-1", headers={"Authorization": f"Bearer {good}"}
            )
            assert response.status_code == 200, response.text
            assert response.json() == {"seller_account": "seller-1", "balances": []}
            response = await client.get(
                "/v1/wallets/seller-1", headers={"Authorization": f"Bearer {revoked}"}
            )
            assert response.status_code == 403
            assert response.json()["error"]["status"] == "PERMISSION_DENIED"
            wrong = good[:-4] + "AAAA"
            response = await client.get(
                "/v1/wallets/seller-1", headers={"Authorization": f"Bearer {wrong}"}
            )
            assert response.status_code == 403
            response = await client.get("/v1/wallets/seller-1")
            assert response.status_code == 401

            public = await client.get("/readyz")
            assert (public.status_code, public.json()) == (503, {"status": "not_ready"})
            ready = await client.get("/readyz", headers={"Authorization": f"Bearer {good}"})
            checks = ready.json()["checks"]
            assert checks["database"] == "SERVING"
            assert checks[WALLET] == "SERVING"
            assert ready.status_code == 503
            assert sorted(ready.json()["not_ready"]) == [
                "paymesh.ledger.v1.LedgerService",
                "paymesh.notify.v1.NotifyService",
                "paymesh.ops.v1.OpsService",
                "paymesh.payment.v1.PaymentService",
                "paymesh.payment.v1.RefundService",
                "paymesh.payout.v1.PayoutService",
                "paymesh.recon.v1.ReconService",
            ]


async def test_a_key_s_own_rate_limit_is_read_from_the_database(
    migrated: str, wallet_channel: grpc.aio.Channel
) -> None:
    limited = await issue_api_key(migrated, "slow", ["payouts:read"], rate_limit="2/minute")
    default = await issue_api_key(migrated, "default", ["payouts:read"])
    app = create_app(
        GatewaySettings(database_url=migrated, rate_limit="5/minute"),
        channels={WALLET: wallet_channel},
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

            async def statuses(key: str, n: int) -> list[tuple[int, str]]:
                headers = {"Authorization": f"Bearer {key}"}
                answers = [await client.get("/v1/wallets/s-1", headers=headers) for _ in range(n)]
                return [(a.status_code, a.headers["RateLimit-Limit"]) for a in answers]

            assert await statuses(limited, 3) == [(200, "2"), (200, "2"), (429, "2")]
            assert await statuses(default, 6) == [(200, "5")] * 5 + [(429, "5")]
