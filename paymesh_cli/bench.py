"""`paymesh bench`: drive checkouts through the REST API of a running stack and print what a
payments engineer asks first: how many checkouts per second it accepts, how many orders per
second it settles (SUCCESS with wallet and ledger updated), the latency of POST /v1/payments,
the time from accept to settled, the CPU each process of the stack spent per settled order, and
whether the money invariants still hold afterwards.

Closed loop (`--concurrency C`) finds the saturated throughput; open loop (`--rate R
--duration S`) sends arrivals on a schedule and measures latency from the scheduled time, so a
slow system cannot hide by slowing the load down. `--baseline` runs pgbench on the same
PostgreSQL first and prints the ratio of settled orders/s to its transactions/s."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import click
import httpx

from paymesh_cli import bench_cpu
from paymesh_cli.bench_load import (
    Run,
    percentile,
    submit,
    submit_open_loop,
    watch_settlement,
    watch_settlement_in_db,
)
from paymesh_cli.check import check_target, render
from paymesh_cli.target import Target, resolve_target, target_options

# Not paymesh's own CPU: the sandbox stands for an outside PSP, the supervisor for Kubernetes.
NOT_PAYMESH = frozenset({"psp_sandbox", "paymesh dev"})


def summarise(run: Run) -> dict[str, object]:
    accepted = len(run.accepted_at)
    accept_window = max(run.last_accept - run.first_accept, 1e-9)
    order_accept = {
        f"{cid}-{k}": t
        for cid, t in run.accepted_at.items()
        for k in range(run.orders_per_checkout)
    }
    to_settle = [t - order_accept[o] for o, t in run.settled_at.items() if o in order_accept]
    last_settled = max(run.settled_at.values(), default=0.0)
    settle_window = max(last_settled - run.first_accept, 1e-9)
    # What was still queued when the load stopped, and how long the mesh took to drain it.
    queued_at_end = sum(
        1
        for o in order_accept
        if o not in run.failed_orders and run.settled_at.get(o, float("inf")) > run.load_end
    )
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
        "queued_orders_at_load_end": queued_at_end,
        "drain_after_load_s": round(max(0.0, last_settled - run.load_end), 2),
        "generator_send_lag_ms_p99": round(percentile(run.send_lag_s, 99) * ms, 1),
    }


def cpu_table(per_order: dict[str, float]) -> dict[str, object]:
    """CPU ms per settled order by process, and paymesh's own total (sandbox excluded)."""
    own = round(sum(v for k, v in per_order.items() if k not in NOT_PAYMESH), 2)
    return {"per_process": per_order, "paymesh_total": own}


