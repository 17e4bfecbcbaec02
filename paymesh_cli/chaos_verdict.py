"""The end of a `paymesh chaos` run: wait until every order is terminal, then judge.

The judgement is `paymesh check`'s (paymesh_cli.invariants, on the same PSP listing) plus what
only chaos knows: which checkouts its clients had accepted and with which card. Every accepted
order must exist and be terminal (SUCCESS for the card that pays, FAILED for the one that
declines) with its checkout done; the PSP must hold exactly one charge for each SUCCESS order
and none for any other order, and no charge for an order nobody asked for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mesh.db import async_url
from paymesh_cli.chaos_clients import Checkout
from paymesh_cli.invariants import CheckReport, run_checks

# Not terminal yet, or SUCCESS whose wallet credit or ledger posting is still on its way.
_UNSETTLED = (
    "status IN ('NOT_STARTED', 'EXECUTING', 'PENDING')"
    " OR (status = 'SUCCESS' AND NOT (wallet_updated AND ledger_updated))"
)


@dataclass
class Verdict:
    orders_by_status: dict[str, int] = field(default_factory=dict)
    unsettled: list[str] = field(default_factory=list)  # "<order> <status>" still on its way
    problems: list[str] = field(default_factory=list)  # what chaos itself found wrong
    check: CheckReport | None = None  # what `paymesh check` found
    settle_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.unsettled and not self.problems and self.check is not None and self.check.ok


async def _unsettled(engine: AsyncEngine) -> list[str]:
    from paymesh_cli.chaos_payouts import UNSETTLED_PAYOUTS

    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT payment_order_id, status FROM payment.payment_orders WHERE {_UNSETTLED}")
        )
        found = [f"{oid} {status}" for oid, status in rows]
        # A seller's release (pending -> available) is booked by the ledger from `wallet.moved`:
        # until it is, wallet and ledger disagree for a moment. After an outage of NATS the
        # releases whose hold ran out meanwhile all come at once, so wait for them too.
        moves = await conn.scalar(
            text(
                "SELECT count(*) FROM wallet.outbox o WHERE o.subject = 'wallet.moved'"
                " AND NOT EXISTS (SELECT 1 FROM ledger.inbox i"
                " WHERE i.consumer = 'ledger-wallet-move' AND i.event_id = o.event_id)"
            )
        )
        found += [f"wallet move not booked yet ({moves})"] if moves else []
        if await conn.scalar(text("SELECT to_regclass('payout.payouts') IS NOT NULL")):
            payouts = await conn.execute(
                text(f"SELECT payout_id, status FROM payout.payouts WHERE {UNSETTLED_PAYOUTS}")
            )
            found += [f"payout {pid} {status}" for pid, status in payouts]
        return found


async def wait_settled(
    engine: AsyncEngine, timeout_s: float, say: Callable[[str], None]
) -> list[str]:
    """Wait up to `timeout_s` until no order is on its way; returns those that still are."""
    deadline = time.monotonic() + timeout_s
    last_said = time.monotonic()
    while True:
        left = await _unsettled(engine)
        if not left or time.monotonic() >= deadline:
            return left
        if time.monotonic() - last_said >= 5:
            say(f"waiting for {len(left)} orders to settle, e.g. {left[0]}")
            last_said = time.monotonic()
        await asyncio.sleep(0.5)


async def judge(
    database_url: str,
    psp_api_base: str,
    psp_api_key: str,
    accepted: list[Checkout],
    settle_timeout_s: float,
    say: Callable[[str], None],
) -> Verdict:
    from payment_svc.adapters.stripe_psp import list_charges_by_order

    verdict = Verdict()
    engine = create_async_engine(async_url(database_url), pool_size=2)
    try:
        started = time.monotonic()
        verdict.unsettled = await wait_settled(engine, settle_timeout_s, say)
        verdict.settle_s = time.monotonic() - started
        charges = await list_charges_by_order(psp_api_key, psp_api_base)

        async def charges_by_order() -> dict[str, int]:
            return charges

        from payout_svc.adapters.stripe_payouts import list_payouts_by_id

        async def payouts_at_provider(
            destinations: list[str],
        ) -> dict[str, list[tuple[str, int, str]]]:
            return await list_payouts_by_id(psp_api_key, psp_api_base, destinations)

        verdict.check = await run_checks(
            database_url, charges_by_order, payouts_at_provider=payouts_at_provider
        )
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT o.payment_order_id, o.status, e.is_payment_done"
                        " FROM payment.payment_orders o JOIN payment.payment_events e"
                        " ON e.checkout_id = o.checkout_id"
                    )
                )
            ).all()
        orders = {oid: (status, done) for oid, status, done in rows}
        for _, status, _ in rows:
            verdict.orders_by_status[status] = verdict.orders_by_status.get(status, 0) + 1
        verdict.problems = _compare(accepted, orders, charges)
    finally:
        await engine.dispose()
    return verdict


def _compare(
    accepted: list[Checkout], orders: dict[str, tuple[str, bool]], charges: dict[str, int]
) -> list[str]:
    problems: list[str] = []
    for checkout in accepted:
        want = "FAILED" if checkout.declines else "SUCCESS"
        for oid in checkout.order_ids:
            status, done = orders.get(oid, ("MISSING", False))
            if status != want:
                problems.append(f"order {oid} is {status}, expected {want}")
            elif not done:
                problems.append(f"checkout {checkout.checkout_id} is not done")
    for oid, (status, _) in orders.items():
        n = charges.get(oid, 0)
        if n != (1 if status == "SUCCESS" else 0):
            problems.append(f"order {oid} is {status} with {n} PSP charges")
    for oid in sorted(set(charges) - set(orders)):
        problems.append(f"the PSP charged {oid}, which is no order of ours")
    return problems
