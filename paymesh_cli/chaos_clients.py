"""The clients of `paymesh chaos`: they POST checkouts the way a careful real client does.

Each checkout gets one Idempotency-Key and one body, both fixed before the first attempt. On a
connection error, a timeout, 429 (after Retry-After), 502, 503 or 504 the client sends the SAME
key and body again, until it gets 202. Any other answer is a wrong answer: the system told a
client something false or unactionable while it was only being crashed. A light reader GETs
what was accepted (checkout, a seller's wallet, the trial balance) meanwhile, held to the same
rule: the right answer or a retryable error.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
DECLINING_CARD = "pm_card_chargeDeclined"
SUCCEEDING_CARD = "pm_card_visa"
MAX_BACKOFF_S = 2.0
READ_EVERY_S = 0.2  # a light reader beside the payers: reads must fail retryably too


@dataclass(frozen=True)
class Checkout:
    """One checkout as a client will send it, and what its orders must end as."""

    checkout_id: str
    idempotency_key: str
    body: dict[str, object]
    order_ids: tuple[str, ...]

    @property
    def declines(self) -> bool:
        return self.body["payment_method"] == DECLINING_CARD


def plan_checkouts(
    rng: random.Random, run_id: str, n: int, max_orders: int, decline_share: float
) -> list[Checkout]:
    """`n` checkouts of 1..`max_orders` orders each; a `decline_share` of them pay with a card
    the sandbox declines (every order FAILED, never charged), the rest with one it accepts."""
    checkouts = []
    for i in range(n):
        checkout_id = f"chaos-{run_id}-{i}"
        orders = [
            {
                "payment_order_id": f"{checkout_id}-{k}",
                "seller_account": f"seller-{rng.randrange(20)}",
                "amount": str(Decimal(rng.randrange(100, 50000)).scaleb(-2)),
                "currency": "USD",
            }
            for k in range(rng.randint(1, max_orders))
        ]
        card = DECLINING_CARD if rng.random() < decline_share else SUCCEEDING_CARD
        body: dict[str, object] = {
            "checkout_id": checkout_id,
            "buyer_info": {"buyer_id": f"buyer-{rng.randrange(200)}"},
            "payment_method": card,
            "payment_orders": orders,
        }
        key = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        ids = tuple(str(o["payment_order_id"]) for o in orders)
        checkouts.append(Checkout(checkout_id, key, body, ids))
    return checkouts


@dataclass
class ClientStats:
    """What the clients saw, for the progress lines and the summary."""

    accepted: list[str] = field(default_factory=list)  # checkout ids, in acceptance order
    finished: int = 0  # checkouts done with, accepted or not (what the kill moments count)
    retries: int = 0
    retried_on: dict[str, int] = field(default_factory=dict)  # "503", "ConnectError", ...
    reads: int = 0  # GETs of accepted checkouts answered 200
    read_retryable: int = 0  # GETs answered with a retryable error while something was down
    wrong_answers: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)  # checkout ids never accepted in time


def _wrong_202(checkout: Checkout, response: httpx.Response) -> str | None:
    """Why a 202 is not the answer to this checkout, or None when it is."""
    try:
        document = response.json()
    except ValueError:
        return "202 with a body that is not JSON"
    stored = document.get("checkout", document) if isinstance(document, dict) else {}
    if not isinstance(stored, dict):
        return "202 without a checkout"
    got_id = stored.get("checkout_id", stored.get("checkoutId"))
    orders = stored.get("payment_orders", stored.get("paymentOrders")) or []
    got_orders = tuple(o.get("payment_order_id", o.get("paymentOrderId")) for o in orders)
    if got_id != checkout.checkout_id or got_orders != checkout.order_ids:
        return f"202 for another checkout: {got_id} {got_orders}"
    return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


async def submit(
    client: httpx.AsyncClient,
    checkout: Checkout,
    stats: ClientStats,
    give_up_after_s: float,
    halted: Callable[[], bool] = lambda: False,
) -> bool:
    """Send the checkout until it is accepted; True when it was (with the right answer).
    Stops retrying when `halted()` says the run is over anyway."""
    deadline = time.monotonic() + give_up_after_s
    headers = {"Idempotency-Key": checkout.idempotency_key}
    attempt = 0
    while True:
        wait: float | None = None
        try:
            response = await client.post("/v1/payments", json=checkout.body, headers=headers)
        except httpx.TransportError as err:  # connection refused/reset, timeouts
            reason = type(err).__name__
        else:
            if response.status_code == 202:
                wrong = _wrong_202(checkout, response)
                if wrong is not None:
                    stats.wrong_answers.append(f"{checkout.checkout_id}: {wrong}")
                    return False
                stats.accepted.append(checkout.checkout_id)
                return True
            if response.status_code not in RETRYABLE_STATUSES:
                stats.wrong_answers.append(
                    f"{checkout.checkout_id}: HTTP {response.status_code} {response.text[:300]}"
                )
                return False
            reason = str(response.status_code)
            wait = _retry_after(response) if response.status_code == 429 else None
        attempt += 1
        stats.retries += 1
        stats.retried_on[reason] = stats.retried_on.get(reason, 0) + 1
        if halted():
            return False
        if time.monotonic() >= deadline:
            stats.gave_up.append(checkout.checkout_id)
            return False
        if wait is None:  # exponential backoff with full jitter, as a polite client does
            wait = random.uniform(0, min(MAX_BACKOFF_S, 0.05 * 2**attempt))
        await asyncio.sleep(min(wait, max(0.0, deadline - time.monotonic())))


def _reads_of(checkout_id: str, seller: str) -> list[tuple[str, frozenset[int]]]:
    """What a reader may GET about an accepted checkout, and the answers that are right. A
    seller's wallet is 404 until its first credit lands, so that is right too."""
    return [
        (f"/v1/checkouts/{checkout_id}", frozenset({200})),
        (f"/v1/wallets/{seller}", frozenset({200, 404})),
        ("/v1/ledger/trial-balance", frozenset({200})),
    ]


