"""Refund paths that mutation testing found untested (docs/mutation-testing.md): a key reused
after it expired, and a refund the PSP rejects outright."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import test_refunds
from test_refunds import KEYS, Shop

from mesh.errors import Code, ServiceError
from payment_svc.domain.psp_refunds import RefundOutcomeStatus
from payment_svc.domain.refund import RefundStatus
from payment_svc.domain.refund_events import RefundFailed
from payment_svc.service_layer.execute_refund import RefundExecution, sweep_stuck_refunds
from payment_svc.service_layer.refunds import get_refund

shop = test_refunds.shop  # a paid order po_1 of 100.00 USD, fee 10.00


async def test_a_key_reused_after_it_expired_is_refused_not_refunded_twice(shop: Shop) -> None:
    refund_id = json.loads((await shop.refund("25.00", KEYS[5])).response)[0]
    del shop.store.state.idempotency[("", KEYS[5])]  # the key expired and was purged

    with pytest.raises(ServiceError) as refused:
        await shop.refund("25.00", KEYS[5])

    assert (refused.value.code, refused.value.reason) == (
        Code.ALREADY_EXISTS,
        "ALREADY_EXISTS",
    )
    assert refused.value.metadata == {"ids": refund_id}
    assert list(shop.store.state.refunds) == [refund_id]
    # The refusal is the key's answer now, given again to a retry.
    with pytest.raises(ServiceError) as again:
        await shop.refund("25.00", KEYS[5])
    assert (again.value.reason, again.value.replayed) == ("ALREADY_EXISTS", True)


async def test_a_refund_the_psp_rejects_fails_with_its_reason_and_frees_its_amount(
    shop: Shop,
) -> None:
    refund_id = json.loads((await shop.refund("", KEYS[5])).response)[0]
    created = (await get_refund(refund_id, uow=shop.store.uow)).updated_at
    shop.store.state.orders["po_1"].psp_reference = "pi_unknown"  # nothing there to refund

    assert await shop.execute(refund_id) is RefundExecution.FAILED

    refund = await get_refund(refund_id, uow=shop.store.uow)
    assert refund.status is RefundStatus.FAILED
    assert refund.failure_reason.startswith("psp_rejected: no succeeded charge")
    assert refund.psp_reference == ""
    assert refund.updated_at > created
    assert shop.refund_events()[-1] == RefundFailed(refund_id, "po_1", refund.failure_reason)
    assert shop.psp.refunds == {}
    # Its amount is free again.
    shop.store.state.orders["po_1"].psp_reference = "pi_fake_000001"
    assert (await shop.refund_and_execute("", KEYS[6]))[1] == "100.00"


async def test_a_refusal_names_the_order_it_is_about(shop: Shop) -> None:
    await shop.refund("100.00", KEYS[5])
    with pytest.raises(ServiceError) as refused:
        await shop.refund("0.01", KEYS[6])
    assert (refused.value.reason, refused.value.metadata) == (
        "REFUND_EXCEEDS_REMAINING",
        {"payment_order_id": "po_1"},
    )
    assert "exceeds what remains unrefunded of payment order po_1" in refused.value.message


async def test_a_refund_is_sent_for_its_order_and_timed(shop: Shop) -> None:
    refund_id = json.loads((await shop.refund("30.00", KEYS[5])).response)[0]
    pending = await get_refund(refund_id, uow=shop.store.uow)
    assert pending.created_at == pending.updated_at and pending.created_at is not None

    assert await shop.execute(refund_id) is RefundExecution.SUCCEEDED

    [at_psp] = shop.psp.refunds.values()
    assert (at_psp.request.refund_id, at_psp.request.payment_order_id) == (refund_id, "po_1")
    assert (at_psp.request.amount, at_psp.request.currency) == (Decimal("30.00"), "USD")
    done = await get_refund(refund_id, uow=shop.store.uow)
    assert done.updated_at > pending.updated_at


async def test_an_amount_with_too_many_decimals_names_the_rule(shop: Shop) -> None:
    with pytest.raises(ServiceError) as info:
        await shop.refund("1.001")
    [violation] = info.value.violations
    assert (violation.field, violation.rule) == ("amount", "amount.precision")
    assert "USD" in violation.description


async def test_the_sweeper_reports_a_refund_the_psp_still_holds_as_open(shop: Shop) -> None:
    shop.psp.refund_outcome = RefundOutcomeStatus.PENDING
    held = json.loads((await shop.refund("10.00", KEYS[5])).response)[0]

    report = await sweep_stuck_refunds(
        uow=shop.store.uow, psp=shop.psp, clock=shop.clock, stuck_after=timedelta(0)
    )

    assert (report.still_open, report.settled) == ([held], {})


async def test_a_refund_the_psp_declines_keeps_its_reason_and_reference(shop: Shop) -> None:
    shop.psp.refund_outcome = RefundOutcomeStatus.FAILED
    refund_id = json.loads((await shop.refund("10.00", KEYS[5])).response)[0]

    assert await shop.execute(refund_id) is RefundExecution.FAILED

    refund = await get_refund(refund_id, uow=shop.store.uow)
    assert (refund.failure_reason, refund.psp_reference) == ("declined", "re_fake_000001")
