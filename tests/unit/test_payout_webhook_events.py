"""Stripe Connect `payout.*` webhooks applied to payouts, against the fakes: a signature is
checked as for the pay-in webhooks; an event moves its payout forward only, once (a redelivery
is a duplicate, a late one is ignored); paid-then-failed gives the money back once; an event
that disagrees with its payout, or is malformed, changes nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payout_svc.adapters.stripe_connect_webhooks import (
    InvalidWebhook,
    parse_event,
    verify_connect_event,
)
from payout_svc.domain import PayoutStatus, Seller
from payout_svc.service_layer.fakes import FakeHolds, FakePayoutStore
from payout_svc.service_layer.payouts import RequestPayout, get_payout, request_payout
from payout_svc.service_layer.provider_events import WebhookResult, apply_provider_event
from psp_sandbox.webhooks import signature_header

pytestmark = pytest.mark.unit

SECRET = "whsec_unit_connect"
NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
N = 0


def clock() -> datetime:
    return NOW


def event(
    kind: str, status: str, *, amount: int = 4000, account: str = "acct_1", **payout: object
) -> dict:
    global N
    N += 1
    return {
        "id": f"evt_{N}",
        "object": "event",
        "account": account,
        "created": int(NOW.timestamp()),
        "type": kind,
        "data": {
            "object": {
                "id": "po_1",
                "object": "payout",
                "amount": amount,
                "currency": "usd",
                "status": status,
                "failure_code": "account_closed" if status == "failed" else None,
                "metadata": {"payout_id": "p1"},
                **payout,
            }
        },
    }


def parsed(body: dict):  # type: ignore[no-untyped-def]
    payload = json.dumps(body).encode()
    return parse_event(json.loads(payload), payload)


@pytest.fixture
async def world() -> tuple[FakePayoutStore, FakeHolds]:
    store = FakePayoutStore()
    store.state.sellers["s1"] = Seller("s1", "acct_1")
    holds = FakeHolds({"s1": Decimal(100)})
    await request_payout(store.uow, holds, clock, RequestPayout("p1", "s1", "40.00", "USD"))
    return store, holds


async def apply(world, body: dict) -> tuple[WebhookResult, str]:  # type: ignore[no-untyped-def]
    store, holds = world
    return await apply_provider_event(store.uow, holds, clock, parsed(body))


def test_the_signature_is_checked_with_the_connect_endpoints_secret() -> None:
    payload = json.dumps(event("payout.paid", "paid")).encode()
    good = signature_header(payload.decode(), SECRET, int(time.time()))
    assert verify_connect_event(payload, good, SECRET).payout_id == "p1"
    with pytest.raises(InvalidWebhook):
        verify_connect_event(payload, signature_header(payload.decode(), "whsec_other", 0), SECRET)
    with pytest.raises(InvalidWebhook):
        verify_connect_event(payload + b" ", good, SECRET)


async def test_paid_then_failed_gives_the_money_back_once(world) -> None:
    store, holds = world
    paid = event("payout.paid", "paid")
    assert (await apply(world, paid))[0] is WebhookResult.APPLIED
    assert holds.holds["p1"][2] == "CAPTURED" and holds.available_by_seller["s1"] == 60
    assert (await apply(world, paid))[0] is WebhookResult.DUPLICATE
    late = event("payout.updated", "in_transit")
    assert (await apply(world, late))[0] is WebhookResult.IGNORED

    returned = event("payout.failed", "failed")
    result, note = await apply(world, returned)
    assert result is WebhookResult.APPLIED, note
    assert holds.holds["p1"][2] == "RETURNED" and holds.available_by_seller["s1"] == 100
    assert (await apply(world, returned))[0] is WebhookResult.DUPLICATE
    # The same news again under another event id (its payout.updated twin) changes nothing.
    assert (await apply(world, event("payout.updated", "failed")))[0] is WebhookResult.IGNORED
    payout = await get_payout(store.uow, "p1")
    assert payout.status is PayoutStatus.FAILED and payout.returned
    assert payout.failure_reason == "account_closed"
    assert [h.to_status for h in payout.history][-2:] == [PayoutStatus.PAID, PayoutStatus.FAILED]
    assert holds.available_by_seller["s1"] == 100


async def test_a_canceled_payout_releases_its_hold(world) -> None:
    _, holds = world
    assert (await apply(world, event("payout.canceled", "canceled")))[0] is WebhookResult.APPLIED
    assert holds.holds["p1"][2] == "RELEASED" and holds.available_by_seller["s1"] == 100


@pytest.mark.parametrize(
    "changes",
    [{"amount": 4001}, {"account": "acct_2"}, {"currency": "eur"}],
    ids=["amount", "account", "currency"],
)
async def test_an_event_that_disagrees_with_its_payout_changes_nothing(world, changes) -> None:
    store, holds = world
    body = event("payout.paid", "paid", **changes)
    result, note = await apply(world, body)
    assert result is WebhookResult.MISMATCH, note
    assert (await get_payout(store.uow, "p1")).status is PayoutStatus.RESERVED
    assert holds.holds["p1"][2] == "RESERVED"


async def test_malformed_or_foreign_events_are_refused_or_ignored(world) -> None:
    store, _ = world
    no_amount = event("payout.paid", "paid", amount=-1)
    assert (await apply(world, no_amount))[0] is WebhookResult.REFUSED
    assert (await apply(world, no_amount))[0] is WebhookResult.DUPLICATE
    future = {**event("payout.paid", "paid"), "created": int(NOW.timestamp()) + 3600}
    assert (await apply(world, future))[0] is WebhookResult.REFUSED
    unknown = event("payout.paid", "paid", metadata={"payout_id": "p-nobody"})
    assert (await apply(world, unknown))[0] is WebhookResult.IGNORED
    other_type = {**event("payout.paid", "paid"), "type": "account.updated"}
    assert (await apply(world, other_type))[0] is WebhookResult.IGNORED
    assert (await get_payout(store.uow, "p1")).status is PayoutStatus.RESERVED
