"""The ledger's use cases against the in-memory unit of work."""

from decimal import Decimal

import pytest

from ledger_svc.domain import (
    PLATFORM_FEE_REVENUE,
    PSP_RECEIVABLE,
    InvalidTransaction,
    LedgerPosted,
    Posting,
    Side,
    Transaction,
    UnbalancedTransaction,
)
from ledger_svc.service_layer.fakes import FakeLedgerStore
from ledger_svc.service_layer.page_tokens import decode_page_token, encode_page_token
from ledger_svc.service_layer.use_cases import (
    PostOutcome,
    PostPaymentOrder,
    get_account_balance,
    list_entries,
    post_payment_order,
    post_transaction,
    trial_balance,
)
from mesh.errors import Code, ServiceError
from mesh.money import Money

D = Decimal
EVENT_1 = "00000000-0000-4000-8000-000000000001"
EVENT_2 = "00000000-0000-4000-8000-000000000002"


def order(event_id: str = EVENT_1, order_id: str = "po-1", gross: str = "100.00", fee: str = "3"):
    return PostPaymentOrder(
        event_id=event_id,
        payment_order_id=order_id,
        seller_account="seller-1",
        gross=Money(D(gross), "USD"),
        fee=Money(D(fee), "USD"),
    )


async def test_posting_an_order_writes_one_balanced_transaction_and_its_event() -> None:
    store = FakeLedgerStore()
    assert await post_payment_order(store.uow(), order()) is PostOutcome.POSTED
    state = store.state
    assert len(state.transactions) == 1
    assert len(state.entries) == 3
    [event] = state.outbox
    assert isinstance(event, LedgerPosted)
    assert event.payment_order_id == "po-1"
    assert event.transaction_id in state.transactions
    assert state.balances[(PSP_RECEIVABLE, "USD")] == (D("100.00"), D(0))
    assert state.balances[("seller_payable:seller-1", "USD")] == (D(0), D("97.00"))
    assert state.balances[(PLATFORM_FEE_REVENUE, "USD")] == (D(0), D("3"))


async def test_the_same_event_twice_posts_once() -> None:
    store = FakeLedgerStore()
    assert await post_payment_order(store.uow(), order()) is PostOutcome.POSTED
    assert await post_payment_order(store.uow(), order()) is PostOutcome.DUPLICATE_EVENT
    assert len(store.state.transactions) == 1
    assert len(store.state.outbox) == 1


async def test_another_event_for_a_posted_order_has_no_effect() -> None:
    store = FakeLedgerStore()
    await post_payment_order(store.uow(), order(EVENT_1))
    outcome = await post_payment_order(store.uow(), order(EVENT_2, gross="999.00"))
    assert outcome is PostOutcome.ALREADY_POSTED
    assert len(store.state.entries) == 3
    assert len(store.state.outbox) == 1
    assert store.state.balances[(PSP_RECEIVABLE, "USD")] == (D("100.00"), D(0))
    # ...but the event is recorded as handled.
    assert ("ledger-post", EVENT_2) in store.state.inbox


async def test_an_impossible_order_is_refused_before_anything_is_written() -> None:
    store = FakeLedgerStore()
    with pytest.raises(InvalidTransaction):
        await post_payment_order(store.uow(), order(fee="100.01"))
    assert store.state.inbox == set()
    assert store.state.entries == []


async def test_posting_a_tampered_unbalanced_transaction_is_refused() -> None:
    store = FakeLedgerStore()
    txn = Transaction(
        "t1",
        "x",
        (
            Posting(PSP_RECEIVABLE, Side.DEBIT, D(5), "USD"),
            Posting(PLATFORM_FEE_REVENUE, Side.CREDIT, D(5), "USD"),
        ),
    )
    object.__setattr__(txn, "postings", txn.postings[:1])
    with pytest.raises(UnbalancedTransaction):
        await post_transaction(store.uow(), "test", EVENT_1, txn)
    assert store.state.entries == []


async def test_account_balance_on_the_normal_side_and_not_found() -> None:
    store = FakeLedgerStore()
    await post_payment_order(store.uow(), order())
    side, [usd] = await get_account_balance(store.uow(), "seller_payable:seller-1")
    assert side is Side.CREDIT
    assert usd.balance == D("97.00")
    side, [psp] = await get_account_balance(store.uow(), PSP_RECEIVABLE)
    assert side is Side.DEBIT
    assert psp.balance == D("100.00")
    _, [eur] = await get_account_balance(store.uow(), PSP_RECEIVABLE, "EUR")
    assert (eur.currency, eur.debits, eur.credits) == ("EUR", D(0), D(0))
    for account in ("seller_payable:nobody", "no_such_account"):
        with pytest.raises(ServiceError) as info:
            await get_account_balance(store.uow(), account)
        assert info.value.code is Code.NOT_FOUND


async def test_entries_page_newest_first() -> None:
    store = FakeLedgerStore()
    for i in range(5):
        event_id = f"00000000-0000-4000-8000-00000000010{i}"
        await post_payment_order(store.uow(), order(event_id, f"po-{i}"))
    seen: list[int] = []
    token = ""
    while True:
        page, token = await list_entries(store.uow(), PSP_RECEIVABLE, 2, token)
        seen += [e.entry_id for e in page]
        if not token:
            break
    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)


async def test_a_bad_page_token_is_an_invalid_argument() -> None:
    store = FakeLedgerStore()
    for token in ("garbage", "bm9wZQ", encode_page_token(1)[:-1] + "!"):
        with pytest.raises(ServiceError) as info:
            await list_entries(store.uow(), PSP_RECEIVABLE, 10, token)
        assert info.value.code is Code.INVALID_ARGUMENT
        assert info.value.violations[0].field == "page_token"


def test_page_tokens_round_trip() -> None:
    assert decode_page_token(encode_page_token(123456789)) == 123456789


async def test_trial_balance_is_even() -> None:
    store = FakeLedgerStore()
    await post_payment_order(store.uow(), order())
    [usd] = await trial_balance(store.uow())
    assert usd.debits == usd.credits == D("100.00")
    assert usd.balanced
