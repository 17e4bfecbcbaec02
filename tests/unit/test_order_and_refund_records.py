"""What an order's and a refund's records keep when they move: the time of each change (the
history is the audit trail; the database refuses a change without one) and the PSP's
reference of a failure (docs/mutation-testing.md: these survived mutation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from payment_svc.domain.order import IllegalTransition, OrderStatus, PaymentOrder
from payment_svc.domain.refund import Refund, RefundStatus

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def order() -> PaymentOrder:
    return PaymentOrder.new(
        payment_order_id="po-1",
        checkout_id="co-1",
        seller_account="seller-1",
        amount=Decimal("10.00"),
        currency="USD",
        fee_amount=Decimal("1.00"),
        position=0,
        at=T0,
    )


def test_every_change_of_an_order_is_kept_with_its_time() -> None:
    failed, hosted = order(), order()
    failed.start_execution(T0 + timedelta(seconds=1))
    failed.fail("", T0 + timedelta(seconds=2), "pi_1")
    hosted.await_buyer("cs_1", "https://psp.test/pay/po-1", T0 + timedelta(seconds=3))

    assert [(c.to_status, c.reason, c.occurred_at) for c in failed.history] == [
        (OrderStatus.NOT_STARTED, "created", T0),
        (OrderStatus.EXECUTING, "sent to PSP", T0 + timedelta(seconds=1)),
        (OrderStatus.FAILED, "failed", T0 + timedelta(seconds=2)),
    ]
    assert (failed.updated_at, failed.psp_reference) == (T0 + timedelta(seconds=2), "pi_1")
    assert [(c.to_status, c.occurred_at) for c in hosted.history[1:]] == [
        (OrderStatus.EXECUTING, T0 + timedelta(seconds=3)),
        (OrderStatus.PENDING, T0 + timedelta(seconds=3)),
    ]


def test_an_illegal_transition_names_the_order() -> None:
    done = order()
    done.start_execution(T0)
    done.succeed("pi_1", T0)
    try:
        done.start_execution(T0)
    except IllegalTransition as err:
        assert (err.payment_order_id, err.current, err.target) == (
            "po-1",
            OrderStatus.SUCCESS,
            OrderStatus.EXECUTING,
        )
    else:
        raise AssertionError("SUCCESS -> EXECUTING was allowed")


def refund() -> Refund:
    return Refund("rf-1", "po-1", "seller-1", Decimal("5.00"), Decimal("0.50"), "USD", T0, T0)


def test_a_finished_refund_keeps_its_time_and_the_psp_s_reference() -> None:
    succeeded, failed = refund(), refund()
    succeeded.succeed("re_1", T0 + timedelta(seconds=1))
    failed.fail("declined", T0 + timedelta(seconds=2), "re_2")

    assert (succeeded.status, succeeded.psp_reference, succeeded.updated_at) == (
        RefundStatus.SUCCEEDED,
        "re_1",
        T0 + timedelta(seconds=1),
    )
    assert (failed.status, failed.failure_reason, failed.psp_reference, failed.updated_at) == (
        RefundStatus.FAILED,
        "declined",
        "re_2",
        T0 + timedelta(seconds=2),
    )
