"""A succeeded refund reversed in the wallet and in the ledger, with the in-memory units of
work: once per refund, whatever the events, and the two always by the same amount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger_svc.domain import PLATFORM_FEE_REVENUE, PSP_RECEIVABLE, InvalidTransaction, Side
from ledger_svc.service_layer.fakes import FakeLedgerStore
from ledger_svc.service_layer.refunds import PostRefund, post_refund
from ledger_svc.service_layer.use_cases import PostOutcome, PostPaymentOrder, post_payment_order
from mesh.events import PAYMENT_REFUND_SUCCEEDED, new_envelope
from mesh.jetstream import Poison
from mesh.money import Money
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2
from wallet_svc.domain import InvalidRefundDebit, RefundDebit
from wallet_svc.entrypoints.refund_consumer import to_refund_command
from wallet_svc.service_layer.fakes import FakeWalletStore
from wallet_svc.service_layer.refunds import (
    CreditNotYetApplied,
    DebitOutcome,
    DebitRefund,
    debit_refund,
)
from wallet_svc.service_layer.use_cases import CreditOrder, credit_seller, get_balances

pytestmark = pytest.mark.unit

D = Decimal
EVENTS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(1, 10)]


def usd(amount: str) -> Money:
    return Money(D(amount), "USD")


def debit(
    event: str = EVENTS[1], refund_id: str = "rf_1", amount: str = "30.00", fee: str = "3.00"
) -> DebitRefund:
    return DebitRefund(event, refund_id, "po-1", "seller-1", usd(amount), usd(fee))


async def credited_wallet(gross: str = "100.00", fee: str = "10.00") -> FakeWalletStore:
    store = FakeWalletStore()
    await credit_seller(
        store.uow(), CreditOrder(EVENTS[0], "po-1", "seller-1", usd(gross), usd(fee))
    )
    return store


async def balance(store: FakeWalletStore) -> tuple[Decimal, Decimal]:
    [b] = await get_balances(store.uow(), "seller-1")
    return b.pending, b.available


async def test_a_refund_takes_the_net_back_from_pending_once() -> None:
    store = await credited_wallet()
    assert await debit_refund(store.uow(), debit()) is DebitOutcome.DEBITED
    assert await balance(store) == (D("63.00"), D("0"))  # 90.00 - (30.00 - 3.00)
    # The same event again, and another event of the same refund: no second debit.
    assert await debit_refund(store.uow(), debit()) is DebitOutcome.DUPLICATE_EVENT
    assert await debit_refund(store.uow(), debit(EVENTS[2])) is DebitOutcome.ALREADY_DEBITED
    assert await balance(store) == (D("63.00"), D("0"))


async def test_what_pending_cannot_cover_is_owed_from_available() -> None:
    store = await credited_wallet()
    # Two refunds use up pending; the third (the wallet does not judge the order's limit,
    # payment_svc does) finds nothing there nor in available: the seller owes it (debt).
    await debit_refund(store.uow(), debit(refund_id="rf_1", amount="80.00", fee="8.00"))
    await debit_refund(store.uow(), debit(EVENTS[2], refund_id="rf_2", amount="20.00", fee="2.00"))
    assert await balance(store) == (D("0"), D("0"))
    await debit_refund(store.uow(), debit(EVENTS[3], refund_id="rf_3", amount="5.00", fee="0.50"))
    assert await balance(store) == (D("0"), D("0"))
    assert store.state.balances[("seller-1", "USD")].debt == D("4.50")
    _, split = store.state.refund_debits["rf_3"]
    assert (split.from_pending, split.from_available, split.to_debt) == (D("0"), D("0"), D("4.50"))


async def test_a_refund_before_its_credit_waits_for_it() -> None:
    store = FakeWalletStore()
    with pytest.raises(CreditNotYetApplied):
        await debit_refund(store.uow(), debit())
    assert store.state.inbox == set()  # nothing kept: the redelivery is handled afresh


def refund_envelope(amount: str, fee: str, currency: str = "USD") -> events_pb2.Envelope:
    payload = events_pb2.PaymentRefundSucceeded(
        refund_id="rf_1",
        payment_order_id="po-1",
        seller_account="seller-1",
        amount=money_pb2.Money(amount=amount, currency=currency),
        fee_refunded=money_pb2.Money(amount=fee, currency=currency),
        psp_reference="re_1",
    )
    return new_envelope(PAYMENT_REFUND_SUCCEEDED, "rf_1", payload, event_id=EVENTS[4])


def test_the_consumer_reads_the_event_and_refuses_impossible_ones() -> None:
    cmd = to_refund_command(refund_envelope("30.00", "3.00"))
    assert (cmd.refund_id, cmd.amount, cmd.fee_refunded) == ("rf_1", usd("30.00"), usd("3.00"))
    for amount, fee in (("0", "0"), ("1.00", "2.00"), ("1.001", "0")):
        with pytest.raises(Poison):
            to_refund_command(refund_envelope(amount, fee))
    with pytest.raises(InvalidRefundDebit):
        RefundDebit("rf_1", "po-1", "bad seller!", usd("1.00"), usd("0"))


# --- ledger -------------------------------------------------------------------------------


def post(
    event: str = EVENTS[1], refund_id: str = "rf_1", amount: str = "30.00", fee: str = "3.00"
) -> PostRefund:
    return PostRefund(event, refund_id, "po-1", "seller-1", usd(amount), usd(fee))


async def booked_ledger() -> FakeLedgerStore:
    store = FakeLedgerStore()
    await post_payment_order(
        store.uow(), PostPaymentOrder(EVENTS[0], "po-1", "seller-1", usd("100.00"), usd("10.00"))
    )
    return store


def balances(store: FakeLedgerStore) -> dict[str, tuple[Decimal, Decimal]]:
    return {account: sums for (account, _), sums in store.state.balances.items()}


async def test_a_refund_posts_one_balanced_reversal() -> None:
    store = await booked_ledger()
    assert await post_refund(store.uow(), post()) is PostOutcome.POSTED
    assert await post_refund(store.uow(), post()) is PostOutcome.DUPLICATE_EVENT
    assert await post_refund(store.uow(), post(EVENTS[2])) is PostOutcome.ALREADY_POSTED

    [reversal] = [t for t in store.state.transactions.values() if t.refund_id == "rf_1"]
    assert {(p.account, p.side, p.amount) for p in reversal.postings} == {
        ("seller_payable:seller-1", Side.DEBIT, D("27.00")),
        (PLATFORM_FEE_REVENUE, Side.DEBIT, D("3.00")),
        (PSP_RECEIVABLE, Side.CREDIT, D("30.00")),
    }
    assert balances(store) == {
        PSP_RECEIVABLE: (D("100.00"), D("30.00")),
        "seller_payable:seller-1": (D("27.00"), D("90.00")),
        PLATFORM_FEE_REVENUE: (D("3.00"), D("10.00")),
    }
    assert store.state.outbox[-1].payment_order_id == "po-1"  # only the payment's ledger.posted


async def test_a_full_refund_in_parts_brings_every_account_back_to_zero() -> None:
    store = await booked_ledger()
    await post_refund(store.uow(), post(EVENTS[1], "rf_1", "30.00", "3.00"))
    await post_refund(store.uow(), post(EVENTS[2], "rf_2", "70.00", "7.00"))
    assert all(debits == credits for debits, credits in balances(store).values())


async def test_a_refund_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(InvalidTransaction):
        await post_refund(FakeLedgerStore().uow(), post(amount="1.00", fee="2.00"))
