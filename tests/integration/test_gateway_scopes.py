"""Who may do what, on real parts: the gateway in front of the payment, wallet and ledger services
(in-process, real PostgreSQL, NATS and the sandbox PSP over HTTP), keys issued into the
database; the append-only audit log and the `paymesh api-key` / `paymesh audit` commands."""

from __future__ import annotations

import asyncio
import getpass
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from click.testing import CliRunner
from harness import (
    Started,
    eventually,
    migrations_diff,
    new_request_id,
    running_sandbox,
    started_ledger,
    started_service,
    started_wallet,
)

import mesh.migrations
from gateway.api_keys import issue_api_key, live_key_scopes
from gateway.app import create_app
from gateway.auth import split_key
from gateway.routes import FRONTED_SERVICES
from gateway.scopes import SCOPES
from gateway.settings import GatewaySettings
from gateway.tables import metadata
from mesh.db import libpq_url
from payment_svc.bootstrap import start as start_payment
from payment_svc.settings import PaymentSettings
from paymesh_cli.dev import ensure_dev_api_key
from paymesh_cli.main import cli

pytestmark = [
    pytest.mark.integration,
    # The stripe SDK hands httpx its form body as `data=`; that is the SDK's business.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

PSP_KEY = "sk_test_scopes"
REFUND = "paymesh.payment.v1.RefundService.CreateRefund"


@dataclass
class Front:
    client: httpx.AsyncClient
    database_url: str
    payment: Started

    async def key(self, name: str, *scopes: str) -> dict[str, str]:
        key = await issue_api_key(self.database_url, name, list(scopes))
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def front(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Front]:
    """The gateway, as `paymesh dev` runs it, in front of the real services."""
    await asyncio.to_thread(mesh.migrations.upgrade, "gateway", database_url)
    async with running_sandbox(tmp_path / "psp.jsonl") as psp_base:

        def settings(grpc_addr: str) -> PaymentSettings:
            return PaymentSettings(
                database_url=database_url,
                nats_url=nats_url,
                grpc_addr=grpc_addr,
                psp_api_base=psp_base,
                psp_api_key=PSP_KEY,
                psp_timeout_s=5.0,
                executor_concurrency=8,
                flags_concurrency=8,
                db_pool_size=6,
            )

        async with (
            started_service(
                "payment_svc", "payment", start_payment, settings, database_url, nats_url
            ) as payment,
            started_wallet(database_url, nats_url) as wallet,
            started_ledger(database_url, nats_url) as ledger,
        ):
            # OpsService is served by the payment service.
            by_package = {"payment": payment, "wallet": wallet, "ledger": ledger, "ops": payment}
            channels = {  # notify_svc is not needed here: its routes are refused or unused
                s.full_name: by_package[s.full_name.split(".")[1]].channel
                for s in FRONTED_SERVICES
                if s.full_name.split(".")[1] in by_package
            }
            app = create_app(GatewaySettings(database_url=database_url), channels=channels)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://gateway", timeout=15
                ) as client:
                    yield Front(client, database_url, payment)


def audit_rows(database_url: str) -> list[tuple]:
    with psycopg.connect(libpq_url(database_url)) as conn:
        return conn.execute(
            "SELECT key_id, action, resource, request_id, outcome FROM gateway.audit_log"
            " ORDER BY id"
        ).fetchall()


def reason_of(response: httpx.Response) -> tuple[str, dict[str, str]]:
    [info] = [d for d in response.json()["error"]["details"] if d["@type"].endswith("ErrorInfo")]
    return info["reason"], info.get("metadata", {})


