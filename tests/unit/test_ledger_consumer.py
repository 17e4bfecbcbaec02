"""The `ledger-post` consumer's mapping of envelopes to commands, against the fake unit of
work: what cannot be posted is a poison (dead-lettered), never a retry."""

from decimal import Decimal

import pytest

from ledger_svc.entrypoints.consumer import post_handler, to_command
from ledger_svc.service_layer.fakes import FakeLedgerStore
from mesh.events import new_envelope
from mesh.jetstream import Poison
from mesh.money import Money
from paymesh.common.v1 import money_pb2
from paymesh.events.v1 import events_pb2


def succeeded(amount: str = "10.00", fee: str = "1.00", currency: str = "USD", **kw: str):
    payload = events_pb2.PaymentOrderSucceeded(
        payment_order_id=kw.get("order", "po-1"),
        checkout_id="co-1",
        seller_account=kw.get("seller", "seller-1"),
        amount=money_pb2.Money(amount=amount, currency=currency),
        fee=money_pb2.Money(amount=fee, currency=kw.get("fee_currency", currency)),
        psp_reference="ch_1",
    )
    return new_envelope("payment.order.succeeded", "po-1", payload)


async def test_an_event_posts_its_transaction_once() -> None:
    store = FakeLedgerStore()
    env = succeeded()
    handle = post_handler(store.uow)
    await handle(env)
    await handle(env)
    assert len(store.state.transactions) == 1
    cmd = to_command(env)
    assert (cmd.gross, cmd.fee) == (Money(Decimal("10.00"), "USD"), Money(Decimal("1.00"), "USD"))


@pytest.mark.parametrize(
    "env",
    [
        succeeded(fee="10.01"),
        succeeded(fee_currency="EUR"),
        succeeded(seller="bad seller"),
        succeeded(order=""),
        succeeded(amount="1.001"),
        succeeded(fee="-1"),
        new_envelope("payment.order.succeeded", "po-1", events_pb2.PaymentOrderFailed()),
        new_envelope("ledger.posted", "po-1", events_pb2.LedgerPosted()),
    ],
)
async def test_an_event_that_cannot_be_posted_is_poison(env: events_pb2.Envelope) -> None:
    store = FakeLedgerStore()
    with pytest.raises(Poison):
        await post_handler(store.uow)(env)
    assert store.state.entries == []
    assert store.state.inbox == set()
