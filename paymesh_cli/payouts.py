"""`paymesh payouts run [--date D] [--json]`: a scheduled payout run through the gateway
(POST /v1/payout-runs): every seller whose schedule is due on the day and whose available
balance reaches its minimum is paid, once per seller, currency and period, however often the
run is made."""

from __future__ import annotations

import json
import uuid
from datetime import date

import click

from paymesh_cli.target import target_options


@click.group("payouts")
def payouts_group() -> None:
    """Pay-outs to sellers."""


@payouts_group.command("run")
@click.option("--date", "day", default=None, help="The run's day, YYYY-MM-DD (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print the run's answer as JSON.")
@target_options
def run_command(
    day: str | None,
    as_json: bool,
    data_dir,  # type: ignore[no-untyped-def]
    url: str | None,
    api_key: str | None,
    database_url: str | None,
) -> None:
    """Pay every seller due on the day; exit 1 when the gateway refuses the run."""
    import httpx

    from paymesh_cli.target import resolve_target

    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise click.BadParameter(
                f"{day!r} is not a YYYY-MM-DD date", param_hint="--date"
            ) from None
    target = resolve_target(data_dir, url, api_key, database_url)
    if not as_json:
        click.echo(f"paymesh payouts run: {day or 'today'} on {target.gateway_url} ...", err=True)
    reply = httpx.post(
        f"{target.gateway_url}/v1/payout-runs",
        json={"date": day} if day else {},
        headers={"Authorization": f"Bearer {target.api_key}", "Idempotency-Key": str(uuid.uuid4())},
        timeout=600,
    )
    if reply.status_code != 200:
        click.echo(reply.text, err=True)
        raise SystemExit(1)
    body = reply.json()
    if as_json:
        click.echo(json.dumps(body, indent=2))
        return
    payouts = body.get("payouts", [])
    for i, payout in enumerate(payouts, 1):
        status = payout["status"].removeprefix("PAYOUT_STATUS_")
        click.echo(
            f"  [{i}/{len(payouts)}] {payout['seller_account']} {payout.get('amount', '?')} "
            f"{payout['currency']}: {status} ({payout['payout_id']})"
        )
    for skipped in body.get("skipped", []):
        click.echo(f"  skipped {skipped}")
    click.echo(f"paymesh payouts run {body['date']}: {len(payouts)} payouts")