def render_summary(s: dict[str, object]) -> str:
    lat = s["post_latency_ms"]
    settle = s["accept_to_settled_ms"]
    assert isinstance(lat, dict) and isinstance(settle, dict)
    lines = [
        f"paymesh bench ({s['mode']}): {s['checkouts']} checkouts x {s['orders_per_checkout']}"
        " orders",
        f"  accepted checkouts/s:  {s['accepted_checkouts_per_s']}"
        f"  ({s['accepted_checkouts']} accepted, errors: {s['errors'] or 'none'})",
        f"  settled orders/s:      {s['settled_orders_per_s']}"
        f"  ({s['settled_orders']} settled, {s['failed_orders']} failed)",
        f"  POST /v1/payments:     p50 {lat['p50']} ms  p95 {lat['p95']} ms  p99 {lat['p99']} ms",
        f"  accept -> settled:     p50 {settle['p50']} ms  p99 {settle['p99']} ms",
        f"  queued at load end:    {s['queued_orders_at_load_end']} orders,"
        f" drained {s['drain_after_load_s']} s after",
    ]
    if s.get("mode") == "open loop":
        lines.append(f"  generator lag p99:     {s['generator_send_lag_ms_p99']} ms")
    cpu = s.get("cpu_ms_per_settled_order")
    if isinstance(cpu, dict) and cpu.get("per_process"):
        lines.append("  CPU ms per settled order:")
        per = cpu["per_process"]
        assert isinstance(per, dict)
        for label, value in sorted(per.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {label:<14} {value:>8.2f}")
        lines.append(f"    {'paymesh total':<14} {cpu['paymesh_total']:>8.2f}  (sandbox excluded)")
    replicas = s.get("replicas")
    if isinstance(replicas, dict) and replicas:
        shown = ", ".join(f"{name} x{n}" for name, n in sorted(replicas.items()))
        lines.append(f"  replicas:              {shown} (CPU summed over each one's)")
    base = s.get("baseline")
    if isinstance(base, dict):
        lines.append(
            f"  pgbench (same PostgreSQL, {base['clients']} clients, {base['seconds']} s):"
            f" {base['pgbench_tps']} tps; settled orders/s / pgbench tps = {s['ratio_to_pgbench']}"
        )
    return "\n".join(lines)


def stack_ports(target: Target, data_dir: Path) -> tuple[int, int, int] | None:
    """Gateway, PostgreSQL and NATS ports of the target, when they are all on this machine."""
    from paymesh_cli.stackfile import StackInfo

    nats = ""
    try:
        nats = StackInfo.load(data_dir).nats_url
    except FileNotFoundError:
        pass
    urls = [urlsplit(u) for u in (target.gateway_url, target.database_url, nats)]
    if not all(u.port and u.hostname in {"127.0.0.1", "localhost", "::1"} for u in urls):
        return None
    return urls[0].port or 0, urls[1].port or 0, urls[2].port or 0


async def bench(
    target: Target,
    data_dir: Path,
    checkouts: int,
    per_checkout: int,
    concurrency: int,
    rate: float | None,
    timeout_s: float,
    quiet: bool,
) -> tuple[dict[str, object], object]:
    run = Run(uuid.uuid4().hex[:8], checkouts, per_checkout)
    # Open loop needs room for every request the schedule puts in flight at once.
    connections = concurrency + 8 if rate is None else 512
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    ports = stack_ports(target, data_dir)
    processes = bench_cpu.find_stack(*ports) if ports else None
    cpu_before = bench_cpu.sample(processes) if processes else {}
    async with httpx.AsyncClient(
        base_url=target.gateway_url,
        headers={"Authorization": f"Bearer {target.api_key}"},
        limits=limits,
        timeout=30.0,
    ) as client:
        load = (
            submit(client, run, concurrency, not quiet)
            if rate is None
            else submit_open_loop(client, run, rate, not quiet)
        )
        submitting = asyncio.create_task(load)
        if target.database_url:
            await watch_settlement_in_db(target.database_url, run, submitting, timeout_s)
        else:
            await watch_settlement(client, run, submitting, timeout_s)
        await submitting
    cpu_after = bench_cpu.sample(processes) if processes else {}
    summary: dict[str, object] = {"mode": "closed loop" if rate is None else "open loop"}
    summary.update(summarise(run))
    if rate is not None:
        summary["rate_checkouts_per_s"] = rate
    summary["cpu_ms_per_settled_order"] = cpu_table(
        bench_cpu.per_order_ms(cpu_before, cpu_after, len(run.settled_at))
    )
    # Processes per service when some run as several (`paymesh dev --replicas`): their CPU
    # above is the sum over the replicas.
    summary["replicas"] = processes.replicas() if processes else {}
    report = await check_target(target, settle_timeout=30.0)
    summary["check"] = report.as_dict()
    return summary, report


@click.command("bench")
@target_options
@click.option("--checkouts", default=200, show_default=True, help="Checkouts to submit.")
@click.option("--orders-per-checkout", default=2, show_default=True, help="Sellers per checkout.")
@click.option("--concurrency", default=32, show_default=True, help="Closed loop: in flight.")
@click.option("--rate", type=float, default=None, help="Open loop: checkouts per second.")
@click.option("--duration", type=float, default=None, help="Open loop: seconds of arrivals.")
@click.option("--baseline", is_flag=True, help="Run pgbench on the same PostgreSQL first.")
@click.option("--baseline-seconds", default=30, show_default=True, help="How long pgbench runs.")
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
    rate: float | None,
    duration: float | None,
    baseline: bool,
    baseline_seconds: int,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Drive checkouts through POST /v1/payments and report throughput, latency and CPU."""
    if (rate is None) != (duration is None):
        raise click.BadParameter("--rate and --duration go together (open loop)")
    if rate is not None and duration is not None:
        if rate <= 0 or duration <= 0:
            raise click.BadParameter("--rate and --duration must be positive")
        checkouts = max(1, round(rate * duration))
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
    base = None
    if baseline:
        if not target.database_url:
            raise click.ClickException("--baseline needs the stack's database (--database-url)")
        from paymesh_cli.bench_baseline import BaselineError, run_pgbench

        if not as_json:
            click.echo(f"  pgbench on the same PostgreSQL ({baseline_seconds} s) ...", err=True)
        try:
            base = run_pgbench(target.database_url, seconds=baseline_seconds)
        except BaselineError as err:
            raise click.ClickException(str(err)) from None
    started = time.monotonic()
    summary, report = asyncio.run(
        bench(
            target, data_dir, checkouts, orders_per_checkout, concurrency, rate, timeout_s, as_json
        )
    )
    summary["wall_s"] = round(time.monotonic() - started, 1)
    if base is not None:
        summary["baseline"] = base.as_dict()
        settled_per_s = summary["settled_orders_per_s"]
        assert isinstance(settled_per_s, float)
        summary["ratio_to_pgbench"] = round(settled_per_s / base.tps, 4)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(render_summary(summary))
        click.echo(render(report))  # type: ignore[arg-type]
    expected = checkouts * orders_per_checkout
    if not report.ok or summary["settled_orders"] != expected:  # type: ignore[attr-defined]
        sys.exit(1)
