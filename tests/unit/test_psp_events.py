"""PSP events (webhooks): verified with the stripe SDK's verifier, applied once, never a step
back. The use case runs on the in-memory unit of work."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from stripe_events import sign as stripe_sign
from stripe_events import stripe_event
from test_payment_use_cases import Clock, command, create

from payment_svc.adapters.fake_psp import FakePaymentProvider
from payment_svc.adapters.stripe_webhooks import InvalidWebhook, verify_stripe_event
from payment_svc.domain.order import OrderStatus
from payment_svc.domain.psp import ChargeStatus
from payment_svc.service_layer.execute_order import Execution, execute_order
from payment_svc.service_layer.fake_uow import FakeStore
from payment_svc.service_layer.psp_events import WebhookResult, apply_psp_event
from payment_svc.service_layer.queries import get_payment_order

pytestmark = pytest.mark.unit

SECRET = "whsec_test_secret"


def sign(payload: bytes, secret: str = SECRET, at: int | None = None) -> str:
    return stripe_sign(payload, secret, at)


# --- verification ------------------------------------------------------------------------


def test_a_signed_event_is_read() -> None:
    payload = stripe_event(
        "payment_intent.payment_failed",
        status="requires_payment_method",
        decline_code="insufficient_funds",
    )

    event = verify_stripe_event(payload, sign(payload), SECRET)

    assert (event.event_id, event.type, event.payment_order_id, event.psp_reference) == (
        "evt_1",
        "payment_intent.payment_failed",
        "po_1",
        "pi_1",
    )
    assert event.created_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert event.outcome is not None
    assert (event.outcome.status, event.outcome.decline_reason) == (
        ChargeStatus.DECLINED,
        "insufficient_funds",
    )
    assert event.payload == payload


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(lambda p: sign(p, secret="whsec_someone_else"), id="another secret"),
        pytest.param(lambda p: sign(p + b" "), id="another body"),
        pytest.param(lambda p: sign(p, at=int(time.time()) - 301), id="older than 5 minutes"),
        pytest.param(lambda p: "t=1,v1=", id="garbage"),
    ],
)
def test_a_bad_or_stale_signature_is_refused(signature) -> None:  # type: ignore[no-untyped-def]
    payload = stripe_event("payment_intent.succeeded")

    with pytest.raises(InvalidWebhook):
        verify_stripe_event(payload, signature(payload), SECRET)


def test_an_event_about_something_else_has_no_outcome() -> None:
    payload = json.dumps(
        {
            "id": "evt_9",
            "type": "charge.refunded",
            "created": 1,
            "data": {"object": {"object": "charge"}},
        }
    ).encode()

    event = verify_stripe_event(payload, sign(payload), SECRET)

    assert (event.outcome, event.payment_order_id) == (None, "")


# --- applying --------------------------------------------------------------------------------


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def pending_order(store: FakeStore, clock: Clock) -> str:
    """po_1 left PENDING by the PSP (3-D Secure); returns its PSP reference."""
    await create(
        store, clock, command(payment_method="pm_card_threeDSecure2Required", order_ids=("po_1",))
    )
    psp = FakePaymentProvider()
    assert await execute_order("po_1", uow=store.uow, psp=psp, clock=clock) is Execution.PENDING
    store.outbox.clear()
    return (await get_payment_order("po_1", uow=store.uow)).psp_reference


async def apply(store: FakeStore, clock: Clock, payload: bytes) -> WebhookResult:
    event = verify_stripe_event(payload, sign(payload), SECRET)
    result, _note = await apply_psp_event(event, uow=store.uow, clock=clock)
    return result


async def status_of(store: FakeStore) -> OrderStatus:
    return (await get_payment_order("po_1", uow=store.uow)).status


async def test_a_success_event_finishes_a_pending_order_once(
    store: FakeStore, clock: Clock
) -> None:
    ref = await pending_order(store, clock)
    payload = stripe_event("payment_intent.succeeded", intent_id=ref)

    assert await apply(store, clock, payload) is WebhookResult.APPLIED
    assert await apply(store, clock, payload) is WebhookResult.DUPLICATE

    assert await status_of(store) is OrderStatus.SUCCESS
    assert len(store.outbox) == 1  # one payment.order.succeeded
    assert store.state.psp_events["evt_1"][1] == "applied: SUCCESS"


async def test_a_failure_event_fails_a_pending_order_with_its_reason(
    store: FakeStore, clock: Clock
) -> None:
    ref = await pending_order(store, clock)
    payload = stripe_event(
        "payment_intent.payment_failed",
        intent_id=ref,
        status="requires_payment_method",
        decline_code="authentication_required",
    )

    assert await apply(store, clock, payload) is WebhookResult.APPLIED

    order = await get_payment_order("po_1", uow=store.uow)
    assert (order.status, order.failure_reason) == (OrderStatus.FAILED, "authentication_required")


async def test_a_late_processing_event_never_moves_a_success_back(
    store: FakeStore, clock: Clock
) -> None:
    ref = await pending_order(store, clock)
    succeeded = stripe_event("payment_intent.succeeded", event_id="evt_2", intent_id=ref)
    processing = stripe_event(
        "payment_intent.processing", event_id="evt_1", status="processing", intent_id=ref
    )
    failed_late = stripe_event(
        "payment_intent.payment_failed",
        event_id="evt_0",
        status="requires_payment_method",
        intent_id=ref,
    )

    assert await apply(store, clock, succeeded) is WebhookResult.APPLIED
    assert await apply(store, clock, processing) is WebhookResult.IGNORED
    assert await apply(store, clock, failed_late) is WebhookResult.IGNORED

    assert await status_of(store) is OrderStatus.SUCCESS
    assert set(store.state.psp_events) == {"evt_0", "evt_1", "evt_2"}  # all kept for audit
    assert store.state.psp_events["evt_1"][1] == "ignored: the order is already SUCCESS"


@pytest.mark.parametrize(
    ("forged", "why"),
    [
        ({"intent_id": "pi_other"}, "mismatch: intent pi_other, the order's is "),
        ({"amount": 1}, "mismatch: amount 0.01, the order's is 12.34"),
        ({"currency": "eur"}, "mismatch: currency EUR, the order's is USD"),
        ({"amount": 123400}, "mismatch: amount 1234.00, the order's is 12.34"),
    ],
    ids=["another intent", "another amount", "another currency", "amount in major units"],
)
async def test_a_signed_event_that_disagrees_with_its_order_changes_nothing(
    store: FakeStore, clock: Clock, forged: dict[str, object], why: str
) -> None:
    ref = await pending_order(store, clock)
    payload = stripe_event("payment_intent.succeeded", **{"intent_id": ref, **forged})  # type: ignore[arg-type]

    result = await apply(store, clock, payload)

    assert result is WebhookResult.MISMATCH
    assert await status_of(store) is OrderStatus.PENDING
    assert store.state.psp_events["evt_1"][1].startswith(why)
    assert store.outbox == []  # no payment.order.succeeded: wallet and ledger never hear of it


async def test_a_hosted_order_without_an_intent_yet_takes_a_matching_event(
    store: FakeStore, clock: Clock
) -> None:
    """An order whose intent id is not recorded yet is matched on amount and currency."""
    await pending_order(store, clock)
    store.state.orders["po_1"].psp_reference = ""  # as a hosted order before its first event

    assert await apply(store, clock, stripe_event("payment_intent.succeeded")) is (
        WebhookResult.APPLIED
    )
    assert await status_of(store) is OrderStatus.SUCCESS


def _event_with(**changes: object) -> bytes:
    event = json.loads(stripe_event("payment_intent.succeeded"))
    for path, value in changes.items():
        target = event
        *parents, leaf = path.split("__")
        for part in parents:
            target = target[part]
        if value is None:
            del target[leaf]
        else:
            target[leaf] = value
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (_event_with(data__object__id=None), "the payment intent has no id"),
        (_event_with(data__object__id=""), "the payment intent has no id"),
        (_event_with(data="x"), "`data.object` is missing or not an object"),
        (_event_with(data__object=[1]), "`data.object` is missing or not an object"),
        (_event_with(data__object__amount="12.34"), "the payment intent has no valid amount"),
        (_event_with(data__object__amount=None), "the payment intent has no valid amount"),
        (_event_with(data__object__currency="dollars"), "the payment intent has no valid currency"),
        (_event_with(data__object__currency="zzz"), "the payment intent's amount cannot be read"),
        (_event_with(data__object__metadata="po_1"), "the payment intent's metadata is not"),
        (_event_with(created="soon"), "the event has no valid `created` time"),
        (_event_with(created=10**20), "the event has no valid `created` time"),
        (_event_with(type=None), "the event has no type"),
        (_event_with(data__object__id="pi_\x00"), "the payment intent holds a NUL character"),
        (_event_with(type="payment_intent.succeeded\x00"), "the event holds a NUL character"),
    ],
    ids=[
        "no intent id",
        "empty intent id",
        "data not an object",
        "data.object a list",
        "amount as text",
        "no amount",
        "bad currency",
        "unknown currency",
        "metadata not an object",
        "created not a time",
        "created past year 9999",
        "no type",
        "NUL in the intent id",
        "NUL in the type",
    ],
)
async def test_a_signed_but_malformed_event_is_kept_and_refused(
    store: FakeStore, clock: Clock, payload: bytes, why: str
) -> None:
    await pending_order(store, clock)

    assert await apply(store, clock, payload) is WebhookResult.REFUSED

    assert await status_of(store) is OrderStatus.PENDING
    assert store.state.psp_events["evt_1"][1].startswith(f"refused: {why}")


async def test_an_event_from_the_future_is_kept_and_refused(store: FakeStore, clock: Clock) -> None:
    ref = await pending_order(store, clock)
    ahead = int(clock().timestamp()) + 301
    near = int(clock().timestamp()) + 299

    far = stripe_event("payment_intent.succeeded", intent_id=ref, created=ahead)
    assert await apply(store, clock, far) is WebhookResult.REFUSED
    assert await status_of(store) is OrderStatus.PENDING
    assert "ahead of our clock" in store.state.psp_events["evt_1"][1]

    skewed = stripe_event("payment_intent.succeeded", event_id="evt_2", intent_id=ref, created=near)
    assert await apply(store, clock, skewed) is WebhookResult.APPLIED


@pytest.mark.parametrize(
    "payload",
    [
        stripe_event("payment_intent.succeeded", order_id="po_unknown"),
        stripe_event("payment_intent.created", status="requires_payment_method"),
        stripe_event("payment_intent.succeeded", order_id=""),
    ],
    ids=["unknown order", "a type that says no outcome", "no payment order"],
)
async def test_events_that_change_nothing_are_kept_and_ignored(
    store: FakeStore, clock: Clock, payload: bytes
) -> None:
    await pending_order(store, clock)

    assert await apply(store, clock, payload) is WebhookResult.IGNORED

    assert await status_of(store) is OrderStatus.PENDING
    assert "evt_1" in store.state.psp_events


async def test_a_signed_event_without_an_id_is_kept_under_its_digest_and_refused(
    store: FakeStore, clock: Clock
) -> None:
    payload = _event_with(id=None)

    assert await apply(store, clock, payload) is WebhookResult.REFUSED

    [(event_id, (_event, result))] = store.state.psp_events.items()
    assert event_id.startswith("unidentified:")
    assert result == "refused: the event has no id"


@pytest.mark.parametrize(
    ("minor", "currency", "amount"),
    [(2000, "usd", "20.00"), (500, "jpy", "500"), (50000, "isk", "500"), (5120, "kwd", "5.120")],
    ids=["two decimals", "zero decimal", "ISK in Stripe's hundredths", "three decimals"],
)
def test_an_events_amount_is_read_with_stripes_own_minor_units(
    minor: int, currency: str, amount: str
) -> None:
    payload = stripe_event("payment_intent.succeeded", amount=minor, currency=currency)

    event = verify_stripe_event(payload, sign(payload), SECRET)

    assert (event.amount, event.currency) == (Decimal(amount), currency.upper())
