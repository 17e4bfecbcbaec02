"""Payouts in `paymesh chaos`'s traffic: once the checkouts are sent (the remaining kills still
firing), release every accepted order, register each seller with a sandbox connected account
and pay it out everything available, over REST, retrying a retryable answer with the same
Idempotency-Key and payout id, as a marketplace would. The verdict then waits for the payouts
to be final and `paymesh check` compares them with the provider's (one payout per payout id)
and holds with payouts."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx

from paymesh_cli.chaos_clients import RETRYABLE_STATUSES, Checkout

# Payouts not final yet (the verdict waits for them).
UNSETTLED_PAYOUTS = "status IN ('REQUESTED', 'RESERVED', 'SUBMITTED', 'IN_TRANSIT')"


async def _send(
    client: httpx.AsyncClient, method: str, path: str, body: dict, deadline: float
) -> httpx.Response | None:  # type: ignore[type-arg]
    """The first answer that is not retryable (same key on every attempt); None past
    `deadline`."""
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    while time.monotonic() < deadline:
        try:
            response = await client.request(method, path, json=body, headers=headers)
        except httpx.TransportError:
            await asyncio.sleep(0.5)
            continue
        if response.status_code not in RETRYABLE_STATUSES and response.status_code < 500:
            return response
        await asyncio.sleep(0.5)
    return None


async def pay_out_sellers(
    gateway_url: str,
    api_key: str,
    accepted: list[Checkout],
    seed: str,
    give_up_after_s: float,
    say: Callable[[str], None],
) -> list[str]:
    """Release, register and pay out every seller of `accepted`; the payout ids accepted."""
    deadline = time.monotonic() + give_up_after_s
    sellers: dict[str, list[str]] = {}
    for checkout in accepted:
        orders = checkout.body["payment_orders"]
        for order in orders:  # type: ignore[attr-defined]
            sellers.setdefault(order["seller_account"], []).append(order["payment_order_id"])
    payouts: list[str] = []
    async with httpx.AsyncClient(
        base_url=gateway_url,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=httpx.Timeout(20.0, connect=3.0),
    ) as client:
        for seller, order_ids in sorted(sellers.items()):
            for order_id in order_ids:  # a FAILED order is a 422: nothing to release
                await _send(client, "POST", f"/v1/payments/{order_id}/release", {}, deadline)
            destination = "acct_sandboxChaos" + uuid.uuid5(uuid.NAMESPACE_URL, seller).hex[:12]
            await _send(
                client,
                "POST",
                "/v1/sellers",
                {"seller_account": seller, "destination": destination},
                deadline,
            )
            for attempt in range(20):  # the releases reach the wallet asynchronously
                # A refused payout is recorded FAILED: the next attempt is a new payout.
                payout_id = f"chaos-{seed}-{seller}-{attempt}"
                reply = await _send(
                    client,
                    "POST",
                    "/v1/payouts",
                    {"payout_id": payout_id, "seller_account": seller, "currency": "USD"},
                    deadline,
                )
                if reply is not None and reply.status_code == 202:
                    payouts.append(payout_id)
                    break
                await asyncio.sleep(0.5)
    say(f"payouts requested: {len(payouts)} of {len(sellers)} sellers")
    return payouts
