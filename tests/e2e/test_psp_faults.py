"""Every failure mode of the PSP, reproduced with the sandbox, ends in the right final state, with
the money invariants holding (`paymesh check` after each test): slow answers, 500s, timeouts, a
response lost after the charge, declines of several kinds, 3-D Secure finished later (by
webhook), and webhooks duplicated, reordered, delayed or dropped (then the sweeper polls)."""

from __future__ import annotations

import httpx
import pytest
from devstack import check, dev_stack, new_order, pay, wait_done

pytestmark = pytest.mark.e2e

SUCCESS, FAILED = "PAYMENT_ORDER_STATUS_SUCCESS", "PAYMENT_ORDER_STATUS_FAILED"
# Short PSP timeout and an eager sweeper, so that timeouts and dropped webhooks resolve fast.
STACK_ENV = {"PSP_TIMEOUT_S": "2", "SWEEPER_INTERVAL_S": "1", "SWEEPER_STUCK_AFTER_S": "3"}
BASE_FAULTS = {"seed": 11, "timeout_ms": 4000, "slow_ms": 800, "requires_action_after_ms": 500}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with dev_stack(tmp_path_factory.mktemp("faults") / "data", STACK_ENV) as running:
        yield running


@pytest.fixture
def sandbox(stack):
    """The sandbox's admin API, with this test's faults set and reset after."""
    info = stack.stack_info()
    client = httpx.Client(
        base_url=info["psp_api_base"],
        headers={"Authorization": f"Bearer {info['psp_api_key']}"},
        timeout=10,
    )

    def set_faults(**faults: object) -> None:
        response = client.post("/_sandbox/faults", json={**BASE_FAULTS, **faults})
        assert response.status_code == 200, response.text

    set_faults()
    yield set_faults
    client.delete("/_sandbox/faults")
    client.close()


@pytest.fixture(autouse=True)
def money_invariants_hold_after_each_test(stack):
    yield
    assert check(stack)["ok"]


def settled(stack, payment_method: str, timeout: float = 45) -> dict:
    body, response = pay(stack.client, [new_order()], payment_method=payment_method)
    assert response.status_code == 202, response.text
    return wait_done(stack.client, body["checkout_id"], timeout)["payment_orders"][0]


@pytest.mark.parametrize(
    "payment_method",
    [
        "pm_card_sandbox_slow",
        "pm_card_sandbox_serverErrorOnce",
        "pm_card_sandbox_timeoutOnce",
        "pm_card_sandbox_lostResponseOnce",
    ],
)
def test_a_psp_that_is_slow_fails_or_loses_the_answer_still_charges_once(
    stack, sandbox, payment_method
):
    order = settled(stack, payment_method)

    assert order["status"] == SUCCESS, order
    assert order["psp_reference"].startswith("pi_")


@pytest.mark.parametrize(
    ("payment_method", "reason"),
    [
        ("pm_card_chargeDeclinedLostCard", "lost_card"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc"),
        ("pm_card_chargeDeclinedFraudulent", "fraudulent"),
    ],
)
def test_each_kind_of_decline_fails_the_order_with_its_code(stack, sandbox, payment_method, reason):
    order = settled(stack, payment_method)

    assert (order["status"], order["failure_reason"]) == (FAILED, reason)


@pytest.mark.parametrize(
    ("payment_method", "status"),
    [
        ("pm_card_sandbox_threeDSecureSucceedsLater", SUCCESS),
        ("pm_card_sandbox_threeDSecureFailsLater", FAILED),
    ],
)
def test_three_d_secure_finished_later_is_settled_by_the_webhook(
    stack, sandbox, payment_method, status
):
    order = settled(stack, payment_method)

    assert order["status"] == status
    assert any(h["to_status"] == "PAYMENT_ORDER_STATUS_PENDING" for h in order["history"]), (
        "the order waited PENDING for the buyer"
    )


@pytest.mark.parametrize(
    "webhook_fault",
    [
        {"webhook_duplicate_rate": 1.0},
        {"webhook_reorder_rate": 1.0},
        {"webhook_delay_rate": 1.0, "webhook_delay_ms": 1500},
        {"webhook_drop_rate": 1.0},
    ],
    ids=["duplicated", "reordered", "delayed", "dropped"],
)
def test_webhooks_duplicated_reordered_delayed_or_dropped_settle_right(
    stack, sandbox, webhook_fault
):
    sandbox(**webhook_fault)

    succeeded = settled(stack, "pm_card_sandbox_threeDSecureSucceedsLater")
    failed = settled(stack, "pm_card_sandbox_threeDSecureFailsLater")

    assert (succeeded["status"], failed["status"]) == (SUCCESS, FAILED)
