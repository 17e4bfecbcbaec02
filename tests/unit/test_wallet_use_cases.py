"""The wallet's use cases against the in-memory unit of work, and the consumer's mapping of
envelopes to commands."""

from decimal import Decimal

import pytest

from mesh.errors import Code, ServiceError
from mesh.events import new_envelope
from mesh.jetstream import Poison
from mesh.money import Money
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2
from wallet_svc.domain import InvalidCredit, WalletCredited
from wallet_svc.entrypoints.consumer import credit_handler, to_command
from wallet_svc.service_layer.fakes import FakeWalletStore
from wallet_svc.service_layer.use_cases import (
    CreditOrder,
    CreditOutcome,
    credit_seller,
    get_balances,
)

D = Decimal
EVENT_1 = "00000000-0000-4000-8000-000000000001"
EVENT_2 = "00000000-0000-4000-8000-000000000002"


def order(
    event_id: str = EVENT_1, order_id: str = "po-1", gross: str = "100.00", fee: str = "3.00"
) -> CreditOrder:
    return CreditOrder(
        event_id=event_id,
        payment_order_id=order_id,
        seller_account="seller-1",
        gross=Money(D(gross), "USD"),
        fee=Money(D(fee), "USD"),
    )


async def test_a_credit_goes_to_pending_net_of_fee_with_its_event() -> None:
    store = FakeWalletStore()
    assert await credit_seller(store.uow(), order()) is CreditOutcome.CREDITED
    [balance] = await get_balances(store.uow(), "seller-1")
    assert (balance.pending, balance.available, balance.reserved) == (D("97.00"), 0, 0)
    assert store.state.outbox == [WalletCredited("po-1", "seller-1", Money(D("97.00"), "USD"))]


async def test_the_same_event_twice_credits_once() -> None:
    store = FakeWalletStore()
    assert await credit_seller(store.uow(), order()) is CreditOutcome.CREDITED
    assert await credit_seller(store.uow(), order()) is CreditOutcome.DUPLICATE_EVENT
    [balance] = await get_balances(store.uow(), "seller-1")
    assert balance.pending == D("97.00")
    assert len(store.state.credits) == 1
    assert len(store.state.outbox) == 1


async def test_another_event_for_a_credited_order_has_no_effect() -> None:
    store = FakeWalletStore()
    await credit_seller(store.uow(), order(EVENT_1))
    outcome = await credit_seller(store.uow(), order(EVENT_2, gross="500.00"))
    assert outcome is CreditOutcome.ALREADY_CREDITED
    [balance] = await get_balances(store.uow(), "seller-1")
    assert balance.pending == D("97.00")
    assert len(store.state.outbox) == 1
    assert ("wallet-credit", EVENT_2) in store.state.inbox


async def test_credits_add_up_per_currency() -> None:
    store = FakeWalletStore()
    await credit_seller(store.uow(), order(EVENT_1, "po-1", "10.00", "1.00"))
    await credit_seller(store.uow(), order(EVENT_2, "po-2", "20.00", "2.00"))
    eur = CreditOrder(
        "00000000-0000-4000-8000-000000000003",
        "po-3",
        "seller-1",
        Money(D("5"), "EUR"),
        Money(D("0"), "EUR"),
    )
    await credit_seller(store.uow(), eur)
    balances = await get_balances(store.uow(), "seller-1")
    assert [(b.currency, b.pending) for b in balances] == [("EUR", D("5")), ("USD", D("27.00"))]
    [only] = await get_balances(store.uow(), "seller-1", "USD")
    assert only.currency == "USD"
    [none] = await get_balances(store.uow(), "seller-1", "JPY")
    assert (none.currency, none.total) == ("JPY", 0)


async def test_an_impossible_credit_is_refused_before_anything_is_written() -> None:
    store = FakeWalletStore()
    with pytest.raises(InvalidCredit):
        await credit_seller(store.uow(), order(fee="100.01"))
    assert store.state.inbox == set()


async def test_an_unknown_seller_is_not_found_and_a_bad_currency_invalid() -> None:
    store = FakeWalletStore()
    with pytest.raises(ServiceError) as info:
        await get_balances(store.uow(), "nobody")
    assert info.value.code is Code.NOT_FOUND
    with pytest.raises(ServiceError) as info:
        await get_balances(store.uow(), "nobody", "XXY")
    assert info.value.code is Code.INVALID_ARGUMENT


def succeeded(amount: str = "10.00", fee: str = "1.00", currency: str = "USD", **kw):
    payload = events_pb2.PaymentOrderSucceeded(
        payment_order_id=kw.get("order", "po-1"),
        checkout_id="co-1",
        seller_account=kw.get("seller", "seller-1"),
        amount=money_pb2.Money(amount=amount, currency=currency),
        fee=money_pb2.Money(amount=fee, currency=kw.get("fee_currency", currency)),
        psp_reference="ch_1",
    )
    return new_envelope("payment.order.succeeded", "po-1", payload)


def test_an_envelope_maps_to_a_credit_command() -> None:
    env = succeeded()
    cmd = to_command(env)
    assert cmd.event_id == env.event_id
    assert (cmd.gross, cmd.fee) == (Money(D("10.00"), "USD"), Money(D("1.00"), "USD"))


@pytest.mark.parametrize(
    "env",
    [
        succeeded(amount="10.001"),
        succeeded(amount="-1"),
        succeeded(amount="0"),
        succeeded(amount="1e3"),
        succeeded(currency="XXY"),
        new_envelope("payment.order.succeeded", "po-1", events_pb2.PaymentOrderFailed()),
        new_envelope("payment.order.failed", "po-1", events_pb2.PaymentOrderFailed()),
        new_envelope(
            "payment.order.succeeded", "po-1", events_pb2.PaymentOrderSucceeded(), event_id="x"
        ),
    ],
)
def test_an_undecodable_event_is_poison(env: events_pb2.Envelope) -> None:
    with pytest.raises(Poison):
        to_command(env)


@pytest.mark.parametrize(
    "env", [succeeded(fee="10.01"), succeeded(fee_currency="EUR"), succeeded(seller="bad seller")]
)
async def test_an_event_breaking_the_credit_rule_is_poison(env: events_pb2.Envelope) -> None:
    store = FakeWalletStore()
    with pytest.raises(Poison):
        await credit_handler(store.uow)(env)
    assert store.state.credits == {}
