"""The load of `paymesh bench`: the checkouts it sends, closed loop (a fixed number of requests
in flight) or open loop (arrivals on a schedule), and how it watches them settle."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import click
import httpx


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Run:
    run_id: str
    checkouts: int
    orders_per_checkout: int
    post_latency_s: list[float] = field(default_factory=list)
    # Wall-clock times (time.time()), comparable with the database's clock on this machine.
    accepted_at: dict[str, float] = field(default_factory=dict)  # checkout_id -> accepted
    settled_at: dict[str, float] = field(default_factory=dict)  # payment_order_id -> settled
    failed_orders: dict[str, str] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    first_accept: float = 0.0
    last_accept: float = 0.0
    # Open loop: how late the generator itself sent requests (a client that cannot keep up
    # would otherwise hide a slow system), and when the last arrival was scheduled.
    send_lag_s: list[float] = field(default_factory=list)
    load_end: float = 0.0


def checkout_body(run: Run, i: int, rng: random.Random) -> dict[str, object]:
    checkout_id = f"bench-{run.run_id}-{i}"
    return {
        "checkout_id": checkout_id,
        "buyer_info": {"buyer_id": f"buyer-{i % 500}"},
        "payment_method": "pm_card_visa",
        "payment_orders": [
            {
                "payment_order_id": f"{checkout_id}-{k}",
                "seller_account": f"seller-{rng.randrange(50)}",
                "amount": str(Decimal(rng.randrange(100, 50000)).scaleb(-2)),
                "currency": "USD",
            }
            for k in range(run.orders_per_checkout)
        ],
    }


async def post_checkout(
    client: httpx.AsyncClient, run: Run, i: int, rng: random.Random, started: float
) -> None:
    """Send checkout `i`; its latency counts from `started` (the scheduled time, in open loop)."""
    body = checkout_body(run, i, rng)
    try:
        resp = await client.post(
            "/v1/payments", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        status = str(resp.status_code)
    except httpx.HTTPError as err:
        status = type(err).__name__
    done = time.time()
    if status == "202":
        run.post_latency_s.append(done - started)
        run.accepted_at[str(body["checkout_id"])] = done
        run.first_accept = min(run.first_accept or started, started)
        run.last_accept = max(run.last_accept, done)
    else:
        run.errors[status] = run.errors.get(status, 0) + 1


def report_progress(run: Run, progress: bool) -> None:
    n = len(run.accepted_at)
    if progress and n % 250 == 0 and n:
        click.echo(f"  accepted {n}/{run.checkouts} checkouts", err=True)


async def submit(client: httpx.AsyncClient, run: Run, concurrency: int, progress: bool) -> None:
    """Closed loop: `concurrency` requests in flight, each sent when the previous one returns."""
    rng = random.Random(run.run_id)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(run.checkouts):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await post_checkout(client, run, i, rng, time.time())
            report_progress(run, progress)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.load_end = time.time()


async def submit_open_loop(
    client: httpx.AsyncClient, run: Run, rate: float, progress: bool
) -> None:
    """Open loop: checkout `i` is due at start + i / rate whatever happened to the earlier ones,
    and its latency counts from that time, so a slow system cannot slow the load down and look
    fast (coordinated omission)."""
    rng = random.Random(run.run_id)
    start = time.time() + 0.05
    tasks: list[asyncio.Task[None]] = []
    for i in range(run.checkouts):
        due = start + i / rate
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        run.send_lag_s.append(max(0.0, time.time() - due))
        tasks.append(asyncio.create_task(post_checkout(client, run, i, rng, due)))
        report_progress(run, progress)
    run.load_end = start + run.checkouts / rate
    await asyncio.gather(*tasks)


async def watch_settlement_in_db(
    database_url: str, run: Run, submitting: asyncio.Task[None], timeout_s: float
) -> None:
    """Read settlement off the payment schema, one query every 250 ms, so that watching does not
    load the system under test: an order is settled at the `updated_at` of its last flag."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from mesh.db import async_url

    engine = create_async_engine(async_url(database_url), pool_size=1)
    query = text(
        "SELECT payment_order_id, status, failure_reason, extract(epoch FROM updated_at)"
        " FROM payment.payment_orders WHERE checkout_id LIKE :prefix AND (status = 'FAILED'"
        " OR (status = 'SUCCESS' AND wallet_updated AND ledger_updated))"
    )
    deadline = time.monotonic() + timeout_s
    expected = run.checkouts * run.orders_per_checkout
    last_report = 0.0
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                rows = (await conn.execute(query, {"prefix": f"bench-{run.run_id}-%"})).all()
            for oid, status, reason, at in rows:
                if status == "SUCCESS":
                    run.settled_at.setdefault(oid, float(at))
                else:
                    run.failed_orders.setdefault(oid, reason)
            accepted_orders = len(run.accepted_at) * run.orders_per_checkout
            finished = len(run.settled_at) + len(run.failed_orders)
            if submitting.done() and finished >= min(accepted_orders, expected):
                return
            if time.monotonic() - last_report > 2:
                last_report = time.monotonic()
                click.echo(f"  settled {len(run.settled_at)}/{expected} orders", err=True)
            await asyncio.sleep(0.25)
    finally:
        await engine.dispose()


async def watch_settlement(
    client: httpx.AsyncClient, run: Run, submitting: asyncio.Task[None], timeout_s: float
) -> None:
    """Without database access: poll checkouts that are not yet done, a few at a time, and
    stamp each order the first time it is seen settled."""
    deadline = time.monotonic() + timeout_s
    pending: set[str] = set()
    seen: set[str] = set()
    sem = asyncio.Semaphore(8)

    async def poll(checkout_id: str) -> None:
        async with sem:
            try:
                resp = await client.get(f"/v1/checkouts/{checkout_id}")
            except httpx.HTTPError:
                return
        if resp.status_code != 200:
            return
        now = time.time()
        checkout = resp.json()["checkout"]
        for order in checkout["payment_orders"]:
            oid = order["payment_order_id"]
            status = order["status"]
            if status.endswith("SUCCESS") and order["wallet_updated"] and order["ledger_updated"]:
                run.settled_at.setdefault(oid, now)
            elif status.endswith("FAILED"):
                run.failed_orders.setdefault(oid, order.get("failure_reason", ""))
        if checkout["is_payment_done"]:
            pending.discard(checkout_id)

    last_report = 0.0
    while time.monotonic() < deadline:
        for cid in run.accepted_at.keys() - seen:
            seen.add(cid)
            pending.add(cid)
        if not pending and submitting.done():
            return
        await asyncio.gather(*(poll(cid) for cid in list(pending)[:200]))
        if time.monotonic() - last_report > 2:
            last_report = time.monotonic()
            click.echo(
                f"  settled {len(run.settled_at)} orders, {len(pending)} checkouts in flight",
                err=True,
            )
        await asyncio.sleep(0.05)
