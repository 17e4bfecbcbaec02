"""The figures of an outage run of `paymesh chaos` (issue 12 asks for them): how long the
backlog took to drain once the victim was back, how many dead letters the run left, and which
alerts were raised and cleared.

The drain is measured per outage: when a victim is back, the orders created before that moment
and not yet settled are its backlog; the drain time is from the moment it is back until none of
them is left (polled every second, so to within a second or so)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import nats
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mesh.db import async_url
from mesh.dead_letters import read_dead_letters

_UNSETTLED = (
    "(status IN ('NOT_STARTED', 'EXECUTING', 'PENDING')"
    " OR (status = 'SUCCESS' AND NOT (wallet_updated AND ledger_updated)))"
)
POLL_S = 1.0


@dataclass
class Drain:
    victim: str
    down_s: float
    backlog: int = -1  # orders unsettled when the victim was back (-1: not measured)
    drain_s: float | None = None  # back -> backlog settled (None: not within the run)


@dataclass
class OutageFigures:
    drains: list[Drain] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)  # consumer -> count
    alerts_raised: dict[str, int] = field(default_factory=dict)  # kind -> alerts
    alerts_cleared: dict[str, int] = field(default_factory=dict)  # kind -> resolved ones
    unreadable: list[str] = field(default_factory=list)  # what could not be read, and why

    def lines(self) -> list[str]:
        out = []
        for d in self.drains:
            drained = "not within the run" if d.drain_s is None else f"{d.drain_s:.1f}s"
            out.append(
                f"  outage of {d.victim} ({d.down_s:.0f}s): backlog {d.backlog} orders when"
                f" back, drained in {drained}"
            )
        letters = sum(self.dead_letters.values())
        by_consumer = ", ".join(f"{c} {n}" for c, n in sorted(self.dead_letters.items()))
        out.append(f"  dead letters: {letters}{f' ({by_consumer})' if by_consumer else ''}")
        for what, table in (("raised", self.alerts_raised), ("cleared", self.alerts_cleared)):
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(table.items())) or "none"
            out.append(f"  alerts {what}: {kinds}")
        out += [f"  not read: {u}" for u in self.unreadable]
        return out


async def _backlog(engine: AsyncEngine, before: datetime) -> int | None:
    try:
        async with asyncio.timeout(5.0), engine.connect() as conn:
            n = await conn.scalar(
                text(
                    "SELECT count(*) FROM payment.payment_orders"
                    f" WHERE created_at <= :before AND {_UNSETTLED}"
                ),
                {"before": before},
            )
            return int(n or 0)
    except Exception:  # the database may be the next victim; try again next second
        return None


async def watch_drains(
    database_url: str,
    backs: Callable[[], list[tuple[str, float, float, datetime]]],
    figures: OutageFigures,
    say: Callable[[str], None],
) -> None:
    """Until cancelled: for each (victim, down_s, back monotonic, back UTC) the killer
    reports, measure its backlog and the time until it is drained."""
    engine = create_async_engine(
        async_url(database_url), pool_size=1, connect_args={"connect_timeout": 2}
    )
    try:
        seen = 0
        while True:
            for victim, down_s, back_at, back_utc in backs()[seen:]:
                seen += 1
                drain = Drain(victim, down_s)
                figures.drains.append(drain)
                while (left := await _backlog(engine, back_utc)) is None:  # noqa: ASYNC110
                    await asyncio.sleep(POLL_S)  # polled: the database may be down again
                drain.backlog = left
                while left:
                    await asyncio.sleep(POLL_S)
                    now_left = await _backlog(engine, back_utc)
                    if now_left is not None:  # None: the database is down again
                        left = now_left
                drain.drain_s = time.monotonic() - back_at
                say(f"backlog of the {victim} outage ({drain.backlog} orders) drained")
            await asyncio.sleep(POLL_S)
    finally:
        await engine.dispose()


async def read_leftovers(
    database_url: str,
    nats_url: str,
    nats_user: str,
    nats_password: str,
    figures: OutageFigures,
    alerts_wait_s: float,
) -> None:
    """Dead letters in the DLQ stream, and the alerts of the run: waits up to `alerts_wait_s`
    for those still open to be cleared (the services look every 10 s)."""
    try:
        nc = await nats.connect(
            servers=[nats_url], user=nats_user, password=nats_password, connect_timeout=5
        )
        try:
            for letter in await read_dead_letters(nc.jetstream(timeout=10)):
                figures.dead_letters[letter.consumer] = (
                    figures.dead_letters.get(letter.consumer, 0) + 1
                )
        finally:
            await nc.close()
    except Exception as err:
        figures.unreadable.append(f"dead letters: {type(err).__name__}: {err}")
    engine = create_async_engine(async_url(database_url), pool_size=1)
    try:
        deadline = time.monotonic() + alerts_wait_s
        while True:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(text("SELECT kind, state = 'resolved' FROM payment.alerts"))
                ).all()
            if all(resolved for _, resolved in rows) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(2.0)
        for kind, resolved in rows:
            figures.alerts_raised[kind] = figures.alerts_raised.get(kind, 0) + 1
            if resolved:
                figures.alerts_cleared[kind] = figures.alerts_cleared.get(kind, 0) + 1
    except Exception as err:
        figures.unreadable.append(f"alerts: {type(err).__name__}: {err}")
    finally:
        await engine.dispose()


def utc_now() -> datetime:
    return datetime.now(UTC)
