"""The sandbox as Stripe Connect: connected accounts created and retrieved in Stripe's shape,
transfers and payouts refused for an account it does not know (Stripe's errors, as the stripe
SDK raises them), and payouts' status changes sent as signed Connect events (with `account`)
to the Connect endpoint only, with its own secret; a pending payout may be canceled."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import stripe

from psp_sandbox import SandboxSettings
from psp_sandbox.testing import TEST_API_KEY, in_process, served, webhook_receiver

pytestmark = [
    pytest.mark.unit,
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning"),
]

CONNECT_SECRET = "whsec_unit_connect"


@pytest.fixture
def settings(tmp_path: Path) -> SandboxSettings:
    return SandboxSettings(
        state_file=tmp_path / "psp-sandbox.jsonl",
        connect_webhook_secret=CONNECT_SECRET,
        webhook_retry_base_s=0.05,
        payout_in_transit_after_s=0.1,
        payout_paid_after_s=0.2,
        payout_return_after_s=0.2,
    )


async def wait_until(condition: Callable[[], bool], within_s: float = 30.0) -> None:
    # Generous: payouts advance on the sandbox's ticks, which a loaded machine (the whole suite
    # on two cores) delays; the condition ends the wait as soon as it holds.
    deadline = time.monotonic() + within_s
    while True:
        if condition() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.02)


async def test_accounts_are_created_and_unknown_ones_refused_as_stripe_does(
    settings: SandboxSettings,
) -> None:
    async with served(settings) as base:
        client = stripe.StripeClient(
            TEST_API_KEY, base_addresses={"api": base}, max_network_retries=0
        )
        account = await client.v1.accounts.create_async({"type": "express", "country": "US"})
        assert account.id.startswith("acct_") and account.object == "account"
        assert (account.type, account.payouts_enabled) == ("express", True)
        assert (await client.v1.accounts.retrieve_async(account.id)).id == account.id
        with pytest.raises(stripe.InvalidRequestError) as missing:
            await client.v1.accounts.retrieve_async("acct_nobody1")
        assert missing.value.code == "resource_missing" and missing.value.http_status == 404

        transfer = {"amount": 500, "currency": "usd", "destination": account.id}
        assert (await client.v1.transfers.create_async(transfer)).destination == account.id
        with pytest.raises(stripe.InvalidRequestError) as refused:
            await client.v1.transfers.create_async({**transfer, "destination": "acct_nobody1"})
        assert (refused.value.code, refused.value.param) == ("resource_missing", "destination")
        with pytest.raises(stripe.PermissionError) as no_access:
            await client.v1.payouts.create_async(
                {"amount": 500, "currency": "usd"}, {"stripe_account": "acct_nobody1"}
            )
        assert no_access.value.json_body["error"]["code"] == "account_invalid"
        # The built-in test accounts need no creating.
        built_in = {"stripe_account": "acct_sandboxAnyone"}
        assert await client.v1.payouts.create_async({"amount": 1, "currency": "usd"}, built_in)


async def test_payout_events_go_to_the_connect_endpoint_signed_with_its_secret(
    settings: SandboxSettings,
) -> None:
    async with webhook_receiver() as platform, webhook_receiver() as connect:
        settings = dataclasses.replace(
            settings, webhook_url=platform.url, connect_webhook_url=connect.url
        )
        async with in_process(settings) as client:
            account = (await client.post("/v1/accounts", data={"type": "custom"})).json()["id"]
            on_it = {"Stripe-Account": account}
            paid = await client.post(
                "/v1/payouts", data={"amount": 700, "currency": "usd"}, headers=on_it
            )
            returned = await client.post(
                "/v1/payouts",
                data={"amount": 300, "currency": "usd"},
                headers={"Stripe-Account": "acct_sandboxReturns1"},
            )
            canceled = await client.post(
                "/v1/payouts", data={"amount": 100, "currency": "usd"}, headers=on_it
            )
            cancel = await client.post(f"/v1/payouts/{canceled.json()['id']}/cancel", headers=on_it)
            assert cancel.status_code == 200 and cancel.json()["status"] == "canceled"
            # Every event of the three stories below (4 paid, 6 returned, 3 canceled): the
            # return's last two come `payout_return_after_s` after it was paid.
            await wait_until(lambda: len(connect.received) >= 13)
            late = await client.post(f"/v1/payouts/{paid.json()['id']}/cancel", headers=on_it)
            assert late.status_code == 400

    assert platform.received == []
    events = [
        stripe.Webhook.construct_event(body.decode(), headers["stripe-signature"], CONNECT_SECRET)
        for headers, body in connect.received
    ]

    def story(payout_id: str) -> list[tuple[str, str]]:
        # Sent concurrently: in any order.
        return sorted(
            (e.type, e.data.object.status) for e in events if e.data.object.id == payout_id
        )

    paid_story = [
        ("payout.created", "pending"),
        ("payout.paid", "paid"),
        ("payout.updated", "in_transit"),
        ("payout.updated", "paid"),
    ]
    assert story(paid.json()["id"]) == paid_story
    assert story(returned.json()["id"]) == sorted(
        [*paid_story, ("payout.updated", "failed"), ("payout.failed", "failed")]
    )
    assert story(canceled.json()["id"]) == [
        ("payout.canceled", "canceled"),
        ("payout.created", "pending"),
        ("payout.updated", "canceled"),
    ]
    assert {e.account for e in events} == {account, "acct_sandboxReturns1"}


def test_connect_webhook_settings_come_from_the_environment() -> None:
    settings = SandboxSettings.from_env(
        {
            "PSP_SANDBOX_CONNECT_WEBHOOK_URL": "http://127.0.0.1:1/v1/webhooks/stripe-connect",
            "PSP_SANDBOX_CONNECT_WEBHOOK_SECRET": "whsec_c",
            "PSP_SANDBOX_CONNECT_WEBHOOK_EVENTS": "payout.paid, payout.failed",
        }
    )
    assert settings.connect_webhook_secret == "whsec_c"
    assert settings.connect_webhook_events == {"payout.paid", "payout.failed"}
    with pytest.raises(ValueError, match="CONNECT_WEBHOOK_SECRET"):
        SandboxSettings.from_env({"PSP_SANDBOX_CONNECT_WEBHOOK_SECRET": "nope"})
