"""`paymesh check`: verify the money invariants on a running stack; non-zero exit on any
violation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
import httpx
from sqlalchemy.exc import OperationalError

from paymesh_cli.invariants import CheckReport, run_checks
from paymesh_cli.target import Target, resolve_target, target_options


async def check_target(target: Target, settle_timeout: float) -> CheckReport:
    charges = None
    refunds = None
    payouts = None
    figures = None
    if target.psp_api_base:
        from recon_svc.adapters.stripe_reports import (
            PspBalanceFigures,
            StripeReportSettings,
            balance_figures,
        )

        async def figures() -> PspBalanceFigures:  # type: ignore[misc]
            settings = StripeReportSettings(target.psp_api_key, target.psp_api_base)
            return await asyncio.to_thread(balance_figures, settings)

        from payout_svc.adapters.stripe_payouts import list_payouts_by_id

        async def payouts(destinations: list[str]) -> dict[str, list[tuple[str, int, str]]]:  # type: ignore[misc]
            return await list_payouts_by_id(target.psp_api_key, target.psp_api_base, destinations)

        from payment_svc.adapters.stripe_psp import list_charges_by_order, list_refunds_by_id

        async def charges() -> dict[str, int]:  # type: ignore[misc]
            return await list_charges_by_order(target.psp_api_key, target.psp_api_base)

        async def refunds() -> dict[str, list[tuple[str, int, str]]]:  # type: ignore[misc]
            return await list_refunds_by_id(target.psp_api_key, target.psp_api_base)

    if not target.database_url:
        raise click.ClickException("no database URL: pass --database-url or --data-dir")
    try:
        return await run_checks(
            target.database_url,
            charges,
            settle_timeout=settle_timeout,
            refunds_at_psp=refunds,
            payouts_at_provider=payouts,
            psp_figures=figures,
        )
    except (OperationalError, OSError, httpx.TransportError) as err:
        raise click.ClickException(
            f"cannot reach the stack ({type(err).__name__}): is `paymesh dev` running?"
        ) from None


def render(report: CheckReport) -> str:
    lines = []
    for key, value in report.stats.items():
        lines.append(f"  {key}: {value}")
    for name in report.skipped:
        lines.append(f"  skipped: {name} (no data)")
    for v in report.violations:
        lines.append(f"  VIOLATION {v.invariant}: {v.detail}")
    verdict = "ok" if report.ok else f"FAILED ({len(report.violations)} violations)"
    return "\n".join([f"paymesh check: {verdict}", *lines])


@click.command("check")
@target_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--settle-timeout",
    default=10.0,
    show_default=True,
    help="Seconds to wait for orders in flight to settle before judging.",
)
def check_command(
    data_dir: Path,
    url: str | None,
    api_key: str | None,
    database_url: str | None,
    as_json: bool,
    settle_timeout: float,
) -> None:
    """Verify the money invariants: ledger balanced, wallets = ledger, one credit and one
    ledger transaction per successful order, no order charged twice, refunds within their
    order, reversed once in wallet and ledger, and matching the PSP's."""
    target = resolve_target(data_dir, url, api_key, database_url)
    report = asyncio.run(check_target(target, settle_timeout))
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else render(report))
    if not report.ok:
        raise SystemExit(1)
