"""The wallet's buckets against the in-memory unit of work: releases (by call and by hold
period), refunds split between pending, available and debt, debt settled by later credits,
holds reserved, captured, released and returned; every move told to the ledger as an event
whose legs match the balance change; and the ledger's posting of such a move."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from ledger_svc.domain import InvalidTransaction, Side, wallet_moved
from mesh.errors import Code, ServiceError
from mesh.money import Money
from wallet_svc.domain import (
    Balance,
    Bucket,
    Hold,
    HoldNotInState,
    HoldStatus,
    WalletMoved,
    split_debit,
)
from wallet_svc.service_layer.fakes import FakeWalletStore
from wallet_svc.service_layer.holds import reserve_funds, settle_hold
from wallet_svc.service_layer.refunds import DebitRefund, debit_refund
from wallet_svc.service_layer.releases import (
    ReleaseOrder,
    ReleaseOutcome,
    release_due,
    release_order,
)
from wallet_svc.service_layer.use_cases import CreditOrder, credit_seller

pytestmark = pytest.mark.unit

D = Decimal
SELLER = "seller-1"


def eid() -> str:
    return str(uuid.uuid4())


def usd(amount: str) -> Money:
    return Money(D(amount), "USD")


async def pay(store: FakeWalletStore, order_id: str, gross: str, fee: str = "0.00") -> None:
    await credit_seller(store.uow(), CreditOrder(eid(), order_id, SELLER, usd(gross), usd(fee)))


async def refund(store: FakeWalletStore, order_id: str, amount: str) -> None:
    await debit_refund(
        store.uow(),
        DebitRefund(eid(), f"rf-{uuid.uuid4().hex[:6]}", order_id, SELLER, usd(amount), usd("0")),
    )


def balance(store: FakeWalletStore) -> Balance:
    return store.state.balances[(SELLER, "USD")]


def moves(store: FakeWalletStore) -> list[tuple[str, str, str, str]]:
    return [
        (m.reason, m.debit.value, m.credit.value, m.amount.wire())
        for m in store.state.outbox
        if isinstance(m, WalletMoved)
    ]


def test_a_move_debits_one_bucket_and_credits_another() -> None:
    start = Balance("USD", pending=D(10), available=D(5), debt=D(3))
    assert start.moved(Bucket.PENDING, Bucket.AVAILABLE, D(4)) == Balance(
        "USD", pending=D(6), available=D(9), debt=D(3)
    )
    # The debt is an asset: debiting it grows it, crediting it shrinks it.
    assert start.moved(Bucket.DEBT, Bucket.PENDING, D(2)).debt == D(5)
    assert start.moved(Bucket.PENDING, Bucket.DEBT, D(2)).debt == D(1)
    # Paid out: the money leaves the wallet.
    assert start.moved(Bucket.AVAILABLE, Bucket.PAID_OUT, D(5)).total == D(7)


def test_a_refund_split_takes_pending_then_available_then_debt() -> None:
    b = Balance("USD", pending=D(10), available=D(5))
    assert split_debit(b, D(12)) == split_debit(b, D(12), released=False)
    assert (split_debit(b, D(12)).from_pending, split_debit(b, D(12)).from_available) == (10, 2)
    assert split_debit(b, D(20)).to_debt == D(5)
    released = split_debit(b, D(8), released=True)
    assert (released.from_pending, released.from_available, released.to_debt) == (0, 5, 3)


async def test_a_release_moves_what_is_left_of_the_order_once() -> None:
    store = FakeWalletStore()
    await pay(store, "po-1", "100.00")
    await pay(store, "po-2", "50.00")
    await refund(store, "po-1", "30.00")  # from pending, before the release
    assert await release_order(store.uow(), ReleaseOrder(eid(), "po-1")) is ReleaseOutcome.RELEASED
    assert balance(store) == Balance("USD", pending=D(50), available=D(70))
    again = await release_order(store.uow(), ReleaseOrder(eid(), "po-1"))
    assert again is ReleaseOutcome.ALREADY_RELEASED
    assert moves(store) == [("release", "pending", "available", "70.00")]


async def test_the_hold_period_releases_old_credits_only() -> None:
    store = FakeWalletStore(now=datetime(2026, 1, 1))
    await pay(store, "po-old", "10.00")
    store.now = datetime(2026, 1, 9)
    await pay(store, "po-new", "20.00")
    released = await release_due(store.uow, 7 * 24 * 3600, now=lambda: datetime(2026, 1, 9))
    assert released == 1
    assert balance(store) == Balance("USD", pending=D(20), available=D(10))
    assert await release_due(store.uow, 7 * 24 * 3600, now=lambda: datetime(2026, 1, 9)) == 0
    later = datetime(2026, 1, 9) + timedelta(days=8)
    assert await release_due(store.uow, 7 * 24 * 3600, now=lambda: later) == 1


async def test_a_refund_of_a_released_order_may_leave_debt_settled_by_the_next_credit() -> None:
    store = FakeWalletStore()
    await pay(store, "po-1", "100.00")
    await release_order(store.uow(), ReleaseOrder(eid(), "po-1"))
    await pay(store, "po-2", "20.00")
    await reserve_funds(store.uow(), "payout-1", SELLER, "90.00", "USD")
    await refund(store, "po-1", "25.00")
    assert balance(store) == Balance(
        "USD", pending=D(20), available=D(0), reserved=D(90), debt=D(15)
    )
    await pay(store, "po-3", "40.00")
    assert balance(store) == Balance("USD", pending=D(45), reserved=D(90))
    assert moves(store)[-3:] == [
        ("refund_from_available", "available", "pending", "10.00"),
        ("refund_to_debt", "debt", "pending", "15.00"),
        ("debt_settled", "pending", "debt", "15.00"),
    ]


async def test_holds_never_take_more_than_available_and_are_idempotent() -> None:
    store = FakeWalletStore()
    await pay(store, "po-1", "100.00")
    await release_order(store.uow(), ReleaseOrder(eid(), "po-1"))
    with pytest.raises(ServiceError) as err:
        await reserve_funds(store.uow(), "p-1", SELLER, "100.01", "USD")
    assert (err.value.code, err.value.reason) == (
        Code.FAILED_PRECONDITION,
        "INSUFFICIENT_FUNDS",
    )
    assert err.value.metadata["available"] == "100.00"
    with pytest.raises(ServiceError) as err:
        await reserve_funds(store.uow(), "p-1", SELLER, "", "EUR")
    assert err.value.reason == "NO_BALANCE_IN_CURRENCY"
    with pytest.raises(ServiceError) as err:
        await reserve_funds(store.uow(), "p-1", SELLER, "1.001", "USD")
    assert err.value.code == Code.INVALID_ARGUMENT

    hold = await reserve_funds(store.uow(), "p-1", SELLER, "60.00", "USD")
    assert await reserve_funds(store.uow(), "p-1", SELLER, "60.00", "USD") == hold
    everything = await reserve_funds(store.uow(), "p-2", SELLER, "", "USD")
    assert everything.amount == D(40)
    with pytest.raises(ServiceError) as err:
        await reserve_funds(store.uow(), "p-3", SELLER, "", "USD")
    assert (err.value.reason, err.value.metadata["available"]) == ("INSUFFICIENT_FUNDS", "0.00")
    assert balance(store) == Balance("USD", reserved=D(100))

    assert (await settle_hold(store.uow(), "p-1", "capture")).status is HoldStatus.CAPTURED
    assert (await settle_hold(store.uow(), "p-1", "capture")).status is HoldStatus.CAPTURED
    assert (await settle_hold(store.uow(), "p-2", "release_hold")).status is HoldStatus.RELEASED
    assert balance(store) == Balance("USD", available=D(40))
    with pytest.raises(ServiceError) as err:
        await settle_hold(store.uow(), "p-2", "capture")
    assert err.value.reason == "HOLD_NOT_IN_STATE"
    await settle_hold(store.uow(), "p-1", "return")
    assert balance(store) == Balance("USD", available=D(100))
    with pytest.raises(ServiceError) as err:
        await settle_hold(store.uow(), "nope", "capture")
    assert err.value.code == Code.NOT_FOUND


def test_a_hold_steps_once_and_only_from_where_it_may() -> None:
    hold = Hold("p", SELLER, "USD", D(5))
    captured, debit, credit = hold.step("capture") or (hold, None, None)
    assert (captured.status, debit, credit) == (
        HoldStatus.CAPTURED,
        Bucket.RESERVED,
        Bucket.PAID_OUT,
    )
    assert captured.step("capture") is None
    with pytest.raises(HoldNotInState):
        captured.step("release_hold")


def test_the_ledger_posts_a_move_between_the_buckets_accounts() -> None:
    move_id = str(uuid.uuid4())
    txn = wallet_moved(move_id, SELLER, usd("12.00"), "pending", "available", "release", "po-1")
    assert txn.transaction_id == move_id
    assert [(p.account, p.side) for p in txn.postings] == [
        (f"seller_payable:{SELLER}", Side.DEBIT),
        (f"seller_payable_available:{SELLER}", Side.CREDIT),
    ]
    paid = wallet_moved(move_id, SELLER, usd("1.00"), "reserved", "paid_out", "capture", "p")
    assert paid.postings[1].account == "psp_receivable"
    debt = wallet_moved(move_id, SELLER, usd("1.00"), "debt", "pending", "refund_to_debt", "r")
    assert debt.postings[0].account == f"seller_debt:{SELLER}"
    for bad in (("pending", "pending"), ("pending", "nowhere")):
        with pytest.raises(InvalidTransaction):
            wallet_moved(move_id, SELLER, usd("1.00"), *bad, "x", "y")
