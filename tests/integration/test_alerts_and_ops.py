"""Alerts and the operator's tools, on the real payment service (PostgreSQL, NATS JetStream, the
sandbox PSP through the stripe SDK): a dead letter raises an alert that an operator lists,
acknowledges, and sees resolved once the dead letter is dealt with through OpsService; the PSP
down opens the breaker, which raises an alert, resolved when the PSP is back; a replayed dead
letter is applied once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from harness import (
    Started,
    eventually,
    new_request_id,
    running_sandbox,
    started_service,
)

import mesh.service
from mesh.events import WALLET_CREDITED, new_envelope
from payment_svc.bootstrap import start as start_payment
from payment_svc.domain.breaker import BreakerPolicy
from payment_svc.entrypoints.consumers import WALLET_FLAG
from payment_svc.settings import PaymentSettings
from paymesh.events.v1 import events_pb2
from paymesh.ops.v1 import ops_pb2, ops_pb2_grpc
from paymesh.payment.v1 import payment_pb2, payment_pb2_grpc

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

API_KEY = "sk_test_alerts"
OPEN, ACKNOWLEDGED, RESOLVED = (
    ops_pb2.ALERT_STATE_OPEN,
    ops_pb2.ALERT_STATE_ACKNOWLEDGED,
    ops_pb2.ALERT_STATE_RESOLVED,
)


@pytest.fixture
async def payment(
    database_url: str, nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Started, str]]:
    monkeypatch.setattr(mesh.service, "SAMPLE_INTERVAL_S", 0.2)  # checks every 0.2 s
    async with running_sandbox(tmp_path / "psp.jsonl") as psp_base:

        def settings(grpc_addr: str) -> PaymentSettings:
            return PaymentSettings(
                database_url=database_url,
                nats_url=nats_url,
                grpc_addr=grpc_addr,
                psp_api_base=psp_base,
                psp_api_key=API_KEY,
                psp_timeout_s=5.0,
                executor_concurrency=4,
                db_pool_size=5,
                psp_breaker=BreakerPolicy(failure_threshold=2, open_s=1.0, recovery_s=1.0),
            )

        async with started_service(
            "payment_svc", "payment", start_payment, settings, database_url, nats_url
        ) as service:
            yield service, psp_base
            assert service.life.failed is None, f"a task died: {service.life.failed!r}"


async def alert_of(ops: ops_pb2_grpc.OpsServiceStub, kind: str, state: int) -> ops_pb2.Alert | None:
    answer = await ops.ListAlerts(ops_pb2.ListAlertsRequest(include_resolved=True), timeout=5)
    for alert in answer.alerts:
        if alert.kind == kind and alert.state == state:
            return alert
    return None


async def test_a_dead_letter_raises_an_alert_acknowledged_and_resolved_through_ops(
    payment: tuple[Started, str],
) -> None:
    service, _ = payment
    ops = ops_pb2_grpc.OpsServiceStub(service.channel)
    # A wallet.credited for an order that does not exist: poison for payment-wallet-flag.
    envelope = new_envelope(
        WALLET_CREDITED, "po_ghost", events_pb2.WalletCredited(payment_order_id="po_ghost")
    )
    await service.js.publish(
        WALLET_CREDITED, envelope.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())}
    )
    raised = await eventually(lambda: alert_of(ops, "dead_letters", OPEN))
    assert (raised.subject, raised.service) == (WALLET_FLAG, "payment_svc")
    assert "1 dead letters" in raised.detail
    assert raised.count >= 1 and raised.HasField("first_seen")

    acked = await ops.AcknowledgeAlert(
        ops_pb2.AcknowledgeAlertRequest(request_id=new_request_id(), alert_id=raised.alert_id),
        timeout=5,
    )
    assert acked.alert.state == ACKNOWLEDGED and acked.alert.HasField("acknowledged_at")
    again = await ops.AcknowledgeAlert(
        ops_pb2.AcknowledgeAlertRequest(request_id=new_request_id(), alert_id=raised.alert_id),
        timeout=5,
    )
    assert again.alert.acknowledged_at == acked.alert.acknowledged_at  # twice: no change
    with pytest.raises(Exception) as unknown:
        await ops.AcknowledgeAlert(
            ops_pb2.AcknowledgeAlertRequest(
                request_id=new_request_id(), alert_id=str(uuid.uuid4())
            ),
            timeout=5,
        )
    assert "NOT_FOUND" in str(unknown.value)

    [letter] = (
        await ops.ListDeadLetters(ops_pb2.ListDeadLettersRequest(consumer=WALLET_FLAG), timeout=5)
    ).dead_letters
    assert (letter.subject, letter.event_id) == (WALLET_CREDITED, envelope.event_id)
    assert letter.reason.startswith("poison")
    shown = (await ops.GetDeadLetter(ops_pb2.GetDeadLetterRequest(seq=letter.seq))).dead_letter
    assert shown.payload == envelope.SerializeToString()
    await ops.DiscardDeadLetter(
        ops_pb2.DiscardDeadLetterRequest(request_id=new_request_id(), seq=letter.seq), timeout=5
    )
    resolved = await eventually(lambda: alert_of(ops, "dead_letters", RESOLVED))
    assert resolved.alert_id == raised.alert_id and resolved.HasField("resolved_at")
    assert await alert_of(ops, "dead_letters", ACKNOWLEDGED) is None


async def test_an_open_breaker_is_an_alert_until_the_psp_is_back(
    payment: tuple[Started, str],
) -> None:
    service, psp_base = payment
    ops = ops_pb2_grpc.OpsServiceStub(service.channel)
    payments = payment_pb2_grpc.PaymentServiceStub(service.channel)
    sandbox = httpx.AsyncClient(base_url=psp_base, headers={"Authorization": f"Bearer {API_KEY}"})
    (await sandbox.post("/_sandbox/faults", json={"server_error_rate": 1.0})).raise_for_status()
    checkout_id = f"co_{uuid.uuid4().hex[:10]}"
    await payments.CreatePayment(
        payment_pb2.CreatePaymentRequest(
            request_id=new_request_id(),
            checkout_id=checkout_id,
            buyer_info=payment_pb2.BuyerInfo(buyer_id="buyer_alerts"),
            payment_method="pm_card_visa",
            payment_orders=[
                payment_pb2.PaymentOrderInput(
                    payment_order_id=f"po_{checkout_id}",
                    seller_account="seller_alerts",
                    amount="5.00",
                    currency="USD",
                )
            ],
        ),
        timeout=10,
    )
    raised = await eventually(lambda: alert_of(ops, "psp_breaker_open", OPEN))
    assert raised.subject == "psp"
    breaker = await ops.GetPspBreaker(ops_pb2.GetPspBreakerRequest(), timeout=5)
    assert breaker.state in ("open", "half_open")

    (await sandbox.delete("/_sandbox/faults")).raise_for_status()
    await eventually(lambda: alert_of(ops, "psp_breaker_open", RESOLVED), within=30)

    async def paid() -> bool:
        answer = await payments.GetCheckout(
            payment_pb2.GetCheckoutRequest(checkout_id=checkout_id), timeout=5
        )
        return answer.checkout.payment_orders[0].status == payment_pb2.PAYMENT_ORDER_STATUS_SUCCESS

    await eventually(paid, within=30)
    await sandbox.aclose()


async def test_paymesh_alerts_lists_and_acknowledges_with_an_audit_entry(
    database_url: str,
) -> None:
    import asyncio
    import json
    from datetime import UTC, datetime

    import psycopg
    from click.testing import CliRunner

    import mesh.migrations
    from mesh import alert_store
    from mesh.db import libpq_url, make_engine
    from paymesh_cli.main import cli

    for package in ("payment_svc", "gateway"):
        await asyncio.to_thread(mesh.migrations.upgrade, package, database_url)
    engine = make_engine(database_url, "payment", pool_size=1)
    try:
        await alert_store.observe(
            engine,
            kind="consumer_lag",
            subject="wallet-credit",
            service="wallet_svc",
            detail="5000 messages behind (threshold 1000)",
            active=True,
            at=datetime.now(UTC),
        )
    finally:
        await engine.dispose()
    runner = CliRunner()
    url = ["--database-url", database_url]

    def run(*args: str) -> str:
        result = runner.invoke(cli, [*args, *url], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    [listed] = json.loads(await asyncio.to_thread(run, "alerts", "list", "--json"))["alerts"]
    assert (listed["kind"], listed["subject"], listed["state"]) == (
        "consumer_lag",
        "wallet-credit",
        "open",
    )
    acked = json.loads(await asyncio.to_thread(run, "alerts", "ack", listed["alert_id"], "--json"))
    assert acked["state"] == "acknowledged" and acked["acknowledged_at"]
    with psycopg.connect(libpq_url(database_url)) as conn:
        actions = conn.execute(
            "SELECT action, resource, outcome FROM gateway.audit_log ORDER BY id"
        ).fetchall()
    assert actions == [("alert.acknowledge", f"alerts/{listed['alert_id']}", 200)]