async def test_a_key_made_for_a_checkout_page_cannot_refund(front: Front) -> None:
    checkout_page = await front.key("checkout page", "payments:write")
    back_office = await front.key("back office", "payments:read", "refunds:write")
    suffix = uuid.uuid4().hex[:10]
    order_id = f"po_{suffix}"
    paid = await front.client.post(
        "/v1/payments",
        headers={**checkout_page, "Idempotency-Key": new_request_id()},
        json={
            "checkout_id": f"co_{suffix}",
            "buyer_info": {"buyer_id": "buyer-1"},
            "payment_method": "pm_card_visa",
            "payment_orders": [
                {
                    "payment_order_id": order_id,
                    "seller_account": f"seller_{suffix}",
                    "amount": "40.00",
                    "currency": "USD",
                }
            ],
        },
    )
    assert paid.status_code == 202, paid.text

    async def settled() -> bool:
        found = await front.client.get(f"/v1/payments/{order_id}", headers=back_office)
        order = found.json()["payment_order"]
        return order["status"] == "PAYMENT_ORDER_STATUS_SUCCESS" and order["ledger_updated"]

    await eventually(settled)
    peek = await front.client.get(f"/v1/payments/{order_id}", headers=checkout_page)
    assert (peek.status_code, reason_of(peek)) == (
        403,
        ("SCOPE_MISSING", {"scope": "payments:read"}),
    )

    # The attack: the checkout page's key asks for the money back.
    stolen_key = new_request_id()
    attack = await front.client.post(
        "/v1/refunds",
        headers={**checkout_page, "Idempotency-Key": stolen_key},
        json={"payment_order_id": order_id},
    )
    assert attack.status_code == 403, attack.text
    assert reason_of(attack) == ("SCOPE_MISSING", {"scope": "refunds:write"})
    async with front.payment.engine.connect() as conn:
        refunds = (await conn.exec_driver_sql("SELECT count(*) FROM payment.refunds")).scalar()
    assert refunds == 0, "nothing was refunded"

    # The key that may refund does.
    refund_key = new_request_id()
    refunded = await front.client.post(
        "/v1/refunds",
        headers={**back_office, "Idempotency-Key": refund_key},
        json={"payment_order_id": order_id, "amount": "15.00"},
    )
    assert refunded.status_code == 202, refunded.text
    assert refunded.headers["RateLimit-Limit"] == "100"
    refund_id = refunded.json()["refund"]["refund_id"]

    def reversed_in_wallet_and_ledger() -> bool:
        with psycopg.connect(libpq_url(front.database_url)) as conn:
            debits = conn.execute(
                "SELECT count(*) FROM wallet.wallet_refund_debits WHERE refund_id = %s",
                (refund_id,),
            ).fetchone()
            postings = conn.execute(
                "SELECT count(*) FROM ledger.transactions WHERE refund_id = %s", (refund_id,)
            ).fetchone()
        return (debits, postings) == ((1,), (1,))

    async def refund_done() -> bool:
        # Done for the books too: the after-test invariant check must not race the reversal.
        found = await front.client.get(f"/v1/refunds/{refund_id}", headers=back_office)
        if found.json()["refund"]["status"] != "REFUND_STATUS_SUCCEEDED":
            return False
        return await asyncio.to_thread(reversed_in_wallet_and_ledger)

    await eventually(refund_done)

    page_id = split_key(checkout_page["Authorization"].split()[1])[0]  # type: ignore[index]
    office_id = split_key(back_office["Authorization"].split()[1])[0]  # type: ignore[index]
    rows = await asyncio.to_thread(audit_rows, front.database_url)
    gateway_rows = [r for r in rows if r[1] == REFUND]
    assert gateway_rows == [
        (page_id, REFUND, "/v1/refunds", stolen_key, 403),
        (office_id, REFUND, "/v1/refunds", refund_key, 202),
    ]
    assert [r[1] for r in rows if r[1] != REFUND] == ["api_key.create", "api_key.create"]


def test_key_changes_are_audited_and_listed(database_url: str) -> None:
    mesh.migrations.upgrade("gateway", database_url)
    runner = CliRunner()
    target = ["--database-url", database_url]
    made = runner.invoke(
        cli,
        [
            "api-key",
            "create",
            "--name",
            "checkout page",
            "--scope",
            "payments:write",
            "--rate-limit",
            "20/second",
            *target,
        ],
    )
    assert made.exit_code == 0, made.output
    key_id = split_key(made.output.strip())[0]  # type: ignore[index]
    revoked = runner.invoke(cli, ["api-key", "revoke", key_id, *target])
    assert revoked.exit_code == 0, revoked.output
    again = runner.invoke(cli, ["api-key", "revoke", key_id, *target])
    assert again.exit_code == 1

    bad = runner.invoke(cli, ["api-key", "create", "--name", "x", "--scope", "payments", *target])
    assert bad.exit_code == 2 and "unknown scope payments" in bad.output
    no_scope = runner.invoke(cli, ["api-key", "create", "--name", "x", *target])
    assert no_scope.exit_code == 2 and "--scope" in no_scope.output
    bad_rate = runner.invoke(
        cli, ["api-key", "create", "--name", "x", "--scope", "ops", "--rate-limit", "lots", *target]
    )
    assert bad_rate.exit_code == 2 and "not a rate" in bad_rate.output

    listed = runner.invoke(cli, ["audit", "--json", "--limit", "10", *target])
    assert listed.exit_code == 0, listed.output
    entries = json.loads(listed.output)["entries"]
    actor = f"cli:{getpass.getuser()}"
    assert [(e["key_id"], e["action"], e["resource"], e["outcome"]) for e in entries] == [
        (actor, "api_key.revoke", f"api_keys/{key_id}", 404),
        (actor, "api_key.revoke", f"api_keys/{key_id}", 200),
        (actor, "api_key.create", f"api_keys/{key_id}", 201),
    ]
    assert entries[0]["at"] >= entries[2]["at"]
    table = runner.invoke(cli, ["audit", "--limit", "1", *target])
    assert table.exit_code == 0 and "api_key.revoke" in table.output
    assert len(table.output.strip().splitlines()) == 1

    with psycopg.connect(libpq_url(database_url)) as conn:
        stored = conn.execute(
            "SELECT scopes, rate_limit FROM gateway.api_keys WHERE key_id = %s", (key_id,)
        ).fetchone()
    assert stored == (["payments:write"], "20/second")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE gateway.audit_log SET outcome = 200",
        "DELETE FROM gateway.audit_log",
        "TRUNCATE gateway.audit_log",
    ],
)
def test_the_audit_log_is_append_only(database_url: str, statement: str) -> None:
    mesh.migrations.upgrade("gateway", database_url)
    asyncio.run(issue_api_key(database_url, "shop", ["ops"]))
    with psycopg.connect(libpq_url(database_url)) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement)
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM gateway.audit_log").fetchone() == (1,)