async def read_back(client: httpx.AsyncClient, stats: ClientStats, checkout: Checkout) -> None:
    """GET one thing about an accepted checkout: a right answer or a retryable error is fine;
    anything else (a 500 while a dependency is down, a 404 for what was accepted) is not."""
    orders = checkout.body["payment_orders"]
    assert isinstance(orders, list)
    path, right = random.choice(_reads_of(checkout.checkout_id, orders[0]["seller_account"]))
    try:
        response = await client.get(path)
    except httpx.TransportError:
        stats.read_retryable += 1
        return
    if response.status_code in RETRYABLE_STATUSES:
        stats.read_retryable += 1
    elif response.status_code in right:
        stats.reads += 1
    else:
        stats.wrong_answers.append(f"GET {path}: HTTP {response.status_code} {response.text[:300]}")


async def reader(
    client: httpx.AsyncClient, stats: ClientStats, by_id: dict[str, Checkout], every_s: float
) -> None:
    """Until cancelled, read back something of a random accepted checkout every `every_s`."""
    while True:
        await asyncio.sleep(every_s)
        if stats.accepted:
            await read_back(client, stats, by_id[random.choice(stats.accepted)])


Gate = Callable[[int], Awaitable[None]]


async def run_clients(
    base_url: str,
    api_key: str,
    checkouts: list[Checkout],
    stats: ClientStats,
    concurrency: int,
    give_up_after_s: float,
    gate: Gate,
    halted: Callable[[], bool],
) -> None:
    """`concurrency` clients take the checkouts in order, each until it is accepted. Before the
    i-th checkout is sent, `gate(i)` is awaited (chaos holds traffic back there until the kills
    planned before it have happened, so that kills fall among requests in flight). Once
    `halted()` is true, no client sends anything more."""
    queue: asyncio.Queue[tuple[int, Checkout]] = asyncio.Queue()
    for i, checkout in enumerate(checkouts):
        queue.put_nowait((i, checkout))
    # Timeout above the gateway's upstream deadline, so a slow answer is not cut short.
    timeout = httpx.Timeout(20.0, connect=3.0)
    limits = httpx.Limits(max_connections=concurrency + 1, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=timeout,
        limits=limits,
        trust_env=False,  # local calls never go through a proxy
    ) as client:

        async def worker() -> None:
            while not queue.empty() and not halted():
                i, checkout = queue.get_nowait()
                await gate(i)
                try:
                    await submit(client, checkout, stats, give_up_after_s, halted)
                finally:
                    stats.finished += 1

        by_id = {c.checkout_id: c for c in checkouts}
        reading = asyncio.create_task(reader(client, stats, by_id, READ_EVERY_S))
        try:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
