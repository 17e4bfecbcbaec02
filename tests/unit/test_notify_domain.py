"""The rules of telling the marketplace: which URLs may receive events, the retry schedule,
when an endpoint is disabled, and what each mesh event becomes."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from protovalidate import ValidationError, validate
from standardwebhooks.webhooks import Webhook

from mesh.events import (
    PAYMENT_ORDER_CREATED,
    PAYMENT_ORDER_PENDING,
    PAYMENT_REFUND_SUCCEEDED,
    new_envelope,
)
from mesh.jetstream import Poison
from mesh.settings import SettingsError
from notify_svc.adapters.http_sender import signed_headers
from notify_svc.adapters.secret_box import SecretBox, SecretBoxError
from notify_svc.domain.endpoint import DisablePolicy, InvalidEndpointUrl, check_url
from notify_svc.domain.event_types import TYPE_OF_SUBJECT, WEBHOOK_EVENT_TYPES
from notify_svc.domain.retry import RetrySchedule
from notify_svc.entrypoints.translate import to_webhook_event
from notify_svc.service_layer.endpoints import new_signing_secret
from notify_svc.service_layer.ports import DueDelivery
from notify_svc.settings import NotifySettings
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2
from paymesh.notify.v1 import notify_pb2

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    ["https://shop.example/hooks", "https://10.0.0.7:8443/h?x=1", "http://127.0.0.1:9000/h"],
)
def test_https_and_loopback_http_in_dev_are_endpoints(url: str) -> None:
    assert check_url(url, allow_http_loopback=True) == url


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://shop.example/hooks", True),
        ("http://127.0.0.1:9000/h", False),
        ("http://localhost/h", False),
        ("ftp://shop.example/x", True),
        ("https://user:pw@shop.example/x", True),
        ("https:///nohost", True),
        ("https://[zz::1/x", True),
    ],
)
def test_other_urls_are_refused(url: str, allow: bool) -> None:
    with pytest.raises(InvalidEndpointUrl):
        check_url(url, allow_http_loopback=allow)


def test_the_default_schedule_retries_for_about_three_days_then_gives_up() -> None:
    schedule = RetrySchedule()
    assert 2.5 * 86400 < schedule.total_s <= 3 * 86400
    assert schedule.delay_after(1) == 5
    assert schedule.delay_after(len(schedule.delays_s)) is not None
    assert schedule.delay_after(len(schedule.delays_s) + 1) is None
    assert RetrySchedule((0.2, 0.2)).delay_after(3) is None


def test_an_endpoint_is_disabled_after_failures_in_a_row_or_days_without_success() -> None:
    policy = DisablePolicy(after_failures=3, after_s=5 * 86400)
    assert policy.reason_to_disable(2, NOW, NOW) is None
    assert policy.reason_to_disable(3, NOW, NOW) == "3 failed deliveries in a row"
    days = DisablePolicy(after_failures=0, after_s=5 * 86400)
    assert days.reason_to_disable(1000, NOW - timedelta(days=4), NOW) is None
    assert days.reason_to_disable(1, NOW - timedelta(days=5), NOW) is not None
    assert DisablePolicy(0, 0).reason_to_disable(10**6, NOW - timedelta(days=99), NOW) is None


def test_the_contract_accepts_exactly_the_event_types_notify_knows() -> None:
    def request(types: list[str]) -> notify_pb2.CreateWebhookEndpointRequest:
        return notify_pb2.CreateWebhookEndpointRequest(
            request_id=str(uuid.uuid4()), url="https://shop.example/h", event_types=types
        )

    validate(request(list(WEBHOOK_EVENT_TYPES)))
    for bad in (["payout.created"], [], ["order.succeeded", "order.succeeded"]):
        with pytest.raises(ValidationError):
            validate(request(bad))


def test_a_secret_is_standard_webhooks_and_signs_what_a_receiver_verifies() -> None:
    secret = new_signing_secret()
    assert secret.startswith("whsec_") and secret != new_signing_secret()
    due = DueDelivery("msg_1", "we_1", "order.succeeded", "https://x", secret, '{"a":1}')
    headers = signed_headers(due, datetime.now(UTC))
    assert headers["webhook-id"] == "msg_1"
    assert Webhook(secret).verify(due.body, headers) == {"a": 1}


def test_each_subject_becomes_its_webhook_type_with_a_stable_id() -> None:
    payload = events_pb2.PaymentRefundSucceeded(
        refund_id="rf_1",
        payment_order_id="po-1",
        seller_account="s-1",
        amount=money_pb2.Money(amount="20.00", currency="USD"),
        fee_refunded=money_pb2.Money(amount="2.00", currency="USD"),
        psp_reference="re_1",
    )
    env = new_envelope(PAYMENT_REFUND_SUCCEEDED, "rf_1", payload)
    event = to_webhook_event(env)
    assert event is not None
    assert event.event_id == "msg_" + uuid.UUID(env.event_id).hex
    assert event == to_webhook_event(env)  # the same on every redelivery
    body = json.loads(event.body())
    assert body["type"] == "refund.succeeded" and body["timestamp"].endswith("Z")
    assert body["data"]["amount"] == {"amount": "20.00", "currency": "USD"}
    assert body["data"]["status"] == "SUCCEEDED"

    pending = new_envelope(
        PAYMENT_ORDER_PENDING,
        "po-2",
        events_pb2.PaymentOrderPending(payment_order_id="po-2", checkout_id="c", reason="3ds"),
    )
    assert to_webhook_event(pending).event_type == "order.pending"  # type: ignore[union-attr]
    created = new_envelope(
        PAYMENT_ORDER_CREATED, "po-3", events_pb2.PaymentOrderCreated(payment_order_id="po-3")
    )
    assert to_webhook_event(created) is None  # the executor's business, not the marketplace's
    assert set(TYPE_OF_SUBJECT.values()) == set(WEBHOOK_EVENT_TYPES)


def test_an_unreadable_event_is_poison() -> None:
    env = new_envelope(PAYMENT_ORDER_PENDING, "po-1", events_pb2.PaymentOrderCreated())
    with pytest.raises(Poison):
        to_webhook_event(env)


def test_a_sealed_secret_opens_only_with_its_key_and_for_its_endpoint() -> None:
    box = SecretBox(b"k" * 32)
    secret = new_signing_secret()
    sealed = box.seal(secret, "we_1")
    assert secret.removeprefix("whsec_") not in sealed and sealed != box.seal(secret, "we_1")
    assert box.open(sealed, "we_1") == secret
    for other_box, endpoint in ((SecretBox(b"x" * 32), "we_1"), (box, "we_2")):
        with pytest.raises(SecretBoxError):
            other_box.open(sealed, endpoint)


def test_the_secret_key_setting_is_32_bytes_of_base64(monkeypatch: pytest.MonkeyPatch) -> None:
    key = base64.b64encode(b"z" * 32).decode()
    monkeypatch.setenv("NOTIFY_SECRET_KEY", key)
    assert NotifySettings.from_env().secret_key == b"z" * 32
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        monkeypatch.setenv("NOTIFY_SECRET_KEY", bad)
        with pytest.raises(SettingsError):
            NotifySettings.from_env()


def test_payout_outcomes_reach_the_marketplace_as_payout_events() -> None:
    from mesh.events import PAYOUT_FAILED, PAYOUT_PAID, PAYOUT_RESERVED, new_envelope
    from notify_svc.entrypoints.translate import to_webhook_event
    from paymesh.common.v1 import money_pb2
    from paymesh.events.v1 import events_pb2

    usd = money_pb2.Money(amount="30.00", currency="USD")
    paid = to_webhook_event(
        new_envelope(PAYOUT_PAID, "p1", events_pb2.PayoutPaid(payout_id="p1", amount=usd))
    )
    assert paid is not None and paid.event_type == "payout.paid"
    assert paid.data["amount"] == {"amount": "30.00", "currency": "USD"}
    failed = events_pb2.PayoutFailed(payout_id="p1", status="FAILED", returned=True, amount=usd)
    told = to_webhook_event(new_envelope(PAYOUT_FAILED, "p1", failed))
    assert told is not None and told.event_type == "payout.failed"
    assert (told.data["status"], told.data["returned"]) == ("FAILED", True)
    reserved = events_pb2.PayoutReserved(payout_id="p1")
    assert to_webhook_event(new_envelope(PAYOUT_RESERVED, "p1", reserved)) is None


def test_a_new_reconciliation_mismatch_reaches_the_marketplace_as_recon_mismatch_opened() -> None:
    from datetime import date
    from decimal import Decimal

    from recon_svc.domain.events import MismatchOpened
    from recon_svc.entrypoints.outgoing import encode_event

    opened = MismatchOpened(
        mismatch_id="mm_1", type="amount", detail="", mismatch_class=2,
        amount=Decimal("30.05"), currency="USD", run_id="rr_1",
        suggested_action="accept", period=date(2026, 12, 1),
    )  # fmt: skip
    subject, aggregate, payload = encode_event(opened)
    told = to_webhook_event(new_envelope(subject, aggregate, payload))
    assert told is not None and told.event_type == "recon.mismatch_opened"
    assert told.data == {
        "mismatch_id": "mm_1", "type": "amount", "detail": "", "class": 2,
        "amount": {"amount": "30.05", "currency": "USD"}, "run_id": "rr_1",
        "suggested_action": "accept", "period": "2026-12-01",
    }  # fmt: skip
    # A mismatch that names no money says so.
    no_money = encode_event(
        MismatchOpened("mm_2", "status", "", 1, None, "", "rr_1", "", date(2026, 12, 1))
    )
    told = to_webhook_event(new_envelope(*no_money))
    assert told is not None and told.data["amount"] is None
