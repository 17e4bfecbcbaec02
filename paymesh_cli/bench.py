"""`paymesh bench`: drive checkouts through the REST API of a running stack and print what a
payments engineer asks first: how many checkouts per second it accepts, how many orders per
second it settles (SUCCESS with wallet and ledger updated), the latency of POST /v1/payments,
the time from accept to settled, and whether the money invariants still hold afterwards."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import click
import httpx

from paymesh_cli.check import check_target, render
from paymesh_cli.target import Target, resolve_target, target_options


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


async def submit(client: httpx.AsyncClient, run: Run, concurrency: int, progress: bool) -> None:
    rng = random.Random(run.run_id)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(run.checkouts):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = checkout_body(run, i, rng)
            started = time.time()
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
                run.first_accept = run.first_accept or started
                run.last_accept = done
            else:
                run.errors[status] = run.errors.get(status, 0) + 1
            n = len(run.accepted_at)
            if progress and n % 250 == 0 and n:
                click.echo(f"  accepted {n}/{run.checkouts} checkouts", err=True)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


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


def summarise(run: Run) -> dict[str, object]:
    accepted = len(run.accepted_at)
    accept_window = max(run.last_accept - run.first_accept, 1e-9)
    order_accept = {
        f"{cid}-{k}": t
        for cid, t in run.accepted_at.items()
        for k in range(run.orders_per_checkout)
    }
    to_settle = [t - order_accept[o] for o, t in run.settled_at.items() if o in order_accept]
    settle_window = max((max(run.settled_at.values(), default=0) - run.first_accept), 1e-9)
    ms = 1000.0
    return {
        "checkouts": run.checkouts,
        "orders_per_checkout": run.orders_per_checkout,
        "accepted_checkouts": accepted,
        "errors": run.errors,
        "accepted_checkouts_per_s": round(accepted / accept_window, 1),
        "post_latency_ms": {
            "p50": round(percentile(run.post_latency_s, 50) * ms, 1),
            "p95": round(percentile(run.post_latency_s, 95) * ms, 1),
            "p99": round(percentile(run.post_latency_s, 99) * ms, 1),
        },
        "settled_orders": len(run.settled_at),
        "failed_orders": len(run.failed_orders),
        "settled_orders_per_s": round(len(run.settled_at) / settle_window, 1),
        "accept_to_settled_ms": {
            "p50": round(percentile(to_settle, 50) * ms, 1),
            "p99": round(percentile(to_settle, 99) * ms, 1),
        },
    }


def render_summary(s: dict[str, object]) -> str:
    lat = s["post_latency_ms"]
    settle = s["accept_to_settled_ms"]
    assert isinstance(lat, dict) and isinstance(settle, dict)
    return "\n".join(
        [
            f"paymesh bench: {s['checkouts']} checkouts x {s['orders_per_checkout']} orders",
            f"  accepted checkouts/s:  {s['accepted_checkouts_per_s']}"
            f"  ({s['accepted_checkouts']} accepted, errors: {s['errors'] or 'none'})",
            f"  settled orders/s:      {s['settled_orders_per_s']}"
            f"  ({s['settled_orders']} settled, {s['failed_orders']} failed)",
            f"  POST /v1/payments:     p50 {lat['p50']} ms  p95 {lat['p95']} ms"
            f"  p99 {lat['p99']} ms",
            f"  accept -> settled:     p50 {settle['p50']} ms  p99 {settle['p99']} ms",
        ]
    )


async def bench(
    target: Target,
    checkouts: int,
    per_checkout: int,
    concurrency: int,
    timeout_s: float,
    quiet: bool,
) -> tuple[dict[str, object], object]:
    run = Run(uuid.uuid4().hex[:8], checkouts, per_checkout)
    limits = httpx.Limits(
        max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8
    )
    async with httpx.AsyncClient(
        base_url=target.gateway_url,
        headers={"Authorization": f"Bearer {target.api_key}"},
        limits=limits,
        timeout=30.0,
    ) as client:
        submitting = asyncio.create_task(submit(client, run, concurrency, not quiet))
        if target.database_url:
            await watch_settlement_in_db(target.database_url, run, submitting, timeout_s)
        else:
            await watch_settlement(client, run, submitting, timeout_s)
        await submitting
    summary = summarise(run)
    report = await check_target(target, settle_timeout=30.0)
    summary["check"] = report.as_dict()
    return summary, report


@click.command("bench")
@target_options
@click.option("--checkouts", default=200, show_default=True, help="Checkouts to submit.")
@click.option("--orders-per-checkout", default=2, show_default=True, help="Sellers per checkout.")
@click.option("--concurrency", default=32, show_default=True, help="Requests in flight.")
@click.option("--timeout", "timeout_s", default=600.0, show_default=True, help="Seconds to wait.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def bench_command(
    data_dir: Path,
    url: str | None,
    api_key: str | None,
    database_url: str | None,
    checkouts: int,
    orders_per_checkout: int,
    concurrency: int,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Drive checkouts through POST /v1/payments and report throughput and latency."""
    if checkouts < 1 or orders_per_checkout < 1 or concurrency < 1:
        raise click.BadParameter("--checkouts, --orders-per-checkout and --concurrency must be ≥ 1")
    target = resolve_target(data_dir, url, api_key, database_url)
    if not (target.gateway_url and target.api_key):
        raise click.ClickException("bench needs the gateway: pass --url and --api-key")
    try:
        httpx.get(f"{target.gateway_url}/readyz", timeout=5).raise_for_status()
    except httpx.HTTPError as err:
        raise click.ClickException(
            f"the gateway at {target.gateway_url} is not ready ({err}): is `paymesh dev` running?"
        ) from None
    summary, report = asyncio.run(
        bench(target, checkouts, orders_per_checkout, concurrency, timeout_s, as_json)
    )
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(render_summary(summary))
        click.echo(render(report))  # type: ignore[arg-type]
    expected = checkouts * orders_per_checkout
    if not report.ok or summary["settled_orders"] != expected:  # type: ignore[attr-defined]
        sys.exit(1)
