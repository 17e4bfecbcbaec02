"""`paymesh chaos`: pay checkouts through the gateway while processes of the stack are killed
with SIGKILL at random moments, then prove that nothing was lost, charged twice or misreported.

The stack runs as real processes in a fresh data dir (see chaos_stack); clients retry with the
same Idempotency-Key as real clients do (chaos_clients); a killer thread kills and revives
victims (payout_svc among them) (chaos_killer); after the checkouts, the sellers are released
and paid out (chaos_payouts); the end waits for every order and payout to be final and judges
(chaos_verdict: nothing lost, charged or paid twice).
Everything random comes from --seed, printed first, so a failing run can be run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import click
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mesh.db import async_url
from paymesh_cli.chaos_clients import ClientStats, plan_checkouts, run_clients
from paymesh_cli.chaos_figures import OutageFigures, read_leftovers, watch_drains
from paymesh_cli.chaos_killer import Killer, plan_kills
from paymesh_cli.chaos_payouts import pay_out_sellers
from paymesh_cli.chaos_report import reasons, summary
from paymesh_cli.chaos_stack import VICTIMS, ChaosStack
from paymesh_cli.chaos_verdict import Verdict, judge
from paymesh_cli.dev import DEV_PSP_API_KEY
from paymesh_cli.stack.nats import NatsError
from paymesh_cli.stack.postgres import PostgresError
from paymesh_cli.stack.processes import ProcessError

PROGRESS_EVERY_S = 5.0


class _Clock:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, message: str) -> None:
        click.echo(f"[{self.elapsed():6.1f}s] {message}")


async def _settled_count(engine) -> str:  # type: ignore[no-untyped-def]
    """Orders settled so far, or '?' while the database is down (it may be a victim)."""
    try:
        async with asyncio.timeout(2.0), engine.connect() as conn:
            n = await conn.scalar(
                text(
                    "SELECT count(*) FROM payment.payment_orders WHERE status = 'FAILED'"
                    " OR (status = 'SUCCESS' AND wallet_updated AND ledger_updated)"
                )
            )
        return str(n)
    except Exception:
        return "?"


async def _progress(
    clock: _Clock, database_url: str, stats: ClientStats, total: int, killer: Killer
) -> None:
    engine = create_async_engine(
        async_url(database_url), pool_size=1, connect_args={"connect_timeout": 2}
    )
    try:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            down = f" ({killer.current} down)" if killer.current else ""
            clock.say(
                f"accepted {len(stats.accepted)}/{total} checkouts, settled orders"
                f" {await _settled_count(engine)}, kills {killer.report.total}/{len(killer.plan)}"
                f"{down}, client retries {stats.retries}"
            )
    finally:
        await engine.dispose()


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_chaos(
    *,
    seed: int,
    checkouts: int,
    kills: int,
    victims: tuple[str, ...],
    concurrency: int,
    orders_per_checkout: int,
    decline_share: float,
    data_dir: Path,
    settle_timeout_s: float,
    give_up_after_s: float,
    clock: _Clock,
    outage_s: float = 0.0,
) -> bool:
    """One run; True when everything held. Stops every process it started, whatever happens."""
    say: Callable[[str], None] = clock.say
    plan = plan_kills(random.Random(f"{seed}:kills"), kills, checkouts, victims, outage_s)
    wanted = plan_checkouts(
        random.Random(f"{seed}:checkouts"),
        str(seed),
        checkouts,
        orders_per_checkout,
        decline_share,
    )
    stack = ChaosStack(data_dir)
    stats = ClientStats()
    traffic_over = threading.Event()
    killer = Killer(stack, plan, lambda: stats.finished, traffic_over, say)
    verdict: Verdict | None = None
    broken: str | None = None
    progress: asyncio.Task[None] | None = None
    drains: asyncio.Task[None] | None = None
    figures = OutageFigures() if outage_s > 0 else None
    try:
        say(f"starting the stack in {data_dir}…")
        await stack.start()
        say(f"stack ready: {stack.gateway_url}; {kills} kills planned")
        killer.start()
        progress = asyncio.create_task(
            _progress(clock, stack.database_url, stats, checkouts, killer)
        )
        if figures is not None:
            drains = asyncio.create_task(
                watch_drains(stack.database_url, lambda: killer.backs, figures, say)
            )

        async def gate(i: int) -> None:
            due = killer.kills_due_before(i, concurrency)
            # Polled: the killer is a thread, and the loop must not block on its events.
            while killer.fired < due and not killer.done.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.05)

        await run_clients(
            stack.gateway_url,
            stack.api_key(),
            wanted,
            stats,
            concurrency,
            give_up_after_s,
            gate,
            lambda: killer.report.error is not None,  # a victim did not come back: stop paying
        )
        traffic_over.set()
        say(f"traffic over: {len(stats.accepted)}/{checkouts} accepted; paying sellers out")
        by_id = {c.checkout_id: c for c in wanted}
        if killer.report.error is None:
            await pay_out_sellers(
                stack.gateway_url,
                stack.api_key(),
                [by_id[cid] for cid in stats.accepted],
                str(seed),
                give_up_after_s,
                say,
            )
        say("finishing the kills")
        await asyncio.to_thread(killer.done.wait)
        await _cancel(progress)  # from here on the verdict says what it waits for
        if killer.report.error is None:
            say("waiting for every order to be terminal…")
            by_id = {c.checkout_id: c for c in wanted}
            accepted = [by_id[cid] for cid in stats.accepted]
            verdict = await judge(
                stack.database_url,
                stack.psp_api_base,
                DEV_PSP_API_KEY,
                accepted,
                settle_timeout_s,
                say,
            )
            if figures is not None:
                await asyncio.sleep(2 * PROGRESS_EVERY_S)  # the last drain's last poll
                await _cancel(drains)
                say("reading dead letters and alerts (waiting up to 60 s for alerts to clear)…")
                user, password = stack.operator_nats_credentials()
                await read_leftovers(
                    stack.database_url, stack.nats_url, user, password, figures, 60.0
                )
    except (ProcessError, PostgresError, NatsError) as err:  # only start() raises these here
        broken = f"the stack did not start: {err}"
    except Exception as err:  # the end could not be judged: say so instead of a traceback
        broken = f"the run broke: {type(err).__name__}: {err}"
    finally:
        await _cancel(progress)
        await _cancel(drains)
        say("stopping the stack…")
        stack.stop()
        killer.release.set()
    why = reasons(checkouts, stats, killer.report, verdict, broken)
    click.echo(summary(seed, checkouts, stats, killer.report, verdict, clock.elapsed(), why))
    if figures is not None:
        click.echo("\n".join(["outage figures:", *figures.lines()]))
    return not why


class Duration(click.ParamType):
    """Seconds, or a number with a unit: "600", "90s", "10m"."""

    name = "duration"
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, int | float):
            return float(value)
        text_ = str(value).strip().lower()
        factor = self.units.get(text_[-1:], None)
        number = text_[:-1] if factor is not None else text_
        try:
            seconds = float(number) * (factor or 1.0)
        except ValueError:
            self.fail(f"{value!r} is not a duration (e.g. 600, 90s, 10m)", param, ctx)
        if seconds < 0:
            self.fail(f"{value!r} is negative", param, ctx)
        return seconds


@click.command("chaos")
@click.option("--checkouts", default=200, show_default=True, help="Checkouts to pay.")
@click.option("--kills", default=10, show_default=True, help="kill -9s to carry out.")
@click.option("--seed", type=int, default=None, help="Seed of the run (default: a random one).")
@click.option(
    "--victims",
    default=",".join(VICTIMS),
    show_default=True,
    help="Comma-separated processes that may be killed.",
)
@click.option("--concurrency", default=8, show_default=True, help="Clients paying at once.")
@click.option(
    "--outage",
    "outage_s",
    default="0",
    show_default=True,
    type=Duration(),
    help="Outage mode: each victim stays down this long (seconds, or 90s, 10m) instead of a "
    "random pause of 0.2-3 s; clients keep retrying and the settle timeout is stretched "
    "to outlast it. The run then also reports each outage's backlog and drain time, the "
    "dead letters left and the alerts raised and cleared.",
)
@click.option(
    "--orders-per-checkout", default=2, show_default=True, help="At most this many orders each."
)
@click.option(
    "--decline-share",
    default=0.15,
    show_default=True,
    help="Share of checkouts paid with a card the PSP declines.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Data dir of the run's stack (default: a fresh temporary one, removed if it passes).",
)
@click.option(
    "--settle-timeout",
    default=300.0,
    show_default=True,
    help="Seconds to wait at the end for every order to be terminal.",
)
@click.option(
    "--give-up-after",
    default=300.0,
    show_default=True,
    help="Seconds a client keeps retrying one checkout before it gives up.",
)
def chaos_command(
    checkouts: int,
    kills: int,
    seed: int | None,
    victims: str,
    concurrency: int,
    orders_per_checkout: int,
    decline_share: float,
    data_dir: Path | None,
    settle_timeout: float,
    give_up_after: float,
    outage_s: float,
) -> None:
    """Pay checkouts while killing processes of the stack (kill -9) at random moments; exit 0
    only if every order ended terminal, `paymesh check` holds, the PSP charged each SUCCESS
    order exactly once and nothing else, and no client got a wrong answer."""
    chosen = tuple(v.strip() for v in victims.split(",") if v.strip())
    unknown = sorted(set(chosen) - set(VICTIMS))
    if unknown or not chosen:
        raise click.BadParameter(f"choose among {', '.join(VICTIMS)}", param_hint="--victims")
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    only = "" if chosen == VICTIMS else f" --victims {','.join(chosen)}"
    if outage_s > 0:
        only += f" --outage {outage_s:g}"
        # A client must outlast the outage (a gateway down answers nothing), and so must the
        # wait at the end (an outage at the last checkout is still running when traffic ends).
        give_up_after = max(give_up_after, outage_s + 120.0)
        settle_timeout = max(settle_timeout, outage_s + 120.0)
    click.echo(
        f"paymesh chaos: seed {seed} (again: paymesh chaos --checkouts {checkouts}"
        f" --kills {kills} --seed {seed} --concurrency {concurrency}"
        f" --orders-per-checkout {orders_per_checkout}{only})"
    )
    temporary = data_dir is None
    run_dir = Path(tempfile.mkdtemp(prefix="paymesh-chaos-")) if temporary else data_dir
    run_dir = run_dir.resolve()

    async def main() -> bool:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await run_chaos(
            seed=seed,
            checkouts=checkouts,
            kills=kills,
            victims=chosen,
            concurrency=concurrency,
            orders_per_checkout=orders_per_checkout,
            decline_share=decline_share,
            data_dir=run_dir,
            settle_timeout_s=settle_timeout,
            give_up_after_s=give_up_after,
            clock=_Clock(),
            outage_s=outage_s,
        )

    try:
        passed = asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo(f"paymesh chaos: interrupted (seed {seed}); data in {run_dir}", err=True)
        raise SystemExit(130) from None
    if passed and temporary:
        shutil.rmtree(run_dir, ignore_errors=True)
    elif not passed:
        click.echo(f"logs and data kept in {run_dir}")
    raise SystemExit(0 if passed else 1)
