"""The payment order state machine and the checkout's done rule."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from payment_svc.domain.checkout import Checkout, is_payment_done
from payment_svc.domain.order import (
    ALLOWED,
    IllegalTransition,
    OrderStatus,
    PaymentOrder,
    StatusChange,
)

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 1, tzinfo=UTC)
S = OrderStatus
LEGAL = {
    (S.NOT_STARTED, S.EXECUTING),
    (S.EXECUTING, S.SUCCESS),
    (S.EXECUTING, S.FAILED),
    (S.EXECUTING, S.PENDING),
    (S.PENDING, S.SUCCESS),
    (S.PENDING, S.FAILED),
}
ALL_PAIRS = list(itertools.product(OrderStatus, OrderStatus))


def order(status: OrderStatus = S.NOT_STARTED, **kw: object) -> PaymentOrder:
    o = PaymentOrder.new(
        payment_order_id=str(kw.pop("payment_order_id", "po_1")),
        checkout_id="co_1",
        seller_account="seller_1",
        amount=Decimal("10.00"),
        currency="USD",
        fee_amount=Decimal("1.00"),
        position=0,
        at=T0,
    )
    o.status = status
    for key, value in kw.items():
        setattr(o, key, value)
    return o


def test_the_table_is_exactly_the_documented_machine() -> None:
    assert {(a, b) for a, targets in ALLOWED.items() for b in targets} == LEGAL


def test_a_new_order_starts_its_history_with_its_creation() -> None:
    o = order()
    assert o.status is S.NOT_STARTED
    assert o.attempts == 0
    assert o.history == [StatusChange("po_1", None, S.NOT_STARTED, "created", T0)]


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL, key=str))
def test_legal_transitions_move_and_append_to_history(
    current: OrderStatus, target: OrderStatus
) -> None:
    o = order(current)
    at = T0 + timedelta(seconds=5)

    change = o.transition(target, reason="because", at=at)

    assert o.status is target
    assert o.updated_at == at
    assert change == StatusChange("po_1", current, target, "because", at)
    assert o.history[-1] == change
    assert len(o.history) == 2


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p not in LEGAL], ids=str)
def test_every_other_transition_is_illegal_and_changes_nothing(
    current: OrderStatus, target: OrderStatus
) -> None:
    o = order(current)

    with pytest.raises(IllegalTransition) as info:
        o.transition(target, reason="nope", at=T0)

    assert (info.value.current, info.value.target) == (current, target)
    assert o.status is current
    assert len(o.history) == 1


@pytest.mark.parametrize("status", [S.SUCCESS, S.FAILED])
def test_terminal_states_are_terminal(status: OrderStatus) -> None:
    assert status.is_terminal
    assert not ALLOWED[status]


@pytest.mark.parametrize("status", [S.NOT_STARTED, S.EXECUTING, S.PENDING])
def test_other_states_are_not_terminal(status: OrderStatus) -> None:
    assert not status.is_terminal


def test_execution_counts_attempts_and_outcomes_keep_their_details() -> None:
    o = order()
    o.start_execution(T0)
    assert (o.status, o.attempts) == (S.EXECUTING, 1)

    o.wait_for_psp("pi_1", T0)
    assert (o.status, o.psp_reference) == (S.PENDING, "pi_1")

    o.succeed("pi_1", T0)
    assert (o.status, o.psp_reference) == (S.SUCCESS, "pi_1")
    assert [c.to_status for c in o.history] == [S.NOT_STARTED, S.EXECUTING, S.PENDING, S.SUCCESS]


def test_a_failure_keeps_its_reason() -> None:
    o = order(S.EXECUTING)
    change = o.fail("insufficient_funds", T0, psp_reference="pi_9")
    assert (o.status, o.failure_reason, o.psp_reference) == (
        S.FAILED,
        "insufficient_funds",
        "pi_9",
    )
    assert change.reason == "insufficient_funds"


def test_a_second_start_is_refused() -> None:
    o = order()
    o.start_execution(T0)
    with pytest.raises(IllegalTransition):
        o.start_execution(T0)
    assert o.attempts == 1


# --- is_payment_done -------------------------------------------------------------------


def orders(*specs: tuple[OrderStatus, bool, bool]) -> list[PaymentOrder]:
    return [
        order(status, payment_order_id=f"po_{i}", wallet_updated=w, ledger_updated=le)
        for i, (status, w, le) in enumerate(specs)
    ]


@pytest.mark.parametrize(
    ("specs", "done"),
    [
        ([(S.SUCCESS, True, True)], True),
        ([(S.FAILED, False, False)], True),
        ([(S.SUCCESS, True, True), (S.FAILED, False, False)], True),
        ([(S.SUCCESS, True, True), (S.SUCCESS, True, True)], True),
        ([(S.SUCCESS, True, False)], False),
        ([(S.SUCCESS, False, True)], False),
        ([(S.SUCCESS, False, False)], False),
        ([(S.SUCCESS, True, True), (S.PENDING, False, False)], False),
        ([(S.SUCCESS, True, True), (S.EXECUTING, False, False)], False),
        ([(S.FAILED, False, False), (S.NOT_STARTED, False, False)], False),
        ([], False),
    ],
)
def test_is_payment_done(specs: list[tuple[OrderStatus, bool, bool]], done: bool) -> None:
    assert is_payment_done(orders(*specs)) is done


def test_checkout_refresh_done_reports_a_change() -> None:
    checkout = Checkout(
        "co_1", "buyer_1", "pm_card_visa", T0, orders=orders((S.FAILED, False, False))
    )
    assert checkout.refresh_done() is True
    assert checkout.is_payment_done
    assert checkout.refresh_done() is False
