"""The payout use cases against in-memory fakes of the unit of work, the wallet's holds and the
provider: refusals reserve nothing, a lost provider answer is asked about and never paid
twice, failures release the hold, a paid-then-returned payout gives the money back, scheduled
runs pay once per period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from mesh.errors import ServiceError
from payout_svc.domain import (
    IllegalTransition,
    PayoutStatus,
    ProviderStatus,
    ProviderUnavailable,
    Schedule,
    Seller,
    new_payout,
)
from payout_svc.service_layer.fakes import FakeHolds, FakePayoutStore, FakeProvider
from payout_svc.service_layer.payouts import (
    RequestPayout,
    get_payout,
    request_payout,
    submit,
    sweep,
)
from payout_svc.service_layer.runs import run_payout_id, run_payouts

pytestmark = pytest.mark.unit

D = Decimal
NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def clock() -> datetime:
    return NOW


@pytest.fixture
def world() -> tuple[FakePayoutStore, FakeHolds, FakeProvider]:
    store = FakePayoutStore()
    store.state.sellers["s1"] = Seller("s1", "acct_1")
    store.state.sellers["s2"] = Seller("s2")  # no destination
    return store, FakeHolds({"s1": D(100), "s2": D(100)}), FakeProvider()


async def test_no_destination_is_refused_and_nothing_is_reserved(world) -> None:
    store, holds, _ = world
    with pytest.raises(ServiceError) as err:
        await request_payout(store.uow, holds, clock, RequestPayout("p1", "s2", "10.00", "USD"))
    assert err.value.reason == "NO_PAYOUT_DESTINATION"
    assert holds.holds == {} and store.state.payouts == {}
    with pytest.raises(ServiceError) as err:
        await request_payout(store.uow, holds, clock, RequestPayout("p1", "nobody", "1", "USD"))
    assert err.value.reason == "NOT_FOUND"


async def test_insufficient_funds_fails_the_payout_with_the_available_amount(world) -> None:
    store, holds, _ = world
    with pytest.raises(ServiceError) as err:
        await request_payout(store.uow, holds, clock, RequestPayout("p1", "s1", "100.01", "USD"))
    assert (err.value.reason, err.value.metadata["available"]) == ("INSUFFICIENT_FUNDS", "100.00")
    assert store.state.payouts["p1"].status is PayoutStatus.FAILED
    with pytest.raises(ServiceError) as err:
        await request_payout(store.uow, holds, clock, RequestPayout("p2", "s1", "1.001", "USD"))
    assert err.value.reason == "INVALID_ARGUMENT"


async def test_a_lost_answer_is_asked_about_and_never_paid_twice(world) -> None:
    store, holds, provider = world
    payout = await request_payout(store.uow, holds, clock, RequestPayout("p1", "s1", "", "USD"))
    assert (payout.status, payout.amount) == (PayoutStatus.RESERVED, D(100))
    provider.lose_next_answer = True
    with pytest.raises(ProviderUnavailable):
        await submit(store.uow, holds, provider, clock, "p1")
    assert (await get_payout(store.uow, "p1")).status is PayoutStatus.RESERVED
    submitted = await submit(store.uow, holds, provider, clock, "p1")  # the redelivery
    assert submitted.status is PayoutStatus.SUBMITTED
    assert provider.pay_calls == 1  # found, not paid again
    provider.status = ProviderStatus.PAID
    store.state.payouts["p1"] = store.state.payouts["p1"].__class__(
        **{**store.state.payouts["p1"].__dict__, "updated_at": NOW - timedelta(minutes=5)}
    )
    await sweep(store.uow, holds, provider, clock, 60, 3600)
    assert (await get_payout(store.uow, "p1")).status is PayoutStatus.PAID
    assert holds.holds["p1"][2] == "CAPTURED"


async def test_a_refused_payout_fails_and_releases_its_hold(world) -> None:
    store, holds, provider = world
    provider.refuse.add("acct_1")
    await request_payout(store.uow, holds, clock, RequestPayout("p1", "s1", "40.00", "USD"))
    assert holds.available_by_seller["s1"] == D(60)
    failed = await submit(store.uow, holds, provider, clock, "p1")
    assert (failed.status, failed.failure_reason) == (PayoutStatus.FAILED, "balance_insufficient")
    assert holds.available_by_seller["s1"] == D(100)


async def test_paid_then_returned_gives_the_money_back(world) -> None:
    store, holds, provider = world
    provider.status = ProviderStatus.PAID
    await request_payout(store.uow, holds, clock, RequestPayout("p1", "s1", "40.00", "USD"))
    assert (await submit(store.uow, holds, provider, clock, "p1")).status is PayoutStatus.PAID
    provider.status = ProviderStatus.FAILED
    later = NOW + timedelta(minutes=10)
    await sweep(store.uow, holds, provider, lambda: later, 60, 3600)
    returned = await get_payout(store.uow, "p1")
    assert (returned.status, returned.returned) == (PayoutStatus.FAILED, True)
    assert [h.to_status for h in returned.history][-2:] == [PayoutStatus.PAID, PayoutStatus.FAILED]
    assert holds.holds["p1"][2] == "RETURNED" and holds.available_by_seller["s1"] == D(100)


async def test_a_scheduled_run_made_twice_pays_once(world) -> None:
    store, holds, _ = world
    store.state.sellers["s1"] = Seller("s1", "acct_1", Schedule.WEEKLY, weekday=2)
    wednesday = date(2026, 12, 2)
    first = await run_payouts(store.uow, holds, clock, wednesday)
    second = await run_payouts(store.uow, holds, clock, wednesday)
    # The second finds nothing left to pay; had it raced the first, it would have found the
    # same payout id (tests/integration/test_payouts.py runs two at once).
    assert second.paid == [] and [s[:2] for s in second.skipped] == [("s1", "USD")]
    assert first.paid[0].payout_id == run_payout_id("s1", "USD", "2026-W49")
    assert len(holds.holds) == 1
    assert (await run_payouts(store.uow, holds, clock, date(2026, 12, 3))).paid == []


def test_the_status_machine_refuses_going_back() -> None:
    payout = new_payout("p", "s", "USD", D(1), "acct_1", NOW)
    with pytest.raises(IllegalTransition):
        payout.moved_to(PayoutStatus.PAID, NOW).moved_to(PayoutStatus.RESERVED, NOW)


async def test_a_run_made_page_by_page_looks_at_every_seller_once() -> None:
    store = FakePayoutStore()
    for name in ("a", "b", "c"):
        store.state.sellers[name] = Seller(name, f"acct_{name}", Schedule.DAILY)
    store.state.sellers["m"] = Seller("m", "acct_m")  # manual: never in a run
    holds = FakeHolds({"a": D(10), "b": D(20), "c": D(30), "m": D(40)})
    day = NOW.date()

    first = await run_payouts(store.uow, holds, clock, day, limit=2)
    assert (first.on_schedule, first.looked_at, first.last_seller) == (3, 2, "b")
    second = await run_payouts(store.uow, holds, clock, day, after=first.last_seller, limit=2)
    assert (second.looked_at, second.last_seller) == (1, "")
    paid = [p.seller_account for p in first.paid + second.paid]
    assert paid == ["a", "b", "c"] and holds.available_by_seller["m"] == 40


async def test_an_account_the_provider_refuses_to_show_fails_the_payout_and_releases(
    world,
) -> None:
    store, holds, provider = world
    provider.refuse_find.add("acct_1")
    await request_payout(store.uow, holds, clock, RequestPayout("p9", "s1", "30.00", "USD"))
    failed = await submit(store.uow, holds, provider, clock, "p9")
    assert failed.status is PayoutStatus.FAILED and failed.failure_reason == "account_invalid"
    assert holds.holds["p9"][2] == "RELEASED" and provider.pay_calls == 0