async def test_the_tables_module_matches_the_migrations(database_url: str) -> None:
    assert await migrations_diff("gateway", "gateway", metadata, database_url) == []


def test_paymesh_dev_replaces_a_dev_key_from_before_scopes(
    database_url: str, tmp_path: Path
) -> None:
    mesh.migrations.upgrade("gateway", database_url)
    old_id = "00000000000000aa"
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute(
            "INSERT INTO gateway.api_keys (key_id, name, secret_hash, scopes)"
            " VALUES (%s, 'dev', %s, ARRAY['payments', 'ops'])",
            (old_id, "0" * 64),
        )
    key_file = tmp_path / "dev-api-key"
    key_file.write_text(f"pmk_{old_id}_{'x' * 43}\n")

    asyncio.run(ensure_dev_api_key(tmp_path, database_url, fresh=False))
    new = key_file.read_text().strip()
    new_id = split_key(new)[0]  # type: ignore[index]
    assert new_id != old_id
    assert asyncio.run(live_key_scopes(database_url, new_id)) == frozenset(SCOPES)
    asyncio.run(ensure_dev_api_key(tmp_path, database_url, fresh=False))
    assert key_file.read_text().strip() == new, "a dev key with every scope is kept"


async def test_dead_letters_over_rest_for_ops_keys_with_every_replay_audited(
    front: Front,
) -> None:
    from mesh.events import WALLET_CREDITED, new_envelope
    from paymesh.events.v1 import events_pb2

    ops = await front.key("on call", "ops")
    merchant = await front.key("merchant", "payments:read", "refunds:write")
    # An event the payment service refuses for good: dead-lettered by payment-wallet-flag.
    envelope = new_envelope(
        WALLET_CREDITED, "po_nobody", events_pb2.WalletCredited(payment_order_id="po_nobody")
    )
    await front.payment.js.publish(
        WALLET_CREDITED, envelope.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())}
    )

    async def listed() -> list[dict]:
        response = await front.client.get("/v1/ops/dlq", headers=ops)
        assert response.status_code == 200, response.text
        return response.json()["dead_letters"]

    [letter] = await eventually(listed)
    assert (letter["consumer"], letter["subject"], letter["event_id"]) == (
        "payment-wallet-flag",
        WALLET_CREDITED,
        envelope.event_id,
    )
    assert (await front.client.get("/v1/ops/dlq", headers=merchant)).status_code == 403
    shown = await front.client.get(f"/v1/ops/dlq/{letter['seq']}", headers=ops)
    assert shown.json()["dead_letter"]["payload"]  # base64 of the original bytes

    replay_key = new_request_id()
    replayed = await front.client.post(
        f"/v1/ops/dlq/{letter['seq']}:replay",
        json={},
        headers={**ops, "Idempotency-Key": replay_key},
    )
    assert replayed.status_code == 200, replayed.text
    # Still refused (nothing was fixed): dead-lettered again, under a new sequence.
    [again] = await eventually(listed)
    assert again["seq"] != letter["seq"] and again["event_id"] == envelope.event_id
    gone = await front.client.post(
        f"/v1/ops/dlq/{letter['seq']}:replay",
        json={},
        headers={**ops, "Idempotency-Key": new_request_id()},
    )
    assert gone.status_code == 404
    discarded = await front.client.post(
        f"/v1/ops/dlq/{again['seq']}:discard",
        json={},
        headers={**ops, "Idempotency-Key": new_request_id()},
    )
    assert discarded.status_code == 200
    assert await listed() == []

    ops_id = ops["Authorization"].split("_")[1]
    actions = [
        (key_id, action.rsplit(".", 1)[1], outcome)
        for key_id, action, _, _, outcome in audit_rows(front.database_url)
        if action.startswith("paymesh.ops.v1.")
    ]
    assert actions == [
        (ops_id, "ReplayDeadLetter", 200),
        (ops_id, "ReplayDeadLetter", 404),
        (ops_id, "DiscardDeadLetter", 200),
    ]
    alerts = await front.client.get("/v1/ops/alerts?include_resolved=true", headers=ops)
    assert alerts.status_code == 200 and "alerts" in alerts.json()
